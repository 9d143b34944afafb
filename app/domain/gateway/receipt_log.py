"""artifacts/costs/<run_id>.jsonl: one compact line per finished call, appended (O_APPEND keeps concurrent
writers' lines whole)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
MAX_OPEN = 64


def safe_run_id(run_id: str | None) -> str:
    if not run_id:
        return "default"
    name = _UNSAFE.sub("_", run_id)[:150].lstrip(".")
    return name or "default"


class ReceiptLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._checked: dict[str, float] = {}

    def path(self, run_id: str | None) -> Path:
        return self.directory / f"{safe_run_id(run_id)}.jsonl"

    def append(self, run_id: str | None, line: str) -> None:
        data = (line + "\n").encode()
        name = safe_run_id(run_id)
        with self._lock:
            if self._pid != os.getpid():  # forked (Celery prefork): the parent's descriptors are not ours to use
                self._fds.clear()
                self._pid = os.getpid()
            fd = self._fds.get(name)
            now = time.monotonic()
            if fd is not None and now - self._checked.get(name, 0.0) > 1.0:
                self._checked[name] = now  # at most one fstat a second per file
                if os.fstat(fd).st_nlink == 0:  # removed under us: start a new file
                    os.close(self._fds.pop(name))
                    fd = None
            if fd is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.directory / f"{name}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                self._fds[name] = fd
                if len(self._fds) > MAX_OPEN:
                    _, old = self._fds.popitem(last=False)
                    os.close(old)
            else:
                self._fds.move_to_end(name)
            os.write(fd, data)

    def find(self, run_id: str | None, receipt_id: str) -> str | None:
        """The line of a receipt, if it was written (for the sweeper: rare, so a scan is fine)."""
        path = self.path(run_id)
        if not path.exists():
            return None
        needle = f'{{"receipt_id":"{receipt_id}"'.encode()
        with path.open("rb") as f:
            for raw in f:
                if raw.startswith(needle):
                    return raw.decode().rstrip("\n")
        return None

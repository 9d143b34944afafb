"""The durable copy of the event stream (for the timeline and audit): every event, as recorded, appended to
`events_<YYYYMMDD>.jsonl` (UTC day of the event) under artifacts/hmi/events/; files older than the retention
are deleted. Idempotent by seq: a shipper that died between writing and moving the cursor resumes after the
last seq each file already holds."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.event_store import EventStore

log = logging.getLogger("pas.event_stream")
PREFIX = "events_"


class EventArchive:
    def __init__(
        self,
        store: EventStore,
        directory: Path,
        retention_days: int,
        lock: str,
        new_token: Callable[[], str],
    ) -> None:
        self._store = store
        self.directory = directory
        self._retention_days = retention_days
        self._lock = lock
        self._new_token = new_token
        self._pruned_day = ""

    def path(self, day: str) -> Path:
        return self.directory / f"{PREFIX}{day}.jsonl"

    def ship(self, batch: int = 2000) -> int:
        """Archives what the stream holds past the cursor; 0 when another shipper holds the lock."""
        if self._retention_days <= 0:
            return 0
        token = self._new_token()
        if not self._store.try_lock(self._lock, token, 30_000):
            return 0
        written = 0
        try:
            cursor = self._store.archived()
            tails: dict[str, int] = {}
            if cursor > self._store.last_seq():  # a flushed or new Redis: seq starts again at 1
                log.warning("archive_seq_reset", extra={"cursor": cursor, "last_seq": self._store.last_seq()})
                self._mark_reset()
                cursor = 0
                self._store.mark_archived(0)
            while bodies := self._store.after(cursor, batch):
                if cursor and json.loads(bodies[0])["seq"] > cursor + 1:
                    log.warning("archive_gap", extra={"after": cursor, "next": json.loads(bodies[0])["seq"]})
                by_day: dict[str, list[str]] = {}
                for body in bodies:
                    event = json.loads(body)
                    day = datetime.fromtimestamp(int(event["ts_ms"]) / 1000, UTC).strftime("%Y%m%d")
                    if day not in tails:
                        tails[day] = self._last_seq(self.path(day))
                    if int(event["seq"]) > tails[day]:
                        by_day.setdefault(day, []).append(body)
                    cursor = int(event["seq"])
                self.directory.mkdir(parents=True, exist_ok=True)
                for day, lines in by_day.items():
                    _append(self.path(day), lines)
                    tails[day] = int(json.loads(lines[-1])["seq"])
                    written += len(lines)
                self._store.mark_archived(cursor)
            self._prune()
        finally:
            self._store.unlock(self._lock, token)
        if written:
            log.info("events_archived", extra={"count": written, "last_seq": cursor})
        return written

    def _mark_reset(self) -> None:
        """A line that tells the dedup below to count seqs from 0 again from here on."""
        self.directory.mkdir(parents=True, exist_ok=True)
        marker = json.dumps({"archive_reset": True, "ts_ms": int(time.time() * 1000)})
        _append(self.path(time.strftime("%Y%m%d", time.gmtime(time.time()))), [marker])

    @staticmethod
    def _last_seq(path: Path) -> int:
        """The seq of a file's last whole line (reads only its tail)."""
        if not path.exists():
            return 0
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().splitlines()
        for raw in reversed(lines):
            try:
                line = json.loads(raw)
                if isinstance(line, dict) and line.get("archive_reset"):
                    return 0  # seqs restarted here, and nothing since
                return int(line["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line (killed mid-write): the one before it counts
        return 0

    def _prune(self) -> None:
        today = time.strftime("%Y%m%d", time.gmtime(time.time()))
        if self._pruned_day == today or not self.directory.exists():
            return
        oldest = (datetime.fromtimestamp(time.time(), UTC) - timedelta(days=self._retention_days)).strftime("%Y%m%d")
        for path in self.directory.glob(f"{PREFIX}*.jsonl"):
            day = path.stem[len(PREFIX) :]
            if day.isdigit() and len(day) == 8 and day < oldest:
                path.unlink(missing_ok=True)
                log.info("events_archive_pruned", extra={"file": path.name})
        self._pruned_day = today


def _append(path: Path, lines: list[str]) -> None:
    """Whole lines at the end; a torn last line (a writer killed mid-line) is closed off first."""
    torn = False
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
    with path.open("a", encoding="utf-8") as f:
        f.write(("\n" if torn else "") + "\n".join(lines) + "\n")

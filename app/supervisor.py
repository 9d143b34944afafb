"""`pas up`: start, supervise and stop PAS's processes in the foreground, one prefixed log stream."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO

COLORS = ["36", "32", "35", "33", "34", "31"]


@dataclass
class Child:
    name: str
    argv: list[str]
    # Restarted with backoff (first_backoff_s, doubling, at most 5 s); more than max_restarts in a minute
    # stops PAS. The store gets many quick ones: the others reconnect to it and only see a few 503s meanwhile.
    first_backoff_s: float = 0.5
    max_restarts: int = 5
    env: dict[str, str] = field(default_factory=dict)  # this child's own additions to the shared environment
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)
    restart_at: float | None = None


class Supervisor:
    def __init__(self, env: dict[str, str], cwd: str, out: IO[str] = sys.stdout) -> None:
        self.env = env
        self.cwd = cwd
        self.out = out
        self.children: list[Child] = []
        self.stopping = False
        self.selector = selectors.DefaultSelector()
        self.color = sys.stdout.isatty()

    def log(self, name: str, line: str) -> None:
        width = max([len(c.name) for c in self.children] + [len(name), 4])
        tag = f"{name:<{width}} |"
        if self.color:
            idx = [c.name for c in self.children].index(name) if name in [c.name for c in self.children] else 0
            tag = f"\033[{COLORS[idx % len(COLORS)]}m{tag}\033[0m"
        self.out.write(f"{tag} {line}\n")
        self.out.flush()

    def spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.argv,
            cwd=self.cwd,
            env={**self.env, **child.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        assert child.process.stdout is not None
        os.set_blocking(child.process.stdout.fileno(), False)
        self.selector.register(child.process.stdout, selectors.EVENT_READ, child)
        if child not in self.children:
            self.children.append(child)
        self.log("pas", f"started {child.name} (pid {child.process.pid})")

    def _pump(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            child: Child = key.data
            stream = key.fileobj
            try:
                chunk = stream.read()  # type: ignore[union-attr]
            except (BlockingIOError, ValueError):
                continue
            if not chunk:
                self.selector.unregister(stream)
                continue
            for line in chunk.decode(errors="replace").splitlines():
                self.log(child.name, line)

    def run(self) -> int:
        def _stop(signum: int, _frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        code = 0
        while not self.stopping:
            self._pump(0.2)
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.restart_at = None
                        self.spawn(child)
                    continue
                if child.process is None or child.process.poll() is None:
                    continue
                self.log("pas", f"{child.name} exited with {child.process.returncode}")
                child.restarts = [t for t in child.restarts if now - t < 60] + [now]
                if len(child.restarts) > child.max_restarts:
                    self.log("pas", f"{child.name} keeps failing; stopping PAS")
                    self.stopping, code = True, 1
                    break
                delay = min(5.0, child.first_backoff_s * 2 ** (len(child.restarts) - 1))
                self.log("pas", f"restarting {child.name} in {delay:.1f}s")
                child.restart_at = now + delay
        self.shutdown()
        return code

    def shutdown(self) -> None:
        self.log("pas", "stopping")
        for child in reversed(self.children):
            p = child.process
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
            self._pump(0)
        self.log("pas", "stopped")

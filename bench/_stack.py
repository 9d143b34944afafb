"""A private PAS for a benchmark, started exactly as in production: embedded Valkey, gunicorn + gevent on every
port (shifted by an offset), a Celery worker and beat. Stopped on exit, whatever happens."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.valkey import EmbeddedValkey  # noqa: E402
from config.ports import SERVICES  # noqa: E402

BIN = Path(sys.executable).parent


def free_offset() -> int:
    """An offset under which every PAS port is free, all below Linux's ephemeral range (32768-60999): there, any
    process's client connections (and their TIME_WAITs, for a minute) take ports the web could not bind."""
    ports = [6100, *(s.port for s in SERVICES)]
    for _ in range(100):
        offset = 2100 + (uuid.uuid4().int % 226) * 100  # ports 8200-32703, as tests/support.py picks them
        try:
            for p in ports:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
                    s.bind(("127.0.0.1", p + offset))
            return offset
        except OSError:
            continue
    raise RuntimeError("no free port offset")


class Stack:
    def __init__(self, worker_concurrency: int = 2, **env: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pas-bench-"))
        self.offset = free_offset()
        self.valkey = EmbeddedValkey(self.tmp / "valkey")
        # PAS_WEB_WORKERS may be set to compare; nothing else of the caller's PAS_* settings leaks in.
        keep = {"PAS_WEB_WORKERS"}
        self.env = {k: v for k, v in os.environ.items()
                    if (not k.startswith("PAS_") or k in keep) and k not in ("REDIS_URL", "DATABASE_URL")}  # fmt: skip
        self.env.update(
            PYTHONPATH=str(ROOT), PAS_KEY_PREFIX=f"bench{uuid.uuid4().hex[:6]}", PAS_PORT_OFFSET=str(self.offset),
            PAS_ARTIFACTS_DIR=str(self.tmp / "artifacts"), PAS_LOG_LEVEL="WARNING",
            PAS_DOCS_DIR=str(self.tmp / "docs"), **env,
        )  # fmt: skip
        self.worker_concurrency = worker_concurrency
        self.procs: list[subprocess.Popen[bytes]] = []
        self.named: dict[str, tuple[list[str], dict[str, str]]] = {}  # name -> how to start it again
        self.by_name: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, port: int, path: str = "") -> str:
        return f"http://127.0.0.1:{port + self.offset}{path}"

    def _spawn(self, name: str, argv: list[str], **env: str) -> None:
        log = (self.tmp / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        self.named[name] = (argv, env)
        self.by_name[name] = proc

    def kill9(self, name: str) -> None:
        """SIGKILL to the named process's whole group (gunicorn's master and workers, a pool and its children)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.by_name[name].pid, signal.SIGKILL)
        self.by_name[name].wait(10)

    def restart(self, name: str) -> None:
        """Start the named process again, as it was started (its output appended to the same log)."""
        argv, env = self.named[name]
        self._spawn(name, argv, **env)

    def spawn(self, name: str, argv: list[str], **env: str) -> None:
        """One more process of the stack (a model worker, say), its output in <tmp>/<name>.log; stopped with
        the rest."""
        self._spawn(name, argv, **env)

    def __enter__(self) -> Stack:
        self.valkey.start()
        self.env["REDIS_URL"] = self.valkey.url
        subprocess.run([str(BIN / "pas"), "db", "create"], cwd=ROOT, env=self.env, check=True)
        self._spawn("web", [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"])
        queues = f"{self.env['PAS_KEY_PREFIX']}.default,{self.env['PAS_KEY_PREFIX']}.jobs"
        self._spawn("worker", [str(BIN / "celery"), "-A", "app.worker", "worker", "--pool", "prefork",
                               "--concurrency", str(self.worker_concurrency), "--queues",
                               queues, "--without-heartbeat", "--without-mingle",
                               "--without-gossip", "--loglevel", "WARNING"])  # fmt: skip
        self._spawn("beat", [str(BIN / "celery"), "-A", "app.worker", "beat", "--scheduler",
                             "app.celery_beat:OutageProofRedBeatScheduler", "--loglevel", "WARNING"])  # fmt: skip
        wait_healthy(self.url(6100, "/health"), 60, f"PAS did not start; see {self.tmp}")
        return self

    def __exit__(self, *exc: object) -> None:
        for p in reversed(self.procs):
            if p.poll() is not None:
                continue
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for p in self.procs:
            if p.poll() is not None:
                continue
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        self.valkey.stop()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def wait_healthy(url: str, timeout_s: float, failure: str) -> None:
    """Until `url` answers 200, or RuntimeError(failure) after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.1)


@contextlib.contextmanager
def mock_upstream() -> Iterator[int]:
    """The fast mock OpenAI upstream (bench/mock_upstream.py) in its own process; yields its port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = Path(tempfile.mkdtemp(prefix="pas-mock-")) / "mock.log"
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "mock_upstream.py")], cwd=ROOT,
                            env={**os.environ, "MOCK_PORT": str(port)}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", 20, f"the mock upstream did not start; see {log}")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)

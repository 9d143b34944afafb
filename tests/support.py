"""Real parts for the tests: a private Valkey (or the machine's Redis when REDIS_URL is set), processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_offset_with_free_ports() -> int:
    """An offset under which the main port and every legacy port are free. All of them stay below Linux's
    ephemeral range (32768-60999): there, a client connection opened after this check (any process's) may take a
    port before the web binds it ("Address already in use")."""
    from config.ports import SERVICES

    ports = [6100, *(s.port for s in SERVICES)]
    for _ in range(50):
        offset = 2100 + (uuid.uuid4().int % 226) * 100  # 2100-24600: ports 8200-32703
        socks = []
        try:
            for p in ports:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p + offset))
                socks.append(s)
            return offset
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port offset")


def unique_prefix(tag: str = "t") -> str:
    return f"{tag}{uuid.uuid4().hex[:10]}"


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_http(url: str, timeout: float = 30.0) -> None:
    def ok() -> bool:
        try:
            return requests.get(url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    wait_until(ok, timeout, 0.1, f"HTTP {url}")


class Proc:
    """A child process with its output in a log file, stopped (process group) on close."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("wb")
        self.p = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.p.poll() is None

    def send(self, sig: int) -> None:
        os.killpg(self.p.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.p.pid, sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(10)
        self._log.close()
        return self.p.returncode

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


def start_web(name: str, env: dict[str, str], log_dir: Path) -> Proc:
    """The production web process (gunicorn with config/gunicorn.conf.py), after creating its tables."""
    subprocess.run([PYTHON, "-m", "app.cli", "db", "create"], cwd=ROOT, env=env, check=True, timeout=60)
    return Proc(name, [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"], env, log_dir)


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (a stand-in for Redis or a metadata
    service: where a followed redirect would land) and answers each with a bare HTTP 200."""

    def __init__(self) -> None:
        self.hits = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            self.hits += 1
            with conn, contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                             b"Connection: close\r\n\r\n{}")  # fmt: skip

    def close(self) -> None:
        self._sock.close()


def redis_values(client: Any, prefix: str) -> str:
    """Every key under `prefix` with its value, as text (the broker, the result backend, PAS's own state)."""
    out = []
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        value: Any = {
            "string": client.get,
            "hash": client.hgetall,
            "list": lambda k: client.lrange(k, 0, -1),
            "set": client.smembers,
            "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
            "stream": client.xrange,
        }.get(kind, lambda k: None)(key)
        out.append(f"{key!r} {value!r}")
    return "\n".join(out)


def store_snapshot(app: Any) -> dict[str, object]:
    """Everything an app's requests can write (RELIABILITY V7): every Redis key under its prefix with its value, and
    every SQL row of its deployment (each table's `origin`: a run's other apps and the session's live worker share
    the database, never an origin)."""
    from sqlalchemy import select

    from app.extensions import db

    r = app.extensions["redis"]
    prefix = app.extensions["settings"].pas_key_prefix
    out: dict[str, object] = {}
    for key in sorted(r.scan_iter(f"{prefix}:*")):
        kind = r.type(key)
        if kind == "hash":
            out[key] = r.hgetall(key)
        elif kind == "set":
            out[key] = sorted(r.smembers(key))
        elif kind == "zset":
            out[key] = r.zrange(key, 0, -1, withscores=True)
        elif kind == "string":
            out[key] = r.get(key)
        elif kind == "stream":
            out[key] = r.xlen(key)
    with app.app_context():
        tables = db.metadata.sorted_tables
        assert {t.name for t in tables} >= {"jobs", "receipts", "alerts", "summaries"}  # create_tables ran
        for table in tables:
            assert "origin" in table.c, f"{table.name} has no origin column: V7 cannot tell its rows apart"
            query = select(table).where(table.c.origin == prefix).order_by(*table.primary_key.columns)
            out[f"sql {table.name}"] = [tuple(row) for row in db.session.execute(query)]
    return out


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAS_")}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


def own_model_service(item: dict) -> bool:
    """A registry record of PAS's own model services (a vendor adapter or a local model: labels.provider)."""
    return isinstance(item.get("labels"), dict) and "provider" in item["labels"]

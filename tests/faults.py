"""Fault injection for the reliability tests (RELIABILITY's catalogue): kill -9, SIGSTOP/SIGCONT, a Valkey restart
on the same append-only file, and a Redis connection dropped under live clients (a TCP proxy that cuts and refuses).

Every fault is done to a real process or a real socket; nothing here patches the code under test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Protocol

import redis

from app.valkey import EmbeddedValkey, wait_ready


class Signalled(Protocol):
    """A process whose whole group can be signalled (tests.support.Proc)."""

    def send(self, sig: int) -> None: ...

    def alive(self) -> bool: ...


def kill9(proc: Signalled) -> None:
    """SIGKILL to the process group: no handler runs, nothing is flushed or acknowledged."""
    with contextlib.suppress(ProcessLookupError):
        proc.send(signal.SIGKILL)


def kill9_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def frozen(proc: Signalled) -> Iterator[None]:
    """SIGSTOP for the block, SIGCONT after it (also when the block fails): the process is alive but silent."""
    proc.send(signal.SIGSTOP)
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.send(signal.SIGCONT)


def restart_valkey(valkey: EmbeddedValkey, down_s: float = 0.0, kill: bool = True) -> float:
    """kill -9 (or SIGTERM) the Valkey, keep it down for `down_s`, start it again on the same port and the same
    append-only file. Returns how long it was unreachable, in seconds.

    The kill comes once every write acknowledged so far is on disk (WAITAOF): `appendfsync everysec` may lose the
    last second (RELIABILITY decision 9, the budget PAS accepts), and a busy disk makes Valkey postpone its AOF
    writes past the replies; what is under test is everything acknowledged before that second."""
    client = redis.Redis.from_url(valkey.url)
    try:
        client.incr("pas-faults:aof-sync")  # WAITAOF waits for this client's own last write, and all before it
        client.execute_command("WAITAOF", 1, 0, 5000)
    finally:
        client.close()
    started = time.monotonic()
    valkey.stop(kill=kill)
    if down_s:
        time.sleep(down_s)
    valkey.start()
    return time.monotonic() - started


class TcpProxy:
    """127.0.0.1:<port> → target, byte for byte, until `drop()`: then every live connection is cut and new ones
    are refused (accepted and closed at once) for the given seconds — a Redis connection dropped, as a network
    would, without touching the server behind it. Point the code under test at `url`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        self._refuse_until = 0.0
        self._closed = False
        self.drops = 0
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    @classmethod
    def to_redis(cls, redis_url: str) -> TcpProxy:
        from urllib.parse import urlsplit

        parts = urlsplit(redis_url)
        return cls(parts.hostname or "127.0.0.1", parts.port or 6379)

    def url(self, db: int | str = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._refuse_until:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        self._cut(pair)

    def _cut(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._pairs.discard(pair)
        for s in pair:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def drop(self, refuse_s: float = 0.0) -> None:
        """Cut every live connection now; refuse new ones for `refuse_s` seconds."""
        self._refuse_until = time.monotonic() + refuse_s
        self.drops += 1
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            self._cut(pair)

    @contextlib.contextmanager
    def dropped(self, seconds: float) -> Iterator[None]:
        """The connection is gone for the block's duration (at least `seconds`), then dialling works again."""
        self.drop(refuse_s=seconds)
        started = time.monotonic()
        try:
            yield
        finally:
            left = seconds - (time.monotonic() - started)
            if left > 0:
                time.sleep(left)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        self.drop()


def wait_valkey(url: str, timeout_s: float = 15.0) -> None:
    wait_ready(url, timeout_s)

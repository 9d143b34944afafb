"""Hot scripts (the gateway's, the heartbeat) on a small set of plain connections of their own: EVALSHA straight
on the socket, without redis-py's per-command pool checkout (a poll syscall, metrics, a retry wrapper). At most
`max_open` such connections exist; past that a call takes the client's pool like any other command (waiting for a
free connection there), so a burst never opens more sockets than the two bounds together. The connections are
made apart from the pool: they never take one of its slots. One retry, and only when a reused idle connection
turns out broken; only scripts a resend cannot harm use this (the gateway's are idempotent per receipt id; a
heartbeat sent twice is one heartbeat)."""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from redis.exceptions import NoScriptError


class FastScript:
    def __init__(self, client: redis.Redis, source: str, max_open: int = 64) -> None:
        self._pool = client.connection_pool
        self._script = client.register_script(source)
        self._free: list[Any] = []
        self._open = 0
        self._lock = threading.Lock()  # gevent patches it into a cooperative one
        self._pid = os.getpid()
        self._max_open = max_open

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours
            self._free, self._open, self._pid = [], 0, os.getpid()
        with self._lock:
            conn: Any = self._free.pop() if self._free else None
            if conn is None:
                if self._open >= self._max_open:
                    conn = False
                else:
                    self._open += 1
        if conn is False:  # all of ours are busy: the pool's path, which waits for a free connection
            return self._script(keys=keys, args=args)
        if conn is None:
            return self._attempt(self._new(), keys, args)
        try:
            return self._attempt(conn, keys, args)
        except redis.ConnectionError:
            # An idle connection Redis dropped (a restart, a timeout): once more on a new one (harmless: see above).
            with self._lock:
                self._open += 1
            return self._attempt(self._new(), keys, args)

    def _new(self) -> Any:
        return self._pool.connection_class(**self._pool.connection_kwargs)

    def _attempt(self, conn: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            reply = self._run(conn, keys, args)
        except BaseException:
            conn.disconnect()
            with self._lock:
                self._open -= 1
            raise
        with self._lock:
            self._free.append(conn)
        return reply

    def _run(self, conn: Any, keys: list[str], args: list[Any]) -> Any:
        conn.send_command("EVALSHA", self._script.sha, len(keys), *keys, *args)
        try:
            return conn.read_response()
        except NoScriptError:  # a restarted or flushed Redis: load it again
            conn.send_command("EVAL", self._script.script, len(keys), *keys, *args)
            return conn.read_response()

"""Hot scripts (the gateway's, the heartbeat) on a small free list of plain connections: EVALSHA straight on
the socket, without redis-py's per-command pool checkout (a poll syscall, metrics, a retry wrapper). One retry,
and only when a reused idle connection turns out broken; only scripts a resend cannot harm use this (the
gateway's are idempotent per receipt id; a heartbeat sent twice is one heartbeat)."""

from __future__ import annotations

import os
from typing import Any

import redis
from redis.exceptions import NoScriptError


class FastScript:
    def __init__(self, client: redis.Redis, source: str, max_idle: int = 64) -> None:
        self._pool = client.connection_pool
        self._script = client.register_script(source)
        self._free: list[Any] = []
        self._pid = os.getpid()
        self._max_idle = max_idle

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours
            self._free, self._pid = [], os.getpid()
        try:
            conn: Any = self._free.pop()
        except IndexError:
            return self._attempt(self._pool.make_connection(), keys, args)
        try:
            return self._attempt(conn, keys, args)
        except redis.ConnectionError:
            # An idle connection Redis dropped (a restart, a timeout): once more on a new one (harmless: see above).
            return self._attempt(self._pool.make_connection(), keys, args)

    def _attempt(self, conn: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            reply = self._run(conn, keys, args)
        except BaseException:
            conn.disconnect()
            raise
        if len(self._free) < self._max_idle:
            self._free.append(conn)
        else:
            conn.disconnect()
        return reply

    def _run(self, conn: Any, keys: list[str], args: list[Any]) -> Any:
        conn.send_command("EVALSHA", self._script.sha, len(keys), *keys, *args)
        try:
            return conn.read_response()
        except NoScriptError:  # a restarted or flushed Redis: load it again
            conn.send_command("EVAL", self._script.script, len(keys), *keys, *args)
            return conn.read_response()

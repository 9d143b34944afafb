"""Live emission: recorded events (already in the Redis stream) go to browsers through the Socket.IO
message queue, so Celery workers and every web process emit alike. At most once; clients recover gaps by seq.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import socketio

from app.domain.events import envelope

log = logging.getLogger("pas.events")


class LiveClients:
    """Socket.IO clients connected to this process (each web process counts its own)."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def add(self, delta: int) -> None:
        with self._lock:
            self._n = max(0, self._n + delta)

    def count(self) -> int:
        return self._n


LIVE_CLIENTS = LiveClients()


class SocketIOEmitter:
    def __init__(self, redis_url: str, channel: str) -> None:
        self._url = redis_url
        self._channel = channel
        self._manager: Any = None
        self._pid = 0

    def _get(self) -> Any:
        # Made on first use in each process (after Celery's fork; after gevent's patch).
        if self._manager is None or self._pid != os.getpid():
            self._manager = socketio.RedisManager(self._url, channel=self._channel, write_only=True)
            self._pid = os.getpid()
        return self._manager

    def emit(self, bodies: list[str]) -> None:
        if not bodies:
            return
        try:
            manager = self._get()
            for body in bodies:
                manager.emit("event", envelope(body), namespace="/")
        except Exception:  # live push is best effort: the stream already holds the event
            log.warning("emit_failed", exc_info=True)

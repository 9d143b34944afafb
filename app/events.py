"""Live emission: recorded events (already in the Redis stream) go to browsers through the Socket.IO
message queue, so Celery workers and every web process emit alike. At most once; clients recover gaps by seq.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import socketio

from app.domain.events import envelope, rooms

log = logging.getLogger("pas.events")
LISTEN_RETRY_START_S = 0.2
LISTEN_RETRY_MAX_S = 1.0  # Redis is local and cheap to dial: at most 1 s deaf after it is back


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


class _BatchingRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """Socket.IO's own message format, but one pipelined round trip for a batch of emits."""

    _batch: list[str] | None = None
    _batching = threading.Lock()  # request threads (threading mode) and the background emitter share one

    def _publish(self, data: Any) -> Any:
        if self._batch is None:
            return super()._publish(data)
        self._batch.append(self.json.dumps(data))
        return None

    def emit_batch(self, envelopes: list[dict[str, Any]]) -> None:
        with self._batching:
            self._emit_batch(envelopes)

    def _emit_batch(self, envelopes: list[dict[str, Any]]) -> None:
        self._batch = []
        try:
            for env in envelopes:
                # One PUBLISH per event; each client gets it once, through "all" or its topic's room.
                self.emit("event", env, namespace="/", to=rooms(env["event_type"]))
            batch, self._batch = self._batch, None
            if not self.connected:
                self._redis_connect()
            pipe = self.redis.pipeline(transaction=False)
            for message in batch:
                pipe.publish(self.channel, message)
            pipe.execute()
        finally:
            self._batch = None


class ListeningRedisManager(socketio.RedisManager):  # type: ignore[misc]
    """A web process's Socket.IO message-queue listener that is back within 0.2-1 s of Redis (RELIABILITY S4).

    python-socketio's loop waits 1 s, then 2, 4 … up to 60 s between attempts (a long Valkey outage left a web deaf
    for a minute after Valkey was back), and it drops a pubsub without closing it: when redis-py had reconnected
    and resubscribed it before giving up, that connection stayed subscribed and unread (PUBSUB NUMSUB counted it,
    its output buffer grew; python-socketio #1581). Here each attempt closes the previous pubsub first."""

    def _redis_listen_with_retries(self) -> Iterator[Any]:
        retry_s = LISTEN_RETRY_START_S
        while True:
            try:
                if self.pubsub is not None:
                    with contextlib.suppress(Exception):
                        self.pubsub.close()
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                log.info("socketio_listener_subscribed", extra={"channel": self.channel})
                retry_s = LISTEN_RETRY_START_S
                yield from self.pubsub.listen()
            except Exception as exc:
                log.warning("socketio_listener_lost", extra={"error": type(exc).__name__, "retry_s": retry_s})
                time.sleep(retry_s)
                retry_s = min(LISTEN_RETRY_MAX_S, retry_s * 2)


class SocketIOEmitter:
    def __init__(self, redis_url: str, channel: str) -> None:
        self._url = redis_url
        self._channel = channel
        self._manager: Any = None
        self._pid = 0

    def _get(self) -> Any:
        # Made on first use in each process (after Celery's fork; after gevent's patch).
        if self._manager is None or self._pid != os.getpid():
            self._manager = _BatchingRedisManager(self._url, channel=self._channel, write_only=True)
            self._pid = os.getpid()
        return self._manager

    def emit(self, bodies: list[str]) -> None:
        if not bodies:
            return
        try:
            self._get().emit_batch([envelope(body) for body in bodies])
        except Exception:  # live push is best effort: the stream already holds the event
            log.warning("emit_failed", exc_info=True)


class BackgroundEmitter:
    """Live push off the request path: bodies queue here and one daemon thread (a greenlet under gevent)
    emits them, so a call's answer does not wait on a PUBLISH."""

    def __init__(self, emitter: SocketIOEmitter, max_queue: int = 10_000, linger_s: float = 0.02) -> None:
        self._linger_s = linger_s
        self._emitter = emitter
        self._q: queue.Queue[list[str]] = queue.Queue(max_queue)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def __call__(self, bodies: list[str]) -> None:
        if not bodies:
            return
        if self._thread is None or self._pid != os.getpid():
            with self._lock:
                if self._thread is None or self._pid != os.getpid():
                    self._thread = threading.Thread(target=self._run, name="pas-emit", daemon=True)
                    self._thread.start()
                    self._pid = os.getpid()
        try:
            self._q.put_nowait(bodies)
        except Exception:  # full: live push is best effort (clients recover by seq)
            log.warning("emit_queue_full")

    def _run(self) -> None:
        while True:
            bodies = list(self._q.get())
            # Linger a moment so a busy gateway's cost updates share one round trip (still far inside the
            # HMI's 100 ms lag budget); an idle one pays it once per call, off the request path.
            time.sleep(self._linger_s)
            try:  # everything queued meanwhile goes in the same round trip
                while len(bodies) < 500:
                    bodies.extend(self._q.get_nowait())
            except queue.Empty:
                pass
            self._emitter.emit(bodies)

"""The event stream's REST side: replay by seq (clients recover what Socket.IO's at-most-once delivery lost),
recent events, external broadcasts, health."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from app.domain.events import envelope
from app.domain.ports import EventEmitter
from app.domain.timefmt import iso
from contracts.event_stream import BroadcastRequest, BroadcastResponse, EventList, EventStreamHealth
from contracts.events import EventEnvelope
from models.event_store import EventStore

log = logging.getLogger("pas.event_stream")


class EventStream:
    def __init__(self, store: EventStore, emitter: EventEmitter, connected_clients: Callable[[], int]) -> None:
        self._store = store
        self._emitter = emitter
        self._clients = connected_clients

    def broadcast(self, req: BroadcastRequest) -> BroadcastResponse:
        now_ms = self._store.now_ms()
        data: dict[str, Any] = {**req.data, "timestamp": req.data.get("timestamp", iso(now_ms))}
        body = self._store.append(req.event_type, "broadcast", data)
        self._emitter.emit([body])
        seq = int(json.loads(body)["seq"])
        log.info("broadcast", extra={"event_type": req.event_type, "seq": seq})
        return BroadcastResponse(event_type=req.event_type, seq=seq, clients=self._clients())

    def after(self, seq: int, limit: int) -> EventList:
        bodies = self._store.after(seq, limit)
        events = [EventEnvelope(**envelope(b)) for b in bodies]
        last = self._store.last_seq()
        first = events[0].seq if events else last + 1
        # A gap between `after` and the oldest event still kept means the window moved past the client.
        return EventList(events=events, last_seq=last, resnapshot=bool(seq < last and first > seq + 1))

    def recent(self, limit: int) -> EventList:
        events = [EventEnvelope(**envelope(b)) for b in self._store.recent(limit)]
        return EventList(events=events, last_seq=self._store.last_seq())

    def health(self) -> EventStreamHealth:
        return EventStreamHealth(
            connected_clients=self._clients(),
            buffered_events=self._store.length(),
            last_seq=self._store.last_seq(),
            timestamp=iso(self._store.now_ms()),
        )

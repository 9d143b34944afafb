from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.common import Body, Query, Request, SafeInt
from contracts.events import EventEnvelope


class BroadcastRequest(Request):
    """An external emitter's event: passed through unchanged (a `timestamp` is added to its data)."""

    event_type: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    data: dict[str, Any] = Field(default_factory=dict)


class BroadcastResponse(Body):
    status: Literal["broadcasted"] = "broadcasted"
    event_type: str
    seq: int
    clients: int


class EventsQuery(Query):
    # A seq: stream entry ids are 64-bit, seqs stay below 2^53 (exact in Lua and in JSON).
    after: SafeInt = Field(default=0, ge=0)
    limit: int = Field(default=1000, ge=1, le=10_000)


class RecentQuery(Query):
    limit: int = Field(default=100, ge=1, le=10_000)


class EventList(Body):
    events: list[EventEnvelope]
    last_seq: int
    # True when events after `after` have already left the replay window: re-read the REST snapshot.
    resnapshot: bool = False


class EventStreamHealth(Body):
    status: Literal["ok"] = "ok"
    service: Literal["event_stream"] = "event_stream"
    port: int = 6102
    connected_clients: int
    buffered_events: int
    last_seq: int
    timestamp: str

"""Event stream — legacy port 6102, main port /api/event-stream (Socket.IO at /socket.io/ on every port)."""

from __future__ import annotations

from flask import Blueprint, Response

from blueprints._http import doc, parse, parse_query, respond, svc
from contracts.event_stream import (
    BroadcastRequest,
    BroadcastResponse,
    EventList,
    EventsQuery,
    EventStreamHealth,
    RecentQuery,
)

bp = Blueprint("event_stream", __name__, url_prefix="/api/event-stream")
TAGS = ("event-stream",)


@bp.get("/health")
@doc(resp={200: EventStreamHealth}, tags=TAGS)
def health() -> Response:
    """Connected clients (this process), events in the replay window, the last seq."""
    return respond(svc().event_stream.health())


@bp.post("/broadcast")
@doc(json=BroadcastRequest, resp={200: BroadcastResponse}, tags=TAGS)
def broadcast() -> Response:
    """Publish an external event to every client (and the replay window)."""
    return respond(svc().event_stream.broadcast(parse(BroadcastRequest)))


@bp.get("/events")
@doc(query=EventsQuery, resp={200: EventList}, tags=TAGS)
def events() -> Response:
    """Events after a seq, oldest first: how a client that reconnects or sees a gap catches up."""
    q = parse_query(EventsQuery)
    return respond(svc().event_stream.after(q.after, q.limit))


@bp.get("/events/recent")
@doc(query=RecentQuery, resp={200: EventList}, tags=TAGS)
def recent() -> Response:
    """The most recent events, oldest first."""
    return respond(svc().event_stream.recent(parse_query(RecentQuery).limit))

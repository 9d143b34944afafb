from __future__ import annotations

from typing import Any

from contracts.common import Body


class EventEnvelope(Body):
    """What every Socket.IO `event` carries; seq increases by one per event, so a gap is visible."""

    event_type: str
    seq: int
    ts: str
    source: str
    data: dict[str, Any]
    server_timestamp: str

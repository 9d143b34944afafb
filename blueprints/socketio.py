"""Socket.IO handlers (`/socket.io/` on the main port, 6101 and 6102)."""

from __future__ import annotations

import hmac
from typing import Any

from flask_socketio import SocketIO, emit, join_room, leave_room

from app.domain.events import ROOM_ALL, envelope
from app.domain.timefmt import iso
from app.events import LIVE_CLIENTS
from app.wiring import services
from contracts.events import TOPICS


def register(sio: SocketIO) -> None:
    if getattr(sio, "_pas_handlers", False):  # one SocketIO object serves every app made in this process
        return
    sio._pas_handlers = True

    @sio.on("connect")
    def _connect(auth: Any = None) -> bool:
        token = services().settings.pas_api_token
        if token is not None:
            presented = auth.get("token") if isinstance(auth, dict) else None
            if not isinstance(presented, str) or not hmac.compare_digest(
                presented.encode(), token.get_secret_value().encode()
            ):
                return False  # refused: with PAS_API_TOKEN set, live events need it too
        events = services().events
        emit(
            "connected",
            {
                "status": "connected",
                "server_time": iso(events.now_ms()),
                "buffered_events": events.length(),
                "last_seq": events.last_seq(),
            },
        )
        join_room(ROOM_ALL)
        LIVE_CLIENTS.add(1)
        return True

    @sio.on("subscribe")
    def _subscribe(data: Any = None) -> None:
        """{"topics": [...]}: only those topics from now on (an empty or unknown list: everything again)."""
        wanted = data.get("topics") if isinstance(data, dict) else None
        topics = sorted({t for t in wanted if t in TOPICS}) if isinstance(wanted, list) else []
        for t in TOPICS:
            (join_room if t in topics else leave_room)(f"topic:{t}")
        (leave_room if topics else join_room)(ROOM_ALL)
        emit("subscribed", {"topics": topics or ["all"], "last_seq": services().events.last_seq()})

    @sio.on("disconnect")
    def _disconnect(*_args: Any) -> None:
        LIVE_CLIENTS.add(-1)

    @sio.on("ping")
    def _ping(data: Any = None) -> None:
        emit("pong", {"data": data})

    @sio.on("request_history")
    def _history(data: Any = None) -> None:
        events = services().events
        after, limit = 0, 100
        if isinstance(data, dict):
            after = _int(data.get("after"), 0)
            limit = min(1000, max(1, _int(data.get("limit"), 100)))
        bodies = events.after(after, limit) if after else events.recent(limit)
        emit("event_history", [envelope(b) for b in bodies])


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default

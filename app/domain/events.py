"""Event bodies as the Lua scripts record them ({seq,event_type,source,ts_ms,data}) → the wire envelope."""

from __future__ import annotations

import json
import logging
from typing import Any

from app.domain.timefmt import iso
from contracts.events import topic_of

ALERT_SEVERITY = {
    "heartbeat_miss": "warning",
    "service_down": "critical",
    "service_deregistered": "warning",
    "heartbeat_restored": "info",
    "self_preservation": "critical",
}


def alert_data(data: dict[str, Any], seq: int, ts_ms: int) -> dict[str, Any]:
    """An `alert` event's data in the §5 shape: ISO times instead of the stream's ms."""
    out = {k: v for k, v in data.items() if k != "last_seen_ms"}
    last = data.get("last_seen_ms")
    out["last_seen"] = iso(int(last)) if last is not None else None
    out["ts"] = iso(ts_ms)
    out["seq"] = seq
    out.setdefault("parent", None)
    out.setdefault("severity", ALERT_SEVERITY.get(str(data.get("alert_type")), "warning"))
    return out


def envelope(body: str, server_ms: int | None = None) -> dict[str, Any]:
    raw = json.loads(body)
    seq, ts_ms = int(raw["seq"]), int(raw["ts_ms"])
    data = raw.get("data") or {}
    if raw["event_type"] == "alert" and "alert_type" in data and raw["source"] == "heartbeat_monitor":
        data = alert_data(data, seq, ts_ms)
    return {
        "event_type": raw["event_type"],
        "seq": seq,
        "ts": iso(ts_ms),
        "source": raw["source"],
        "data": data,
        "server_timestamp": iso(server_ms if server_ms is not None else ts_ms),
        "topic": topic_of(raw["event_type"]),
    }


def log_transitions(log: logging.Logger, bodies: list[str]) -> None:
    """One structured line per liveness transition recorded by a script."""
    for body in bodies:
        event = json.loads(body)
        if event["event_type"] != "alert":
            continue
        data = event["data"]
        log.info(
            "transition",
            extra={
                "seq": event["seq"],
                "alert_type": data.get("alert_type"),
                "action": data.get("action"),
                "service_id": data.get("service_id"),
                "missed_beats": data.get("missed_beats"),
            },
        )


# Socket.IO rooms: a page subscribes to the topics it shows; a client that never subscribes gets everything.
ROOM_ALL = "all"


def rooms(event_type: str) -> list[str]:
    return [ROOM_ALL, f"topic:{topic_of(event_type)}"]  # the topic map is the contract's (contracts/events.py)

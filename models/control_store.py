"""Operator controls in Redis: Pause All and per-agent pauses (the heartbeat script reads them too)."""

from __future__ import annotations

import json
from typing import Any

import redis

from models.keys import Keys, from_key_part, key_part
from models.stored import stored_int, stored_json


class ControlStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._r.set(self._keys.paused(), "1")
        else:
            self._r.delete(self._keys.paused())

    def paused(self) -> bool:
        return bool(self._r.exists(self._keys.paused()))

    def pause_agent(self, service_id: str, paused: bool) -> None:
        if paused:
            self._r.sadd(self._keys.paused_agents(), key_part(service_id))
        else:
            self._r.srem(self._keys.paused_agents(), key_part(service_id))

    def paused_agents(self) -> list[str]:
        members: Any = self._r.smembers(self._keys.paused_agents())
        return sorted(from_key_part(m) for m in members)

    def ack_alert(self, seq: int, ts: str, note: str | None) -> bool:
        """False when it was already acknowledged (the first acknowledgement stands)."""
        return bool(self._r.hsetnx(self._keys.acked_alerts(), str(seq), json.dumps({"ts": ts, "note": note})))

    def acked_alerts(self) -> dict[int, dict[str, Any]]:
        raw: Any = self._r.hgetall(self._keys.acked_alerts())
        out: dict[int, dict[str, Any]] = {}
        for k, v in raw.items():
            seq, ack = stored_int(k), stored_json(v)
            if seq and isinstance(ack, dict):  # anything else is not an acknowledgement PAS wrote
                out[seq] = {"ts": str(ack.get("ts") or ""), "note": ack.get("note")}
        return out

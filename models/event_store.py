"""The event stream in Redis: an append-only stream whose entry ids are the event seq numbers."""

from __future__ import annotations

import json
from typing import Any

import redis

from models.keys import Keys
from models.scripts import lua, redis_now_ms
from models.stored import stored_int


class EventStore:
    def __init__(self, client: redis.Redis, keys: Keys, maxlen: int) -> None:
        self._r = client
        self._keys = keys
        self._maxlen = maxlen
        self._publish = client.register_script(lua("publish"))
        self._publish_once = client.register_script(lua("publish_once"))

    def append(self, event_type: str, source: str, data: dict[str, Any]) -> str:
        """Writes one event (seq assigned atomically) and returns its body for live emission."""
        out = self._publish(
            args=[
                self._keys.prefix,
                self._maxlen,
                0,
                event_type,
                source,
                json.dumps(data, separators=(",", ":")),
            ]
        )
        return str(out[0])

    def append_once(self, once_id: str, ttl_ms: int, event_type: str, source: str, data: dict[str, Any]) -> str | None:
        """Writes the event unless one with this `once_id` was written (within `ttl_ms`), atomically: its body, or
        None. For an event that a retried step would otherwise write twice."""
        data_json = json.dumps(data, separators=(",", ":"))
        args: list[str | int] = [self._keys.prefix, self._maxlen, 0, event_type, source, data_json, ttl_ms]
        out: Any = self._publish_once(keys=[self._keys.event_once(once_id)], args=args)
        return str(out[0]) if out else None

    def after(self, seq: int, count: int = 1000) -> list[str]:
        entries: Any = self._r.xrange(self._keys.events(), min=f"{seq + 1}-0", max="+", count=count)
        return [str(fields["e"]) for _id, fields in entries]

    def recent(self, count: int) -> list[str]:
        entries: Any = self._r.xrevrange(self._keys.events(), count=count)
        return [str(fields["e"]) for _id, fields in reversed(entries)]

    def now_ms(self) -> int:
        return redis_now_ms(self._r)

    def last_seq(self) -> int:
        return stored_int(self._r.get(self._keys.event_seq()))

    def length(self) -> int:
        return int(self._r.xlen(self._keys.events()))

    def shipped(self) -> int:
        return stored_int(self._r.get(self._keys.events_shipped()))

    def archived(self) -> int:
        return stored_int(self._r.get(self._keys.events_archived()))

    def mark_archived(self, seq: int) -> None:
        self._r.set(self._keys.events_archived(), seq)

    def mark_shipped(self, seq: int) -> None:
        self._r.set(self._keys.events_shipped(), seq)

    def try_lock(self, name: str, token: str, ttl_ms: int) -> bool:
        return bool(self._r.set(name, token, nx=True, px=ttl_ms))

    def unlock(self, name: str, token: str) -> None:
        # Delete only our own lock (compare-and-delete).
        self._r.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            1,
            name,
            token,
        )

"""Token governor state in Redis: one hash per (agent, run), a capped message window, staged summary input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from models.keys import Keys, key_part
from models.scripts import lua
from models.stored import stored_int


@dataclass
class TrackOutcome:
    now_ms: int
    breach_seq: int
    enqueue: bool
    events: list[str]


def state_id(agent: str, run_id: str) -> str:
    return f"{key_part(agent)}:{key_part(run_id)}"


class GovernorStore:
    def __init__(self, client: redis.Redis, keys: Keys, events_maxlen: int) -> None:
        self._r = client
        self._keys = keys
        self._maxlen = events_maxlen
        self._track = client.register_script(lua("tg_track"))
        self._reset = client.register_script(lua("tg_reset"))

    def _key(self, entity: str) -> str:
        return f"{self._keys.prefix}:token_governor:{entity}"

    def _common(self) -> list[str | int]:
        return [self._keys.prefix, self._maxlen, 0]

    def track(
        self,
        agent: str,
        run_id: str,
        fields: dict[str, str | int | float | None],
        *,
        auto_summarize: bool,
        event: dict[str, Any],
        messages: list[str] | None,
        window: int,
    ) -> TrackOutcome:
        raw: Any = self._track(
            args=[
                *self._common(),
                state_id(agent, run_id),
                # Every value as text: Lua stores it as is (a Lua number would come back with 14 digits).
                json.dumps({k: "" if v is None else str(v) for k, v in fields.items()}),
                "1" if auto_summarize else "0",
                json.dumps(event, separators=(",", ":")),
                json.dumps(messages) if messages else "",
                window,
            ]
        )
        return TrackOutcome(int(raw[0]), int(raw[1]), raw[2] == "1", [str(e) for e in raw[3:]])

    def reset(
        self, agent: str, run_id: str, breach_seq: int | None, event: dict[str, Any] | None
    ) -> tuple[bool, int, int, list[str]]:
        raw: Any = self._reset(
            args=[
                *self._common(),
                state_id(agent, run_id),
                "" if breach_seq is None else breach_seq,
                json.dumps(event, separators=(",", ":")) if event else "",
            ]
        )
        return raw[0] == "ok", int(raw[1]), stored_int(raw[2]), [str(e) for e in raw[3:]]

    def get(self, agent: str, run_id: str) -> dict[str, str] | None:
        h: Any = self._r.hgetall(self._key(f"state:{state_id(agent, run_id)}"))
        return h or None

    def all(self) -> list[dict[str, str]]:
        ids: Any = self._r.smembers(self._key("index"))
        pipe = self._r.pipeline(transaction=False)
        for sid in sorted(ids):
            pipe.hgetall(self._key(f"state:{sid}"))
        return [h for h in pipe.execute() if h]

    def messages(self, agent: str, run_id: str) -> list[str]:
        items: Any = self._r.lrange(self._key(f"messages:{state_id(agent, run_id)}"), 0, -1)
        return [str(m) for m in items]

    def stage_content(self, request_id: str, content: str, ttl_s: int = 3600) -> None:
        self._r.set(self._key(f"content:{request_id}"), content, ex=ttl_s)

    def staged_content(self, request_id: str) -> str | None:
        value: Any = self._r.get(self._key(f"content:{request_id}"))
        return None if value is None else str(value)

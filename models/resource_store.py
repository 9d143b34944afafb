"""Resource manager state in Redis: capacity, allocations, ports and reservations, changed only by Lua."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from models.keys import Keys, key_part
from models.scripts import lua, redis_now_ms
from models.stored import stored_int


@dataclass
class ReserveOutcome:
    granted: bool
    now_ms: int = 0
    resource: str = ""
    requested: int = 0
    available: int = 0
    events: list[str] = field(default_factory=list)


@dataclass
class FinishOutcome:
    now_ms: int
    finished: list[str]
    events: list[str]
    held: list[dict[str, Any]] = field(default_factory=list)  # what each finished reservation held


def _ids(raw: str) -> list[str]:
    value = json.loads(raw)
    return value if isinstance(value, list) else []  # cjson encodes an empty array as {}


class ResourceStore:
    def __init__(self, client: redis.Redis, keys: Keys, events_maxlen: int, preservation_cap_ms: int = 0) -> None:
        self._r = client
        self._keys = keys
        self._maxlen = events_maxlen
        # The lease sweep holds a down holder's lease while self-preservation holds its deregistration.
        self._cap_ms = preservation_cap_ms
        self._reserve = client.register_script(lua("rm_reserve"))
        self._finish = client.register_script(lua("rm_finish"))
        self._capacity = client.register_script(lua("rm_capacity"))
        self._sweep = client.register_script(lua("rm_sweep"))

    def _common(self) -> list[str | int]:
        return [self._keys.prefix, self._maxlen, self._cap_ms]

    def set_capacity(self, resource: str, amount: int, *, only_if_unset: bool) -> tuple[str, str, int]:
        raw: Any = self._capacity(args=[*self._common(), resource, amount, "1" if only_if_unset else "0"])
        return str(raw[0]), str(raw[1]), int(raw[2])

    def reserve(
        self,
        reservation_id: str,
        job_id: str,
        *,
        amounts: dict[str, int],
        ports: list[int],
        role: str | None,
        role_limit: int | None,
        lease_ms: int,
        holder: str | None,
        event_base: dict[str, Any],
        fields: dict[str, str],
    ) -> ReserveOutcome:
        wanted = {k: v for k, v in amounts.items() if v > 0}
        args: list[str | int] = [
            *self._common(),
            reservation_id,
            role or "",
            -1 if role_limit is None else role_limit,
            lease_ms,
            key_part(holder) if holder else "",
            json.dumps(event_base, separators=(",", ":")),
            json.dumps(fields),
            json.dumps(ports),
            json.dumps(wanted) if wanted else "{}",
            key_part(job_id),
            *wanted.keys(),
        ]
        raw: Any = self._reserve(args=args)
        if raw[0] == "granted":
            return ReserveOutcome(True, now_ms=int(raw[1]), events=[str(e) for e in raw[2:]])
        return ReserveOutcome(
            False,
            resource=str(raw[1]),
            requested=int(raw[2]),
            available=int(raw[3]),
            events=[str(e) for e in raw[4:]],
        )

    def finish(self, reservation_ids: list[str], status: str, reason: str) -> FinishOutcome:
        raw: Any = self._finish(args=[*self._common(), status, reason, *reservation_ids])
        n = int(raw[1])
        held = [json.loads(b) for b in raw[2 : 2 + n]]
        return FinishOutcome(int(raw[0]), [h["reservation_id"] for h in held], [str(e) for e in raw[2 + n :]], held)

    def sweep(self) -> FinishOutcome:
        raw: Any = self._sweep(args=self._common())
        return FinishOutcome(int(raw[0]), _ids(raw[1]), [str(e) for e in raw[2:]])

    def totals(self) -> tuple[dict[str, int], dict[str, int]]:
        pipe = self._r.pipeline(transaction=True)
        pipe.hgetall(self._keys.rm("capacity"))
        pipe.hgetall(self._keys.rm("allocated"))
        cap, alloc = pipe.execute()
        return {k: stored_int(v) for k, v in cap.items()}, {k: stored_int(v) for k, v in alloc.items()}

    def now_ms(self) -> int:
        return redis_now_ms(self._r)

    def count(self, status: str) -> int:
        return int(self._r.zcard(self._keys.rm(f"status:{status}")))

    def held_ports(self) -> set[int]:
        held: Any = self._r.hkeys(self._keys.rm("ports"))
        return {p for p in (stored_int(p) for p in held) if 1 <= p <= 65535}

    def reservation(self, reservation_id: str) -> dict[str, str] | None:
        h: Any = self._r.hgetall(self._keys.rm(f"reservation:{reservation_id}"))
        return h or None

    def job_reservations(self, job_id: str) -> list[str]:
        ids: Any = self._r.smembers(self._keys.rm(f"by_job:{key_part(job_id)}"))
        return sorted(ids)

    def latest(self, status: str | None, limit: int) -> list[dict[str, str]]:
        index = self._keys.rm(f"status:{status}") if status else self._keys.rm("all")
        ids: Any = self._r.zrevrange(index, 0, limit - 1)
        pipe = self._r.pipeline(transaction=False)
        for rid in ids:
            pipe.hgetall(self._keys.rm(f"reservation:{rid}"))
        return [h for h in pipe.execute() if h]

"""Registry and liveness state in Redis. Every multi-key write is one Lua script (atomic)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from models.fast_script import FastScript
from models.keys import Keys, from_key_part, key_part
from models.scripts import lua, redis_now_ms
from models.stored import stored_ms


@dataclass(frozen=True)
class ScriptParams:
    events_maxlen: int
    preservation_cap_ms: int
    preservation_min_services: int
    sweep_batch: int
    blind_ms: int = 2500


@dataclass
class WriteResult:
    outcome: str
    now_ms: int
    extra: str = ""
    events: list[str] = field(default_factory=list)
    paused: bool = False


@dataclass
class SweepResult:
    now_ms: int
    next_due_ms: int | None
    due: int
    events: list[str]


@dataclass(frozen=True)
class Snapshot:
    now_ms: int
    preservation_since_ms: int | None
    last_sweep_ms: int | None
    preservation_cleared_ms: int | None
    grace_from_ms: int | None
    services: list[dict[str, str]]


class RegistryStore:
    def __init__(self, client: redis.Redis, keys: Keys, params: ScriptParams) -> None:
        self._r = client
        self._keys = keys
        self._params = params
        self._register = client.register_script(lua("register"))
        # The hottest script of all (thousands a second): straight on a connection; a resend is harmless.
        self._heartbeat = FastScript(client, lua("heartbeat"))
        self._deregister = client.register_script(lua("deregister"))
        self._sweep = client.register_script(lua("sweep"))

    @property
    def params(self) -> ScriptParams:
        return self._params

    def _common(self) -> list[str | int]:
        return [self._keys.prefix, self._params.events_maxlen, self._params.preservation_cap_ms]

    @staticmethod
    def _result(raw: list[Any], n_head: int) -> tuple[list[str], list[str]]:
        return [str(x) for x in raw[:n_head]], [str(x) for x in raw[n_head:]]

    def find_agent_by_name(self, name: str) -> str | None:
        found: Any = self._r.sinter([self._keys.index("name", name), self._keys.index("type", "agent")])
        return from_key_part(sorted(found)[0]) if found else None

    def register(
        self,
        service_id: str,
        *,
        agent_lookup_name: str | None,
        expected_existing: str | None,
        interval_ms: int,
        ttl_ms: int,
        index_keys: list[str],
        status: str,
        fields: dict[str, str],
    ) -> WriteResult:
        args: list[str | int] = [
            *self._common(),
            key_part(service_id),
            key_part(expected_existing) if expected_existing else "",
            self._keys.index("name", agent_lookup_name) if agent_lookup_name is not None else "",
            self._keys.index("type", "agent"),
            interval_ms,
            ttl_ms,
            json.dumps(index_keys),
            status,
        ]
        for k, v in fields.items():
            args += [k, v]
        raw = self._register(args=args)
        if raw[0] == "retry":
            return WriteResult("retry", 0)
        head, events = self._result(raw, 3)
        return WriteResult(head[0], int(head[1]), head[2], events)

    def heartbeat(self, service_id: str, status: str, epoch: int | None, fields: dict[str, str]) -> WriteResult:
        args: list[str | int] = [
            *self._common(),
            key_part(service_id),
            status,
            "" if epoch is None else epoch,
            self._params.blind_ms,
        ]
        for k, v in fields.items():
            args += [k, v]
        head, events = self._result(self._heartbeat([], args), 4)
        return WriteResult(head[0], int(head[1]), head[2], events, paused=head[3] == "1")

    def deregister(self, service_id: str) -> WriteResult:
        head, events = self._result(self._deregister(args=[*self._common(), key_part(service_id)]), 2)
        return WriteResult(head[0], int(head[1]), "", events)

    def sweep(self, preservation_alert: str) -> SweepResult:
        raw = self._sweep(
            args=[
                *self._common(),
                self._params.sweep_batch,
                self._params.preservation_min_services,
                preservation_alert,
                self._params.blind_ms,
            ]
        )
        head, events = self._result(raw, 3)
        return SweepResult(int(head[0]), int(head[1]) if head[1] else None, int(head[2]), events)

    def index_keys(self, type_: str, role: str, name: str, caps: list[str]) -> list[str]:
        k = self._keys
        return [k.index("type", type_), k.index("role", role), k.index("name", name)] + [
            k.index("cap", c) for c in dict.fromkeys(caps)
        ]

    def snapshot(self, service_ids: list[str] | None = None) -> Snapshot:
        """Services (all, or the given ids) with the Redis clock and monitor state read in one round trip."""
        if service_ids is None:
            members: Any = self._r.smembers(self._keys.service_ids())
            qids = sorted(members)
        else:
            qids = [key_part(s) for s in service_ids]
        pipe = self._r.pipeline(transaction=True)
        pipe.time()
        pipe.get(self._keys.preservation())
        pipe.get(self._keys.last_sweep())
        pipe.get(self._keys.preservation_cleared())
        pipe.get(self._keys.grace_from())
        for q in qids:
            pipe.hgetall(self._keys.service_prefix() + q)
        res = pipe.execute()
        sec, usec = res[0]
        return Snapshot(
            now_ms=int(sec) * 1000 + int(usec) // 1000,
            preservation_since_ms=stored_ms(res[1]),
            last_sweep_ms=stored_ms(res[2]),
            preservation_cleared_ms=stored_ms(res[3]),
            grace_from_ms=stored_ms(res[4]),
            services=[h for h in res[5:] if h],
        )

    def ids_matching(self, filters: list[tuple[str, str]]) -> list[str] | None:
        """Escaped-id intersection of the index sets; None when no filter applies."""
        if not filters:
            return None
        found: Any = self._r.sinter([self._keys.index(f, v) for f, v in filters])
        return [from_key_part(q) for q in found]

    def promote(self, name: str, from_role: str, to_role: str, rewrite: Any) -> int:
        """Moves every `name` service in `from_role` to `to_role`; optimistic (WATCH) so it is all-or-nothing."""
        k = self._keys
        pipe: Any
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    name_key, from_key = k.index("name", name), k.index("role", from_role)
                    pipe.watch(name_key, from_key)
                    qids = sorted(pipe.sinter([name_key, from_key]))
                    hkeys = [k.service_prefix() + q for q in qids]
                    if hkeys:
                        pipe.watch(*hkeys)
                    current = [pipe.hgetall(h) for h in hkeys]
                    pipe.multi()
                    count = 0
                    for q, h, cur in zip(qids, hkeys, current, strict=True):
                        rewritten = rewrite(cur, to_role)
                        if rewritten is None:  # gone or unreadable: left as it is
                            continue
                        new_fields, old_idx, new_idx = rewritten
                        count += 1
                        pipe.hset(h, mapping=new_fields)
                        for key in old_idx:
                            pipe.srem(key, q)
                        for key in new_idx:
                            pipe.sadd(key, q)
                    pipe.execute()
                    return count
                except redis.WatchError:
                    continue

    def time_ms(self) -> int:
        return redis_now_ms(self._r)

"""Gateway state in Redis: budgets, pending receipts, the receipts queued for SQL, each provider's rolling
window and circuit breaker. Budgets and receipts change only in Lua (check-and-charge is one step)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from models.fast_script import FastScript
from models.keys import Keys
from models.scripts import lua
from models.stored import stored_float, stored_int, stored_json

MICRO = 1_000_000


def to_micro(usd: float) -> int:
    return round(usd * MICRO)


@dataclass
class BeginOutcome:
    granted: bool
    now_ms: int = 0
    scope: str = ""  # "run" or "agent" when denied
    budget: int = 0
    spent: int = 0
    inflight: int = 0
    events: list[str] = field(default_factory=list)  # the budget_exceeded alert, the first time a budget refuses


@dataclass
class FinishOutcome:
    closed: bool  # False: the receipt was already closed (by the sweeper)
    events: list[str] = field(default_factory=list)
    cooled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AttemptRecord:
    provider: str
    ok: bool
    ms: float


@dataclass
class ProviderWindow:
    latencies_ms: list[float]
    outcomes: list[int]
    cooldown_left_ms: int


class GatewayStore:
    def __init__(self, client: redis.Redis, keys: Keys, events_maxlen: int) -> None:
        self._r = client
        self._keys = keys
        self._maxlen = events_maxlen
        self._begin = FastScript(client, lua("gw_begin"))
        self._finish = FastScript(client, lua("gw_finish"))
        self._budget = client.register_script(lua("gw_budget"))
        self._extend = client.register_script(lua("gw_extend"))

    def _common(self) -> list[str | int]:
        return [self._keys.prefix, self._maxlen, 0]

    def _budget_keys(self, run_id: str, agent: str) -> list[str]:
        return [self._keys.budget("run", run_id), self._keys.budget("agent", agent)]

    def _pending(self) -> list[str]:
        return [self._keys.gw("pending"), self._keys.gw("pending_deadlines")]

    def begin(
        self, receipt_id: str, run_id: str, agent: str, pending: dict[str, Any], estimate: int, expire_ms: int
    ) -> BeginOutcome:
        raw: Any = self._begin(
            [*self._budget_keys(run_id, agent), *self._pending()],
            [*self._common(), receipt_id, json.dumps(pending, separators=(",", ":")), estimate, expire_ms, run_id,
             agent],
        )  # fmt: skip
        if int(raw[0]) == 1:
            return BeginOutcome(True, now_ms=int(raw[1]))
        return BeginOutcome(False, 0, "run" if int(raw[1]) == 1 else "agent", int(raw[2]), int(raw[3]), int(raw[4]),
                            [str(e) for e in raw[5]])  # fmt: skip

    def finish(
        self,
        receipt_id: str,
        run_id: str,
        agent: str,
        receipt_json: str,
        *,
        estimate: int,
        actual: int,
        attempts: list[AttemptRecord],
        had_pending: bool,
        trip_after: int,
        cooldown_ms: int,
        window: int,
    ) -> FinishOutcome:
        names: list[str] = []
        for a in attempts:
            if a.provider not in names:
                names.append(a.provider)
        provider_keys: list[str] = []
        for name in names:
            provider_keys += [
                self._keys.provider_latency(name),
                self._keys.provider_outcomes(name),
                self._keys.provider_breaker(name),
                self._keys.provider_cooldown(name),
            ]
        packed = [[names.index(a.provider) + 1, 1 if a.ok else 0, round(a.ms, 3), a.provider] for a in attempts]
        raw: Any = self._finish(
            [*self._budget_keys(run_id, agent), *self._pending(), self._keys.gw("ship"), *provider_keys],
            [
                *self._common(), receipt_id, estimate, actual, receipt_json,
                json.dumps(packed, separators=(",", ":")), trip_after, cooldown_ms, window,
                "1" if had_pending else "0", run_id, agent,
            ],
        )  # fmt: skip
        return FinishOutcome(int(raw[0]) == 1, [str(e) for e in raw[1]], [str(n) for n in raw[2]])

    def extend_pending(self, receipt_id: str, ms_from_now: int) -> None:
        self._extend(keys=[self._keys.gw("pending_deadlines")], args=[*self._common(), receipt_id, ms_from_now])

    def set_budget(self, scope: str, name: str, budget: int) -> list[str]:
        raw: Any = self._budget(keys=[self._keys.budget(scope, name)], args=[*self._common(), budget, scope, name])
        return [str(e) for e in raw[0]]

    def budget(self, scope: str, name: str) -> tuple[int, int, int] | None:
        raw: Any = self._r.hmget(self._keys.budget(scope, name), "budget", "spent", "inflight")
        if raw[0] is None:
            return None
        return stored_int(raw[0]), stored_int(raw[1]), stored_int(raw[2])

    # receipts on their way to SQL

    def queued_receipts(self, count: int) -> list[str]:
        raw: Any = self._r.lrange(self._keys.gw("ship"), 0, count - 1)
        return [str(r) for r in raw]

    def drop_shipped(self, count: int) -> None:
        self._r.ltrim(self._keys.gw("ship"), count, -1)

    def pending_due(self, now_ms: int, count: int) -> list[tuple[str, dict[str, Any]]]:
        ids: Any = self._r.zrangebyscore(self._keys.gw("pending_deadlines"), 0, now_ms, start=0, num=count)
        if not ids:
            return []
        bodies: Any = self._r.hmget(self._keys.gw("pending"), ids)
        pending = [(str(i), stored_json(b)) for i, b in zip(ids, bodies, strict=True) if b is not None]
        return [(i, p) for i, p in pending if isinstance(p, dict)]

    def ping(self) -> bool:
        try:
            return bool(self._r.ping())
        except redis.RedisError:
            return False

    def pending_count(self) -> int:
        return int(self._r.hlen(self._keys.gw("pending")))

    # the providers' rolling windows, for the router's snapshot

    def windows(self, names: list[str], window: int) -> dict[str, ProviderWindow]:
        pipe = self._r.pipeline(transaction=False)
        for name in names:
            pipe.lrange(self._keys.provider_latency(name), 0, window - 1)
            pipe.lrange(self._keys.provider_outcomes(name), 0, window - 1)
            pipe.pttl(self._keys.provider_cooldown(name))
        raw = pipe.execute()
        out: dict[str, ProviderWindow] = {}
        for i, name in enumerate(names):
            lat, outc, cool = raw[3 * i : 3 * i + 3]
            # cooldown: ms left (PTTL), so each process adds its own clock
            # read tolerantly: a list an older PAS (or a hand edit) filled must not fail every routing decision
            out[name] = ProviderWindow(
                [stored_float(x, lo=0) for x in lat], [1 if stored_int(x) == 1 else 0 for x in outc], max(0, int(cool))
            )
        return out

    # idempotency (Idempotency-Key header)

    def claim_idempotency(self, key: str, fingerprint: str, receipt_id: str, ttl_s: int) -> dict[str, str] | None:
        """None when this call now owns the key; else what the first call stored."""
        k = self._keys.idempotency(key)
        pipe = self._r.pipeline(transaction=True)
        pipe.hsetnx(k, "fp", fingerprint)
        pipe.hgetall(k)
        won, current = pipe.execute()
        if won:
            self._r.hset(k, mapping={"receipt_id": receipt_id, "state": "running"})
            self._r.expire(k, ttl_s)
            return None
        return {str(a): str(b) for a, b in current.items()}

    def settle_idempotency(self, key: str, status: int, body: bytes) -> None:
        self._r.hset(self._keys.idempotency(key), mapping={"state": "done", "status": status, "body": body})

    def release_idempotency(self, key: str) -> None:
        self._r.delete(self._keys.idempotency(key))

"""The routing decision: a pure function over an in-memory snapshot of providers (no I/O per decision).

Filters (API-CONTRACT §10): exact model or listed capability, context window, features, active, not cooling
down, not down in the registry, estimated cost ≤ max_cost_usd, p95 (measured, else the SLO) ≤ max_latency_ms.
Policies: cost ≡ cheapest_that_meets_sla (default), latency ≡ fastest, balanced, prefer_local; ties by price,
p95, name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_IN_TOKENS = 1000  # the contract's estimate when the request's size is unknown
DEFAULT_OUT_TOKENS = 500

POLICY_ALIASES = {"cheapest_that_meets_sla": "cost", "fastest": "latency", "local": "prefer_local"}


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    model: str
    context_window: int
    cost_in: float  # USD per token
    cost_out: float
    endpoint: str
    capabilities: frozenset[str] = frozenset()
    features: frozenset[str] = frozenset()
    tier: str | None = None
    slo_p95_ms: float | None = None
    source: str = "api"
    active: bool = True
    service_id: str | None = None  # the registry entry whose health gates this provider, if any
    api_key_env: str | None = None  # where its API key is (an environment variable's name), if it needs one
    protocol: str = "openai"  # the wire its endpoint speaks: openai (/chat/completions) or anthropic (/v1/messages)


@dataclass(frozen=True, slots=True)
class Live:
    """What PAS measured of a provider (receipts' rolling window) and its circuit state."""

    p95_ms: float | None = None
    error_rate: float | None = None
    cooldown_until_ms: int = 0
    registry_ok: bool | None = None  # None: no registry entry
    registry_reason: str | None = None  # why registry_ok is False ("down", "degraded: no API key …")


@dataclass(frozen=True, slots=True)
class Ask:
    model: str | None = None
    capability: str | None = None
    provider: str | None = None
    capabilities: frozenset[str] = frozenset()  # all required (the gateway's target.require_caps)
    context_tokens: int | None = None
    features: frozenset[str] = frozenset()
    optimization: str = "cost"
    max_cost_usd: float | None = None
    max_latency_ms: float | None = None
    sla_ms_p95: float | None = None  # the policy's SLA: violators rank after those that meet it
    in_tokens: int | None = None
    out_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Scored:
    provider: Provider
    estimated_cost_usd: float
    p95_ms: float | None
    latency_source: str
    score: float
    meets_sla: bool = True


@dataclass
class Decision:
    ranked: list[Scored]
    rejected: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""
    optimization: str = "cost"

    @property
    def winner(self) -> Scored | None:
        return self.ranked[0] if self.ranked else None


def estimate_cost(p: Provider, in_tokens: int, out_tokens: int) -> float:
    return in_tokens * p.cost_in + out_tokens * p.cost_out


def is_local(p: Provider) -> bool:
    return p.cost_in == 0 and p.cost_out == 0


def _why_not(p: Provider, live: Live, ask: Ask, now_ms: int) -> str | None:
    if ask.provider is not None and p.name != ask.provider:
        return "name"
    if ask.model is not None and p.model != ask.model:
        return "model"
    if ask.capability is not None and ask.capability not in p.capabilities:
        return "capability"
    if ask.capabilities and not ask.capabilities <= p.capabilities:
        return "capability"
    if not p.active:
        return "inactive"
    if live.cooldown_until_ms > now_ms:
        return "cooldown"
    if live.registry_ok is False:
        return live.registry_reason or "down"
    if ask.context_tokens is not None and p.context_window < ask.context_tokens:
        return f"context_window {p.context_window} < {ask.context_tokens}"
    if ask.features and not ask.features <= p.features:
        return "features " + ",".join(sorted(ask.features - p.features)) + " missing"
    return None


def rank(
    providers: list[tuple[Provider, Live]], ask: Ask, now_ms: int, fallback_order: tuple[str, ...] = ()
) -> Decision:
    """The policy picks the winner; the fallbacks behind it follow the matrix's tier order (policy order within
    a tier; tiers not listed last)."""
    policy = POLICY_ALIASES.get(ask.optimization, ask.optimization)
    in_tokens = ask.in_tokens if ask.in_tokens is not None else DEFAULT_IN_TOKENS
    out_tokens = ask.out_tokens if ask.out_tokens is not None else DEFAULT_OUT_TOKENS
    rejected: list[tuple[str, str]] = []
    pool: list[Scored] = []
    for p, live in providers:
        why = _why_not(p, live, ask, now_ms)
        if why is not None:
            if why not in ("name", "model", "capability"):  # only the relevant ones are worth explaining
                rejected.append((p.name, why))
            continue
        cost = estimate_cost(p, in_tokens, out_tokens)
        if ask.max_cost_usd is not None and cost > ask.max_cost_usd:
            rejected.append((p.name, f"estimated cost {cost:.6f} > max_cost_usd {ask.max_cost_usd}"))
            continue
        if live.p95_ms is not None:
            p95, source = live.p95_ms, "measured"
        elif p.slo_p95_ms is not None:
            p95, source = p.slo_p95_ms, "slo"
        else:
            p95, source = None, "none"
        if ask.max_latency_ms is not None and p95 is not None and p95 > ask.max_latency_ms:
            rejected.append((p.name, f"p95 {p95:.0f} ms > max_latency_ms {ask.max_latency_ms:.0f}"))
            continue
        meets = ask.sla_ms_p95 is None or p95 is None or p95 <= ask.sla_ms_p95
        pool.append(Scored(p, cost, p95, source, 0.0, meets))
    ranked = _order(pool, policy)
    if fallback_order and len(ranked) > 2:
        ranked = ranked[:1] + sorted(ranked[1:], key=lambda s: _tier_index(s.provider.tier, fallback_order))
    return Decision(ranked, rejected, _reason(ranked, policy, ask), policy)


def _tier_index(tier: str | None, order: tuple[str, ...]) -> int:
    if tier is None:
        return len(order)
    if tier in order:
        return order.index(tier)
    alias = f"tier{tier}"  # a registry label `tier: 2` is the matrix's "tier2"
    return order.index(alias) if alias in order else len(order)


def _lat(s: Scored) -> float:
    return s.p95_ms if s.p95_ms is not None else math.inf


def _order(pool: list[Scored], policy: str) -> list[Scored]:
    if not pool:
        return []
    key: Callable[[Scored], tuple[Any, ...]]
    if policy == "latency":
        scored = [_with(s, s.p95_ms if s.p95_ms is not None else 0.0) for s in pool]
        key = lambda s: (_lat(s), s.estimated_cost_usd, s.provider.name)  # noqa: E731
    elif policy == "balanced":
        max_cost = max(s.estimated_cost_usd for s in pool) or 1.0
        known = [s.p95_ms for s in pool if s.p95_ms is not None]
        max_lat = max(known) if known else 1.0
        max_lat = max_lat or 1.0

        def blend(s: Scored) -> float:
            lat = s.p95_ms / max_lat if s.p95_ms is not None else 1.0
            return 0.5 * (s.estimated_cost_usd / max_cost) + 0.5 * lat

        scored = [_with(s, round(blend(s), 6)) for s in pool]
        key = lambda s: (s.score, s.estimated_cost_usd, _lat(s), s.provider.name)  # noqa: E731
    elif policy == "prefer_local":
        scored = [_with(s, 0.0 if is_local(s.provider) else s.estimated_cost_usd) for s in pool]
        key = lambda s: (not is_local(s.provider), s.estimated_cost_usd, _lat(s), s.provider.name)  # noqa: E731
    else:  # cost: the cheapest that meets the SLA; violators stay as last-resort fallbacks
        scored = [_with(s, s.estimated_cost_usd) for s in pool]
        key = lambda s: (not s.meets_sla, s.estimated_cost_usd, _lat(s), s.provider.name)  # noqa: E731
    return sorted(scored, key=key)


def _with(s: Scored, score: float) -> Scored:
    return Scored(s.provider, s.estimated_cost_usd, s.p95_ms, s.latency_source, score, s.meets_sla)


def _reason(ranked: list[Scored], policy: str, ask: Ask) -> str:
    if not ranked:
        return "no provider meets the requirements"
    w = ranked[0]
    n = len(ranked)
    lat = f"{w.p95_ms:.0f} ms p95 ({w.latency_source})" if w.p95_ms is not None else "no latency data"
    if policy == "latency":
        head = f"fastest of {n}: {lat}, est. ${w.estimated_cost_usd:.6f}"
    elif policy == "balanced":
        head = f"best cost+latency blend of {n} (score {w.score}): est. ${w.estimated_cost_usd:.6f}, {lat}"
    elif policy == "prefer_local" and is_local(w.provider):
        head = f"local model (price 0) preferred among {n}: {lat}"
    else:
        sla = f" meeting p95 ≤ {ask.sla_ms_p95:.0f} ms" if ask.sla_ms_p95 is not None and w.meets_sla else ""
        head = f"cheapest of {n}{sla}: est. ${w.estimated_cost_usd:.6f}, {lat}"
    if n > 1:
        r = ranked[1]
        head += f"; next {r.provider.name} (est. ${r.estimated_cost_usd:.6f})"
    return head

"""The provider router: one view of the matrix, API-registered providers and the registry's model services,
held as an in-memory snapshot so a routing decision makes no store round trip."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from app.domain.errors import InvalidInput, NoProvider, NotFound
from app.domain.provider_router.config import RouterConfig
from app.domain.provider_router.endpoints import endpoint_problem
from app.domain.provider_router.matrix import Matrix
from app.domain.provider_router.routing import Ask, Decision, Live, Provider, Scored, rank
from app.domain.provider_router.sources import Entry, api_entry, join_registry, p95, registry_gate
from app.domain.timefmt import iso
from contracts.provider_router import (
    Candidate,
    ProviderDeactivated,
    ProviderRecord,
    ProviderRegisterRequest,
    ProviderRegisterResponse,
    ProvidersQuery,
    ProvidersResponse,
    Rejected,
    RouterHealth,
    RouterStats,
    SelectRequest,
    SelectResponse,
)
from contracts.registry import ServiceRecord
from models.gateway_store import GatewayStore
from models.provider_store import ProviderStore

log = logging.getLogger("pas.provider_router")


class ProviderRouter:
    def __init__(
        self,
        store: ProviderStore,
        gateway_store: GatewayStore,
        matrix: Matrix,
        registry_models: Callable[[], list[ServiceRecord]],
        config: RouterConfig,
        started_ms: int,
    ) -> None:
        self._store = store
        self._gw = gateway_store
        self._matrix = matrix
        self._registry_models = registry_models
        self.config = config
        self._started_ms = started_ms
        self._entries: list[Entry] = []
        self._by_name: dict[str, Entry] = {}
        self._pairs: list[tuple[Provider, Live]] = []
        self._models: frozenset[str] = frozenset()
        self._caps: frozenset[str] = frozenset()
        self._key_envs: frozenset[str] = frozenset()
        self._refreshed = 0.0
        self._lock = threading.Lock()

    @property
    def policy_sla_ms(self) -> float | None:
        return self._matrix.policy.sla_ms_p95

    @property
    def default_policy(self) -> str:
        return self._matrix.policy.prefer

    # snapshot

    def invalidate(self) -> None:
        self._refreshed = 0.0

    def _fresh(self) -> None:
        if time.monotonic() - self._refreshed > self.config.refresh_s:
            with self._lock:
                if time.monotonic() - self._refreshed > self.config.refresh_s:
                    self._refresh()

    def _refresh(self) -> None:
        now_ms = int(time.time() * 1000)
        entries: dict[str, Entry] = {}
        for p in self._matrix.providers:
            entries[p.name] = Entry(p, Live(), self._started_ms, self._started_ms, None, None)
        for name, rec in self._store.all().items():
            entry = api_entry(name, rec, self._started_ms)
            if entry is not None:
                entries[name] = entry
        models = self._registry_models()
        join_registry(entries, models, self.config, self._started_ms)
        registry = {r.name: r for r in models} | {r.service_id: r for r in models}
        windows = self._gw.windows(list(entries), self.config.window)
        for name, e in entries.items():
            w = windows.get(name)
            registry_ok, reason = registry_gate(e.provider, registry)
            measured = p95(w.latencies_ms) if w and len(w.latencies_ms) >= self.config.min_samples else None
            err = (1 - sum(w.outcomes) / len(w.outcomes)) if w and w.outcomes else None
            cool = now_ms + w.cooldown_left_ms if w and w.cooldown_left_ms > 0 else 0
            e.live = Live(measured, err, cool, registry_ok, reason)
        ordered = sorted(entries.values(), key=lambda e: e.provider.name)
        self._entries = ordered
        self._by_name = {e.provider.name: e for e in ordered}
        self._pairs = [(e.provider, e.live) for e in ordered]
        self._models = frozenset(e.provider.model for e in ordered)
        self._caps = frozenset(c for e in ordered for c in e.provider.capabilities)
        self._key_envs = frozenset(e.provider.api_key_env for e in ordered if e.provider.api_key_env)
        self._refreshed = time.monotonic()

    def mark_cooldown(self, name: str, cooldown_ms: int) -> None:
        """This process knows at once; others at their next refresh."""
        e = self._by_name.get(name)
        if e is not None:
            e.live = replace(e.live, cooldown_until_ms=int(time.time() * 1000) + cooldown_ms)
            self._pairs = [(x.provider, x.live) for x in self._entries]

    # decisions

    def decide(self, ask: Ask) -> Decision:
        self._fresh()
        return rank(self._pairs, ask, int(time.time() * 1000), self._matrix.policy.fallback_order)

    def provider(self, name: str) -> Provider | None:
        self._fresh()
        e = self._by_name.get(name)
        return e.provider if e else None

    def name_kind(self, name: str) -> str | None:
        """What a name means to the router: "provider", "model", "capability", or None (tried in that order)."""
        self._fresh()
        if name in self._by_name:
            return "provider"
        if name in self._models:
            return "model"
        return "capability" if name in self._caps else None

    def key_env_names(self) -> frozenset[str]:
        """Every environment variable a provider's key comes from (the gateway scrubs those keys)."""
        self._fresh()
        return self._key_envs

    def models(self) -> list[Provider]:
        self._fresh()
        return [e.provider for e in self._entries]

    # API

    def register(self, req: ProviderRegisterRequest) -> ProviderRegisterResponse:
        problem = endpoint_problem(req.endpoint, self.config)
        if problem is not None:
            raise InvalidInput(problem, field="endpoint")
        now_ms = int(time.time() * 1000)
        existing = self._store.get(req.name)
        record = {
            **req.model_dump(),
            "endpoint": req.endpoint.rstrip("/"),
            "source": "api",
            "active": True,  # registering again reactivates
            "created_ms": existing["created_ms"] if existing else now_ms,
            "updated_ms": now_ms,
        }
        created = self._store.upsert(req.name, record)
        self._refresh_now()
        log.info("provider_registered", extra={"provider": req.name, "new": created, "model": req.model})
        return ProviderRegisterResponse(
            action="registered" if created else "updated", provider=self.get(req.name), timestamp=iso(now_ms)
        )

    def _refresh_now(self) -> None:
        with self._lock:
            self._refresh()

    def deactivate(self, name: str) -> ProviderDeactivated:
        self._fresh()
        e = self._by_name.get(name)
        if e is None:
            raise NotFound(f"provider {name!r} not found", field="name")
        p = e.provider
        now_ms = int(time.time() * 1000)
        record = {
            "name": p.name, "model": p.model, "context_window": p.context_window,
            "cost_per_input_token": p.cost_in, "cost_per_output_token": p.cost_out, "endpoint": p.endpoint,
            "features": sorted(p.features), "capabilities": sorted(p.capabilities), "tier": p.tier,
            "slo": e.slo, "metadata": e.metadata, "source": p.source, "active": False,
            "service_id": p.service_id, "api_key_env": p.api_key_env, "protocol": p.protocol,
            "created_ms": e.created_ms, "updated_ms": now_ms,
        }  # fmt: skip
        self._store.upsert(name, record)
        self._refresh_now()
        log.info("provider_deactivated", extra={"provider": name})
        return ProviderDeactivated(provider=name)

    def _record(self, e: Entry) -> ProviderRecord:
        p, live = e.provider, e.live
        now_ms = int(time.time() * 1000)
        cooling = live.cooldown_until_ms > now_ms
        status = "inactive" if not p.active else ("cooldown" if cooling else "active")
        return ProviderRecord(
            name=p.name,
            model=p.model,
            context_window=p.context_window,
            cost_per_input_token=p.cost_in,
            cost_per_output_token=p.cost_out,
            endpoint=p.endpoint,
            features=sorted(p.features),
            slo=e.slo if e.slo is not None else ({"latency_p95_ms": p.slo_p95_ms} if p.slo_p95_ms else None),
            metadata=e.metadata,
            capabilities=sorted(p.capabilities),
            tier=p.tier,
            api_key_env=p.api_key_env,
            protocol="anthropic" if p.protocol == "anthropic" else "openai",
            status=status,
            healthy=p.active and not cooling and live.registry_ok is not False,
            source=p.source,
            created_at=iso(e.created_ms),
            updated_at=iso(e.updated_ms),
            measured_p95_ms=live.p95_ms,
            error_rate=round(live.error_rate, 4) if live.error_rate is not None else None,
            cooldown_until=iso(live.cooldown_until_ms) if cooling else None,
        )

    def list(self, q: ProvidersQuery) -> list[ProviderRecord]:
        self._fresh()
        out = []
        for e in self._entries:
            p = e.provider
            if q.model is not None and p.model != q.model:
                continue
            if q.min_context is not None and p.context_window < q.min_context:
                continue
            if q.capability is not None and q.capability not in p.capabilities:
                continue
            out.append(self._record(e))
        return out

    def providers(self, q: ProvidersQuery) -> ProvidersResponse:
        items = self.list(q)
        return ProvidersResponse(providers=items, count=len(items), timestamp=iso(int(time.time() * 1000)))

    def health(self) -> RouterHealth:
        return RouterHealth(timestamp=iso(int(time.time() * 1000)), registry_stats=self.stats())

    def get(self, name: str) -> ProviderRecord:
        self._fresh()
        e = self._by_name.get(name)
        if e is None:
            raise NotFound(f"provider {name!r} not found", field="name")
        return self._record(e)

    def select(self, req: SelectRequest) -> SelectResponse:
        r = req.requirements
        ask = Ask(
            model=r.model,
            capability=r.capability,
            provider=r.provider,
            context_tokens=r.context_window,
            features=frozenset(r.features),
            optimization=req.optimization,
            max_cost_usd=req.max_cost_usd,
            max_latency_ms=req.max_latency_ms,
            sla_ms_p95=self.policy_sla_ms,
        )
        decision = self.decide(ask)
        if decision.winner is None:
            raise NoProvider(
                "no provider meets the requirements",
                field="requirements",
                rejected=[{"name": n, "reason": why} for n, why in decision.rejected],
            )
        cands = candidates(decision)
        return SelectResponse(
            selected_provider=cands[0],
            alternatives=cands[1:],
            selection_reason=decision.reason,
            optimization=req.optimization,
            rejected=[Rejected(name=n, reason=why) for n, why in decision.rejected],
            timestamp=iso(int(time.time() * 1000)),
        )

    def stats(self) -> RouterStats:
        self._fresh()
        now_ms = int(time.time() * 1000)
        active = [e for e in self._entries if e.provider.active]
        by_source: dict[str, int] = {}
        for e in self._entries:
            by_source[e.provider.source] = by_source.get(e.provider.source, 0) + 1
        return RouterStats(
            active_providers=len(active),
            inactive_providers=len(self._entries) - len(active),
            cooldown_providers=sum(1 for e in active if e.live.cooldown_until_ms > now_ms),
            unique_models=len({e.provider.model for e in active}),
            total_models=len({e.provider.model for e in self._entries}),
            by_source=by_source,
        )


def candidate(s: Scored) -> dict[str, Any]:
    """A candidate in the Candidate contract's shape, as receipts carry it (no model round trip per call)."""
    p = s.provider
    return {"name": p.name, "model": p.model, "endpoint": p.endpoint,
            "estimated_cost_usd": round(s.estimated_cost_usd, 6), "p95_ms": s.p95_ms,
            "latency_source": s.latency_source, "score": s.score, "tier": p.tier}  # fmt: skip


def candidates(decision: Decision) -> list[Candidate]:
    return [Candidate.model_validate(candidate(s)) for s in decision.ranked]

"""Where the router's providers come from, beside the matrix: records registered through the API (kept in Redis)
and the registry's `type: model` services; and how a registry record gates a provider (PAS's own model services
are routable only while healthy there)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

from app.domain.provider_router.config import RouterConfig
from app.domain.provider_router.endpoints import endpoint_problem
from app.domain.provider_router.routing import Live, Provider
from contracts.registry import ServiceRecord
from models.stored import stored_float, stored_int

log = logging.getLogger("pas.provider_router")

DOWN_STATUSES = frozenset({"down", "error"})
# Listed but not selected: a model service that says it cannot serve well (an adapter without a key or cooling
# down after vendor errors, a local model whose file is missing).
UNROUTABLE_STATUSES = DOWN_STATUSES | {"degraded"}


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Entry:
    provider: Provider
    live: Live
    created_ms: int
    updated_ms: int
    slo: dict[str, Any] | None
    metadata: dict[str, Any] | None


def api_entry(name: str, rec: Any, started_ms: int) -> Entry | None:
    """A provider registered through POST /register; None for a record PAS did not write (an older version, a
    hand edit): it never fails every read."""
    if not isinstance(rec, dict) or not isinstance(rec.get("model"), str) or "endpoint" not in rec:
        log.warning("unreadable_provider_record", extra={"provider": name})
        return None
    return Entry(
        Provider(
            name=name,
            model=rec["model"],
            context_window=stored_int(rec.get("context_window"), 8192, lo=1),
            cost_in=stored_float(rec.get("cost_per_input_token"), lo=0, hi=1),
            cost_out=stored_float(rec.get("cost_per_output_token"), lo=0, hi=1),
            endpoint=str(rec["endpoint"]),
            capabilities=frozenset(rec.get("capabilities") or []),
            features=frozenset(rec.get("features") or []),
            tier=rec.get("tier"),
            slo_p95_ms=_slo_p95(rec.get("slo")),
            source=rec.get("source", "api"),
            active=bool(rec.get("active", True)),
            service_id=rec.get("service_id"),
            api_key_env=rec.get("api_key_env"),
            protocol="anthropic" if rec.get("protocol") == "anthropic" else "openai",
        ),
        Live(),
        stored_int(rec.get("created_ms"), started_ms),
        stored_int(rec.get("updated_ms"), started_ms),
        rec.get("slo"),
        rec.get("metadata"),
    )


def join_registry(entries: dict[str, Entry], models: list[ServiceRecord], cfg: RouterConfig, started_ms: int) -> None:
    """The registry's model services into `entries`: one PAS already lists (its own model service in the matrix)
    adds the capabilities it registered with; any other becomes a provider of its own."""
    for r in models:
        own = entries.get(r.name)
        if own is not None and own.provider.service_id == r.service_id and not set(r.caps) <= own.provider.capabilities:
            # config/adapters.json's tool_use, planning … beside the matrix's chat
            own.provider = replace(own.provider, capabilities=own.provider.capabilities | frozenset(r.caps))
        if r.name in entries or not r.url:
            continue
        if endpoint_problem(r.url, cfg) is not None:
            continue  # a registry url is client-supplied: the same allowlist as /register (no SSRF)
        labels = r.labels or {}
        entries[r.name] = Entry(
            Provider(
                name=r.name,
                model=str(labels.get("model") or r.name),
                # labels are free-form: a context_window there may be anything
                context_window=r.ctx_limit or stored_int(labels.get("context_window"), 8192, lo=1),
                cost_in=(r.cost_hint_usd_per_1k or 0.0) / 1000,
                cost_out=(r.cost_hint_usd_per_1k or 0.0) / 1000,
                endpoint=r.url.rstrip("/"),
                capabilities=frozenset(r.caps),
                tier=str(labels["tier"]) if labels.get("tier") is not None else None,
                slo_p95_ms=r.p95_ms,
                source="registry",
                service_id=r.service_id,
            ),
            Live(),
            started_ms,
            started_ms,
            None,
            None,
        )


def registry_gate(p: Provider, registry: dict[str, ServiceRecord]) -> tuple[bool | None, str | None]:
    """(routable, why not) from the provider's registry record; None: it has none and needs none."""
    reg = registry.get(p.service_id or p.name)
    if reg is not None:
        reason = "degraded: " + (reg.message or "no reason given") if reg.status == "degraded" else None
        return reg.status not in UNROUTABLE_STATUSES, reason
    if p.service_id is not None:
        return False, "not running"  # one of PAS's own model services that is not running
    return None, None


def _slo_p95(slo: dict[str, Any] | None) -> float | None:
    if not slo:
        return None
    value = slo.get("latency_p95_ms", slo.get("p95_ms"))
    return float(value) if isinstance(value, int | float) else None

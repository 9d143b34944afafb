"""config/providers.matrix.json → providers (capability → candidates, merged per provider+model)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.provider_router.routing import Provider


@dataclass(frozen=True)
class RoutingPolicy:
    prefer: str = "cheapest_that_meets_sla"
    sla_ms_p95: float | None = 1500.0
    fallback_order: tuple[str, ...] = ("tier1", "tier2", "tier3")


@dataclass
class Matrix:
    providers: list[Provider] = field(default_factory=list)
    policy: RoutingPolicy = field(default_factory=RoutingPolicy)


def resolve_endpoint(endpoint: str, host: str, offset: int) -> tuple[str, bool]:
    """'pas:<port>' is one of PAS's own ports (shifted like every bound port); True when it is."""
    if endpoint.startswith("pas:"):
        port = int(endpoint.removeprefix("pas:")) + offset
        return f"http://{host}:{port}", True
    return endpoint, False


def _cost(entry: dict[str, Any], key: str) -> float:
    if key in entry:
        return float(entry[key])
    return float(entry.get("usd_per_1k", 0)) / 1000


def load_matrix(path: Path, host: str = "127.0.0.1", offset: int = 0) -> Matrix:
    if not path.exists():
        return Matrix()
    raw = json.loads(path.read_text())
    merged: dict[str, dict[str, Any]] = {}
    for capability, entries in (raw.get("capabilities") or {}).items():
        for entry in entries:
            if "agent" in entry or "model" not in entry:  # agent candidates belong to the agent router
                continue
            name = entry.get("name") or f"{entry['provider']}-{entry['model']}"
            slot = merged.setdefault(name, {**entry, "caps": set()})
            slot["caps"].add(capability)
    providers = []
    for name, entry in sorted(merged.items()):
        endpoint, own = resolve_endpoint(str(entry.get("endpoint", "")), host, offset)
        providers.append(
            Provider(
                name=name,
                model=str(entry["model"]),
                context_window=int(entry.get("context_window", 8192)),
                cost_in=_cost(entry, "cost_per_input_token"),
                cost_out=_cost(entry, "cost_per_output_token"),
                endpoint=endpoint,
                capabilities=frozenset(entry["caps"]),
                features=frozenset(entry.get("features", [])),
                tier=entry.get("tier"),
                slo_p95_ms=float(entry["p95_ms"]) if entry.get("p95_ms") is not None else None,
                source="matrix",
                # PAS's own model services announce themselves in the registry: routable only while healthy there
                service_id=name if own else None,
                api_key_env=entry.get("api_key_env"),
                protocol="anthropic" if entry.get("protocol") == "anthropic" else "openai",
            )
        )
    rp = raw.get("routing_policy") or {}
    policy = RoutingPolicy(
        prefer=str(rp.get("prefer", "cheapest_that_meets_sla")),
        sla_ms_p95=float(rp["sla_ms_p95"]) if rp.get("sla_ms_p95") is not None else None,
        fallback_order=tuple(rp.get("fallback_order", ("tier1", "tier2", "tier3"))),
    )
    return Matrix(providers, policy)

"""The vendor adapters as configured: config/adapters.json (the pricing table) plus, per adapter, whether its key
is set and which base URL it calls. The key itself stays with the caller's lookup: nothing here keeps or shows it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contracts.models import AdapterConfig, AdaptersFile
from contracts.registry import RegisterRequest

QUEUE = "adapters"  # the adapter workers' Celery queue (namespaced by the broker's key prefix)
TASK = "pas.adapters.chat"
HOST_NAME = "adapters"  # the adapter workers' live facts (LlmCallStore.publish_host)
ENDPOINTS = ["/", "/health", "/info", "/chat/completions", "/docs", "/openapi.json"]

Lookup = Callable[[str], str | None]  # an environment variable by name (Settings.env_value)


@functools.cache
def load_adapters(path: Path) -> tuple[AdapterConfig, ...]:
    return tuple(AdaptersFile.model_validate_json(path.read_bytes()).adapters)


def by_provider(adapters: tuple[AdapterConfig, ...]) -> dict[str, AdapterConfig]:
    return {a.provider: a for a in adapters}


def api_key(adapter: AdapterConfig, lookup: Lookup) -> str | None:
    """The first of the adapter's key variables that is set (GROK_API_KEY, then XAI_API_KEY)."""
    return next((v for v in (lookup(name) for name in adapter.key_env) if v), None)


def base_url(adapter: AdapterConfig, lookup: Lookup) -> str:
    return (lookup(adapter.base_url_env) or adapter.default_base_url).rstrip("/")


@dataclass(frozen=True)
class Placement:
    host: str
    port_offset: int

    def url(self, adapter: AdapterConfig) -> str:
        return f"http://{self.host}:{adapter.port + self.port_offset}"


def registration(adapter: AdapterConfig, placement: Placement) -> RegisterRequest:
    """The adapter as a registry service (type "model", never "agent"): the router merges it with the matrix
    entry of the same name, and skips it while it is degraded."""
    interval = adapter.heartbeat_interval_s
    return RegisterRequest(
        service_id=adapter.name,
        name=adapter.name,
        type="model",
        role="production",
        url=placement.url(adapter),
        caps=adapter.capabilities,
        labels={
            "kind": "adapter",
            "provider": adapter.provider,
            "model": adapter.model,
            "context_window": adapter.context_window,
            "cost_per_input_token": adapter.cost_per_input_token,
            "cost_per_output_token": adapter.cost_per_output_token,
        },
        ctx_limit=adapter.context_window,
        heartbeat_interval_s=interval,
        ttl_s=max(30, interval * 10),
    )

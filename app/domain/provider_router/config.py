"""The provider router's configuration (from Settings, in app/wiring.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RouterConfig:
    refresh_s: float = 0.5  # how stale a snapshot may get before a decision refreshes it
    window: int = 200  # receipts in each provider's rolling window
    min_samples: int = 3  # measured p95 is used from this many samples on
    own_host: str = "127.0.0.1"
    own_ports: frozenset[int] = frozenset()  # PAS's own model services and adapters (pas:<port>): allowed
    pas_ports: frozenset[int] = frozenset()  # every other port PAS binds (the gateway among them): refused
    allowlist: frozenset[str] = frozenset()  # host or host:port

"""What a gateway call carries: its configuration, what the caller says of it, what it answers, and the state of
one call in progress (what its receipt will say)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.domain.gateway.upstream import MAX_HOPS
from app.domain.provider_router.routing import Decision
from models.gateway_store import AttemptRecord


@dataclass(frozen=True)
class GatewayConfig:
    costs_dir: Path
    retries: int = 1  # extra attempts on one provider for a retryable error
    max_providers: int = 3  # the winner and up to two fallbacks
    backoff_s: float = 0.05
    backoff_max_s: float = 1.0
    default_timeout_s: float = 60.0
    trip_after: int = 3  # consecutive failures that start a cooldown
    cooldown_s: float = 30.0
    window: int = 200
    interrupted_grace_s: float = 30.0
    idempotency_ttl_s: int = 86_400
    max_hops: int = MAX_HOPS  # an inbound call that passed this many PAS gateways already is a loop


@dataclass
class CallMeta:
    request_id: str
    run_id: str | None
    agent: str
    timeout_s: float | None = None
    metadata: dict[str, Any] | None = None
    hops: int = 0  # PAS gateways this call already passed through (X-PAS-Hops)
    surface: str = "openai"  # the protocol the caller speaks: openai (/v1, /route, /invoke) or anthropic
    session_id: str | None = None  # the Claude Code session and sub-agent the call is for, if any
    agent_id: str | None = None
    forward_headers: dict[str, str] = field(default_factory=dict)  # caller's headers the upstream needs as they came


@dataclass
class CallResult:
    receipt: dict[str, Any]
    body: bytes | None = None  # the upstream's answer, as it sent it
    decision: Decision | None = None

    @property
    def response(self) -> dict[str, Any] | None:
        return json.loads(self.body) if self.body else None


@dataclass
class Call:
    """One call in progress: what the receipt will say."""

    meta: CallMeta
    receipt_id: str
    t0: float
    decision: Decision
    discovery_ms: float
    estimate: int = 0
    pending: bool = False
    attempts: list[dict[str, Any]] = field(default_factory=list)
    records: list[AttemptRecord] = field(default_factory=list)

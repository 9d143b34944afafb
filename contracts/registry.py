from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from contracts.common import ID_PATTERN, Body, FiniteFloat, Query, Request, SafeInt

ServiceType = Literal["model", "tool", "agent"]
ServiceRole = Literal["production", "staging", "canary", "experimental"]
ServiceStatus = Literal[
    "ok", "degraded", "down", "queued", "running", "blocked", "waiting_approval", "paused", "error", "done"
]


class CostHint(Request):
    usd_per_1k: FiniteFloat = Field(ge=0)


class RegisterRequest(Request):
    """service_registration: register or update (upsert) a service; counts as a heartbeat."""

    service_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=100, pattern=ID_PATTERN)
    type: ServiceType
    role: ServiceRole
    url: str = Field(max_length=2048, pattern=r"^(https?|internal)://\S+$")
    caps: list[str] = Field(min_length=1, max_length=100)
    labels: dict[str, Any] | None = None
    ctx_limit: SafeInt | None = Field(default=None, ge=0)
    cost_hint: CostHint | None = None
    heartbeat_interval_s: int = Field(default=60, ge=1, le=86400)
    ttl_s: int = Field(default=90, ge=1, le=604800)


class RegisterResponse(Body):
    service_id: str
    registered_at: str
    created: bool
    epoch: int


class HeartbeatRequest(Request):
    """service_heartbeat: liveness plus optional metrics; omitted metrics keep their old values."""

    service_id: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    status: ServiceStatus = "ok"
    p95_ms: FiniteFloat | None = Field(default=None, ge=0)
    queue_depth: SafeInt | None = Field(default=None, ge=0)
    load: FiniteFloat | None = Field(default=None, ge=0)
    message: str | None = Field(default=None, max_length=2000)
    progress: FiniteFloat | None = Field(default=None, ge=0, le=100)
    # The client's own clock: shown (with the skew) but never used for liveness.
    ts: Annotated[str, Field(max_length=100)] | FiniteFloat | None = None
    # Registration epoch from /register; a beat from an older registration is refused.
    epoch: SafeInt | None = Field(default=None, ge=1)


class HeartbeatResponse(Body):
    success: bool = True
    ts: str
    status: ServiceStatus
    epoch: int
    # Set while PAS asks agents to hold new work (the HMI's Pause All).
    paused: bool = False


class DiscoverQuery(Query):
    """service_discovery_query: filters ANDed; `cap` matches one element of caps exactly."""

    type: ServiceType | None = None
    role: ServiceRole | None = None
    cap: str | None = None
    name: str | None = None
    status: ServiceStatus | None = None


class ServiceRecord(Body):
    service_id: str
    name: str
    type: ServiceType
    role: ServiceRole
    url: str
    caps: list[str]
    labels: dict[str, Any] | None
    ctx_limit: int | None
    cost_hint_usd_per_1k: float | None
    status: ServiceStatus
    last_heartbeat_ts: str
    registered_at: str
    p95_ms: float | None
    queue_depth: int | None
    load: float | None
    heartbeat_interval_s: int
    ttl_s: int
    missed_beats: int
    message: str | None = None
    progress: float | None = None
    epoch: int
    # Held from deregistration by self-preservation (most services went silent at once).
    suspect: bool = False
    client_ts: str | float | None = None
    clock_skew_ms: int | None = None


class ServiceList(Body):
    items: list[ServiceRecord]


class PromoteRequest(Request):
    name: str = Field(min_length=1, max_length=100)
    from_role: ServiceRole
    to_role: ServiceRole


class PromoteResponse(Body):
    updated_instances: int
    ts: str


class DeregisterRequest(Request):
    service_id: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)


class RegistryHealth(Body):
    status: Literal["ok"] = "ok"
    registered: int
    healthy: int

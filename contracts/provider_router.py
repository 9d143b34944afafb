"""Provider router wire shapes — legacy port 6103 (API-CONTRACT §10)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.common import Body, FiniteFloat, Query, Request, SafeInt

Optimization = Literal[
    "cost", "latency", "balanced", "prefer_local", "local", "cheapest_that_meets_sla", "fastest"
]  # fmt: skip
ProviderStatus = Literal["active", "inactive", "cooldown"]
ProviderSource = Literal["matrix", "api", "registry"]


# The name of the environment variable holding a provider's API key (the key itself never crosses the wire).
KEY_ENV_PATTERN = r"^(PAS_PROVIDER_KEY_[A-Z0-9_]{1,60}|OPENAI_API_KEY|ANTHROPIC_API_KEY|GEMINI_API_KEY|XAI_API_KEY)$"


ENDPOINT_PATTERN = r"^https?://[^\x00-\x20\x7f/?#@]+(/[^\x00-\x20\x7f?#]*)?$"


class ProviderRegisterRequest(Request):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@/-]+$")
    model: str = Field(min_length=1, max_length=200)
    context_window: int = Field(ge=1, le=2_000_000)
    cost_per_input_token: FiniteFloat = Field(ge=0, le=1)
    cost_per_output_token: FiniteFloat = Field(ge=0, le=1)
    # The wire the endpoint speaks: `openai` (PAS calls <endpoint>/chat/completions, key as a Bearer token) or
    # `anthropic` (<endpoint>/v1/messages, key as x-api-key); PAS translates between the two where they differ.
    protocol: Literal["openai", "anthropic"] = "openai"
    # An OpenAI base URL (or Anthropic's, per `protocol`). The pattern is the shape (http(s), a host, no
    # credentials, query or fragment); the host must also be allowlisted (PAS_UPSTREAM_ALLOWLIST) or one of PAS's
    # own model services, and never PAS's own gateway ports (422 naming `endpoint` otherwise).
    endpoint: str = Field(min_length=1, max_length=2000, pattern=ENDPOINT_PATTERN)
    features: list[str] = Field(default_factory=list, max_length=100)
    slo: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    capabilities: list[str] = Field(default_factory=list, max_length=100)
    tier: str | None = Field(default=None, max_length=50)
    api_key_env: str | None = Field(default=None, pattern=KEY_ENV_PATTERN)


class ProviderRecord(Body):
    name: str
    model: str
    context_window: int
    cost_per_input_token: float
    cost_per_output_token: float
    endpoint: str
    features: list[str]
    slo: dict[str, Any] | None
    metadata: dict[str, Any] | None
    capabilities: list[str]
    tier: str | None = None
    api_key_env: str | None = None  # the variable's name; PAS sends its value upstream (per protocol)
    protocol: Literal["openai", "anthropic"] = "openai"
    status: ProviderStatus
    healthy: bool
    source: ProviderSource
    created_at: str
    updated_at: str
    # measured from receipts (rolling window); null until calls were made
    measured_p95_ms: float | None = None
    error_rate: float | None = None
    cooldown_until: str | None = None


class ProviderRegisterResponse(Body):
    status: Literal["success"] = "success"
    action: Literal["registered", "updated"]
    provider: ProviderRecord
    timestamp: str


class ProvidersQuery(Query):
    model: str | None = None
    min_context: SafeInt | None = Field(default=None, ge=0)
    capability: str | None = None


class ProvidersResponse(Body):
    providers: list[ProviderRecord]
    count: int
    timestamp: str


class ProviderDeactivated(Body):
    status: Literal["success"] = "success"
    action: Literal["deactivated"] = "deactivated"
    provider: str


class Requirements(Request):
    model: str | None = Field(default=None, max_length=200)
    capability: str | None = Field(default=None, max_length=200)
    # The request's token count: a provider is a candidate only when it fits.
    context_window: int | None = Field(default=None, ge=0, le=2_000_000)
    features: list[str] = Field(default_factory=list, max_length=100)
    # A provider by name (the OpenAI surface's `model` may name one).
    provider: str | None = Field(default=None, max_length=100)


class SelectRequest(Request):
    requirements: Requirements = Field(default_factory=Requirements)
    optimization: Optimization = "cost"
    max_cost_usd: FiniteFloat | None = Field(default=None, ge=0)
    max_latency_ms: FiniteFloat | None = Field(default=None, ge=0)


class Candidate(Body):
    name: str
    model: str
    endpoint: str
    estimated_cost_usd: float
    p95_ms: float | None
    latency_source: Literal["measured", "slo", "none"]
    score: float
    tier: str | None = None


class Rejected(Body):
    name: str
    reason: str


class SelectResponse(Body):
    selected_provider: Candidate
    alternatives: list[Candidate]
    selection_reason: str
    optimization: str
    rejected: list[Rejected] = Field(default_factory=list)
    timestamp: str


class RouterStats(Body):
    active_providers: int
    inactive_providers: int
    cooldown_providers: int
    unique_models: int
    total_models: int
    by_source: dict[str, int]


class RouterHealth(Body):
    status: Literal["ok"] = "ok"
    service: Literal["provider_router"] = "provider_router"
    port: int = 6103
    timestamp: str
    registry_stats: RouterStats

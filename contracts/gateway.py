"""Gateway wire shapes — legacy port 6120 and the OpenAI-compatible /v1 surface (API-CONTRACT §10)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from contracts.common import ID_PATTERN, MAX_SAFE_INT, Body, FiniteFloat, Query, Request, SafeInt
from contracts.provider_router import Candidate, Optimization, Requirements, RouterStats

ReceiptStatus = Literal["pending", "success", "error", "timeout", "fallback", "partial", "interrupted"]
AlertLevel = Literal["ok", "caution", "warning", "critical"]
Window = Literal["minute", "hour", "day"]

RUN_ID = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)


class RouteBudget(Request):
    max_cost_usd: FiniteFloat | None = Field(default=None, ge=0)
    max_latency_ms: FiniteFloat | None = Field(default=None, ge=0)


class RouteRequest(Request):
    request_id: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    run_id: str | None = RUN_ID
    agent: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    requirements: Requirements
    budget: RouteBudget | None = None
    optimization: Optimization = "cost"
    # OpenAI chat-completions parameters, passed to the upstream; absent = a dry run.
    payload: dict[str, Any] | None = None
    timeout_s: FiniteFloat | None = Field(default=None, gt=0, le=600)


class InvokeTarget(Request):
    type: Literal["model", "tool", "agent"] = "model"
    role: str | None = Field(default=None, max_length=50)
    require_caps: list[str] = Field(default_factory=list, max_length=50)
    name: str | None = Field(default=None, max_length=200)


class InvokePolicy(Request):
    prefer: Optimization = "cheapest_that_meets_sla"
    timeout_s: FiniteFloat | None = Field(default=None, gt=0, le=600)
    sla_ms_p95: FiniteFloat | None = Field(default=None, ge=0)
    max_cost_usd: FiniteFloat | None = Field(default=None, ge=0)


class InvokeRequest(Request):
    target: InvokeTarget
    payload: dict[str, Any] | None = None
    policy: InvokePolicy = Field(default_factory=InvokePolicy)
    request_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)
    run_id: str | None = RUN_ID
    agent: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)


class Attempt(Body):
    provider: str
    outcome: str  # ok, http_<code>, timeout, connect_error, protocol_error
    ms: float
    retryable: bool = False


class Resolved(Body):
    service_id: str | None
    name: str
    url: str


class Receipt(Body):
    receipt_id: str
    request_id: str
    run_id: str
    agent: str
    timestamp: str
    provider: str | None
    model: str | None
    input_tokens: int  # uncached input; with an upstream that reports cache use, the two fields below add to it
    output_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    tokens_exact: bool
    cost_usd: float
    latency_ms: float
    status: ReceiptStatus
    surface: Literal["openai", "anthropic"] = Field(
        default="openai", description="the protocol the caller spoke: openai (/v1, /route, /invoke) or anthropic"
    )
    session_id: str | None = Field(default=None, description="the Claude Code session (X-Claude-Code-Session-Id)")
    agent_id: str | None = Field(default=None, description="the Claude Code sub-agent (x-claude-code-agent-id)")
    dry_run: bool = False
    stream: bool = False
    error_message: str | None = None
    fallback_from: str | None = None
    resolved: Resolved | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    attempts: list[Attempt] = Field(default_factory=list)
    candidates: list[Candidate] = Field(default_factory=list)
    selection_reason: str | None = None
    metadata: dict[str, Any] | None = None


class RouteCost(Body):
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float


class RouteResponse(Body):
    request_id: str
    run_id: str | None
    status: Literal["success", "error", "timeout"]
    provider: str | None
    model: str | None
    response: dict[str, Any] | None
    cost: RouteCost
    alternatives: list[Candidate]
    dry_run: bool
    receipt_id: str
    error: str | None = None
    timestamp: str


class MetricsQuery(Query):
    window: Window = "hour"


class Metrics(Body):
    window: Window
    total_cost_usd: float
    total_requests: int
    total_tokens: int
    cost_per_request: float
    requests_per_provider: dict[str, int]
    cost_per_provider: dict[str, float]
    tokens_per_provider: dict[str, int] = Field(default_factory=dict)
    errors: int = 0
    window_s: int


class ReceiptsResponse(Body):
    run_id: str
    receipts: list[Receipt]
    count: int
    total_cost_usd: float


class BudgetSetRequest(Request):
    """POST /budget: from the query (the user's clients) or this JSON body."""

    model_config = ConfigDict(extra="forbid", strict=False)  # query strings arrive as text
    run_id: str | None = RUN_ID
    agent: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)
    budget_usd: FiniteFloat = Field(gt=0, le=1_000_000)


class BudgetSetBody(Request):
    """POST /budget's JSON body; any field may instead come from the query (empty body: query only)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    run_id: str | None = RUN_ID
    agent: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)
    budget_usd: FiniteFloat | None = Field(default=None, gt=0, le=1_000_000)


class BudgetSetResponse(Body):
    run_id: str | None
    agent: str | None = None
    budget_usd: float
    status: Literal["Budget set successfully"] = "Budget set successfully"


class BudgetStatus(Body):
    run_id: str
    budget_set: bool
    message: str | None = None
    budget_usd: float | None = None
    spent_usd: float | None = None
    in_flight_usd: float | None = None
    remaining_usd: float | None = None
    percent_used: float | None = None
    alert_level: AlertLevel | None = None
    can_proceed: bool | None = None


class GatewayHealth(Body):
    status: Literal["ok"] = "ok"
    service: Literal["gateway"] = "gateway"
    port: int = 6120
    timestamp: str
    dependencies: dict[str, str]
    pending_receipts: int = 0


class ChatCompletionRequest(Request):
    """The OpenAI chat-completions body. Listed parameters only: a client never chooses where PAS sends keys
    (`api_base`, `base_url` … are 422)."""

    model_config = ConfigDict(extra="forbid", strict=False)
    model: str = Field(min_length=1, max_length=200)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: FiniteFloat | None = Field(default=None, ge=0, le=2)
    top_p: FiniteFloat | None = Field(default=None, ge=0, le=1)
    n: int | None = Field(default=None, ge=1, le=16)
    stop: str | list[str] | None = None
    max_tokens: SafeInt | None = Field(default=None, ge=1)
    max_completion_tokens: SafeInt | None = Field(default=None, ge=1)
    presence_penalty: FiniteFloat | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: FiniteFloat | None = Field(default=None, ge=-2, le=2)
    logit_bias: dict[str, FiniteFloat] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    user: str | None = Field(default=None, max_length=200)
    seed: SafeInt | None = Field(default=None, ge=-MAX_SAFE_INT)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    store: bool | None = None
    service_tier: str | None = None
    reasoning_effort: str | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    function_call: str | dict[str, Any] | None = None


class ModelEntry(Body):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class OpenAIErrorDetail(Body):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(Body):
    """Every error under /v1, in OpenAI's shape (what the official SDKs read); an upstream's own answer to a bad
    request is relayed as it came, and OpenAI-compatible upstreams answer in this shape too."""

    error: OpenAIErrorDetail


class ModelList(Body):
    object: Literal["list"] = "list"
    data: list[ModelEntry]


class CostsQuery(Query):
    window: Window = "hour"
    limit: int = Field(default=50, ge=1, le=1000)


class CostsView(Body):
    """The HMI's /api/costs: the gateway's metrics, the router's stats, and the latest receipts."""

    timestamp: str
    cost_metrics: Metrics
    provider_stats: RouterStats
    usd_per_min: float
    tokens_per_min: float
    recent: list[Receipt]

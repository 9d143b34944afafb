"""Agent router — legacy port 6119 (API-CONTRACT.md §11): /discover, /invoke, /stats, /health. The Claude Code
hook shapes are in contracts/hooks.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from contracts.agents import AgentRole
from contracts.common import ID_PATTERN, Body, FiniteFloat, Request

Transport = Literal["rpc", "file", "mcp", "rest"]
InvokeStatus = Literal["success", "timeout", "error"]
CapabilityName = Annotated[str, Field(min_length=1, max_length=100, pattern=ID_PATTERN)]


class AgentDiscoverRequest(Request):
    """agent_discover_request: filters ANDed over the registry's type:"agent" records."""

    capabilities: list[CapabilityName] = Field(default_factory=list, max_length=50)  # all of them (subset match)
    agent_role: AgentRole | None = None
    tier: int | None = Field(default=None, ge=0, le=1000)  # labels.tier, compared as an int
    limit: int = Field(default=10, ge=1, le=1000)


class AgentEntry(Body):
    agent_name: str  # service_id minus "agent-"
    display_name: str
    role: str | None  # labels.agent_role
    tier: int | None  # labels.tier as an int (None: missing or not a number)
    capabilities: list[str]
    url: str
    status: str  # the registry's status of the record


class AgentDiscoverResponse(Body):
    count: int  # entries returned (at most `limit`)
    agents: list[AgentEntry]  # ordered by tier, then agent_name


class AgentInvokeRequest(Request):
    """agent_invoke_request: run one agent, named or found by capability (the first discover match); at least one
    of `agent_name` and `capabilities` (both: the named agent must have the capabilities)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["agent_name"], "properties": {"agent_name": {"type": "string"}}},
                {"required": ["capabilities"], "properties": {"capabilities": {"type": "array"}}},
            ]
        }
    )
    request_id: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    agent_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)
    capabilities: list[CapabilityName] | None = Field(default=None, min_length=1, max_length=50)
    run_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)
    # Free-form: sent to the agent's model as the user message (compact JSON); never stored.
    payload: dict[str, Any] = Field(default_factory=dict)
    timeout_s: FiniteFloat = Field(default=30, gt=0, le=600)  # hard limit on the whole invoke
    transport: Transport | None = None  # default: the agent's catalogue transport

    @model_validator(mode="after")
    def _names_an_agent(self) -> Self:
        if self.agent_name is None and self.capabilities is None:  # 422 naming agent_name, as the schema's anyOf
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    {
                        "type": PydanticCustomError("missing", "agent_name or capabilities is required"),
                        "loc": ("agent_name",),
                        "input": None,
                    }
                ],
            )
        return self


class InvokeUsage(Body):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    tokens_exact: bool  # from the upstream's usage (else estimated)
    cost_usd: float


class InvokeResult(Body):
    text: str  # the model's answer
    provider: str
    model: str
    usage: InvokeUsage
    receipt_id: str  # the gateway receipt of the call (GET /api/gateway/receipts/<run_id>)


class InvokeMetadata(Body):
    transport: Transport  # as asked (or the agent's); every transport runs the same way, see `delivery`
    agent_role: str | None
    tier: int | None
    job_id: str | None  # the Celery job that ran the agent (GET /jobs/<job_id>); None if none was started
    run_id: str  # the run the receipt and the token governor's record are under
    delivery: Literal["gateway_job"] = "gateway_job"


class AgentInvokeResponse(Body):
    request_id: str
    agent_name: str
    status: InvokeStatus
    result: InvokeResult | None
    error: str | None
    metadata: InvokeMetadata
    latency_ms: float


class AgentRouterStats(Body):
    total_agents: int  # type:"agent" records in the registry
    by_role: dict[str, int]  # coord, exec, system (always present)
    by_tier: dict[str, int]  # "1", "2" …; "unknown" for a record whose labels.tier is not a number
    cache_updated: str  # when the registry was read for this answer (the router keeps no cache)


class AgentRouterHealth(Body):
    status: Literal["ok"] = "ok"
    service: Literal["agent_router"] = "agent_router"
    port: int
    timestamp: str
    cached_agents: int  # type:"agent" records in the registry (read per request: there is no cache)
    # Claude Code sessions and sub-agent runs PAS is following through the hooks.
    open_sessions: int = 0
    running_agents: int = 0

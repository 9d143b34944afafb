from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from contracts.common import ID_PATTERN, Body, FiniteFloat, Query, Request, SafeInt

ContextStatus = Literal["ok", "warning", "breach"]
ContextAction = Literal["monitor_closely", "save_state_clear_resume"]
TriggerReason = Literal["hard_max_breach", "manual", "soft_timeout"]


class Message(Request):
    """A chat message as agents send them; extra keys (name, tool_calls …) are kept."""

    model_config = ConfigDict(extra="allow", strict=True)
    role: str = Field(min_length=1, max_length=50)
    content: str | list[Any] | None = None


class TrackRequest(Request):
    agent: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    run_id: str = Field(default="default", min_length=1, max_length=200, pattern=ID_PATTERN)
    ctx_used: SafeInt = Field(ge=0)
    ctx_limit: SafeInt = Field(gt=0)
    target_ratio: FiniteFloat | None = Field(default=None, ge=0, le=1)
    hard_max_ratio: FiniteFloat | None = Field(default=None, ge=0, le=1)
    # The recent conversation, kept in a capped window for the summary.
    messages: list[Message] | None = Field(default=None, max_length=1000)
    # Or a transcript file PAS may read, under PAS_TRANSCRIPT_ROOT.
    transcript_path: str | None = Field(default=None, max_length=4096)
    # The model the agent runs on, for exact token counts of `messages` where its tokenizer is known.
    model: str | None = Field(default=None, max_length=200)


class TokenFigure(Body):
    tokens: int
    exact: bool  # the provider's own tokenizer; False = an estimate
    method: str


class TrackResponse(Body):
    agent: str
    run_id: str
    ctx_used: int
    ctx_limit: int
    ctx_ratio: float
    status: ContextStatus
    action: ContextAction | None
    target_ratio: float
    hard_max_ratio: float
    ts: str
    # Tokens in the messages this call sent (exact for OpenAI models named in `model`, else estimated).
    messages_tokens: TokenFigure | None = None


class StatusQuery(Query):
    agent: str | None = None
    run_id: str | None = None


class AgentContext(Body):
    agent: str
    run_id: str
    ctx_used: int
    ctx_limit: int
    ctx_ratio: float
    target_ratio: float
    hard_max_ratio: float
    status: ContextStatus
    action: ContextAction | None
    last_updated: str
    breaches: int


class StatusResponse(Body):
    agents: list[AgentContext]


class SummarizeRequest(Request):
    agent: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    run_id: str = Field(default="default", min_length=1, max_length=200, pattern=ID_PATTERN)
    trigger_reason: TriggerReason
    content_to_summarize: str | None = Field(default=None, max_length=900_000)


class Summary(Body):
    summary_id: str
    agent: str
    run_id: str
    trigger_reason: TriggerReason
    ctx_before: int
    ctx_after: int
    summary_path: str
    method: Literal["extractive", "model"]
    model: str | None = None  # the local model that wrote it (method "model")
    created_at: str


class SummarizeResponse(Body):
    summary_id: str
    agent: str
    run_id: str
    summary_path: str
    ctx_before: int
    ctx_after: int
    method: Literal["extractive", "model"]
    model: str | None = None  # the local model that wrote it (method "model")
    ts: str


class SummariesQuery(Query):
    agent: str | None = None
    run_id: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)


class SummariesResponse(Body):
    summaries: list[Summary]


class ClearRequest(Request):
    agent: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)
    run_id: str | None = Field(default=None, min_length=1, max_length=200, pattern=ID_PATTERN)


class ClearResponse(Body):
    success: bool = True
    agent: str
    run_id: str
    ctx_before: int
    ts: str


class ResumeQuery(Query):
    agent: str = Field(min_length=1, max_length=200)
    run_id: str = Field(default="default", min_length=1, max_length=200)


class ResumeResponse(Body):
    agent: str
    run_id: str
    summary_id: str
    summary_path: str
    context: str
    created_at: str


class GovernorHealth(Body):
    status: Literal["ok"] = "ok"
    tracked: int
    breaches: int

"""Anthropic's Messages API on the main port (/anthropic/v1): what Claude Code and the `anthropic` SDK send, and
the errors they read.

The fields PAS reads are validated; the rest of the body is Anthropic's to define and reaches an Anthropic-protocol
upstream as it came (new Claude Code versions send new fields: `context_management`, betas …). PAS alone picks the
upstream URL and its key, whatever the body says."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from contracts.common import Body, FiniteFloat, Request, SafeInt

ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    508: "invalid_request_error",
    529: "overloaded_error",
}


class MessageParam(Request):
    model_config = ConfigDict(extra="allow", strict=True)
    # Claude Code 2.1.197 also sends `system` messages mid-conversation (the agents the Agent tool offers)
    role: Literal["user", "assistant", "system"]
    content: str | list[dict[str, Any]] = Field(max_length=100_000)


class MessagesRequest(Request):
    """POST /anthropic/v1/messages. `model` names a provider, a model, a capability or an alias
    (config/anthropic_aliases.json: opus, sonnet, haiku, claude-* ids)."""

    model_config = ConfigDict(extra="allow", strict=True)
    model: str = Field(min_length=1, max_length=200)
    max_tokens: SafeInt = Field(ge=1)
    messages: list[MessageParam] = Field(min_length=1, max_length=10_000)
    system: str | list[dict[str, Any]] | None = None
    stream: bool = False
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=1000)
    tool_choice: dict[str, Any] | None = None
    stop_sequences: list[str] | None = Field(default=None, max_length=100)
    temperature: FiniteFloat | None = Field(default=None, ge=0, le=1)
    top_p: FiniteFloat | None = Field(default=None, ge=0, le=1)
    top_k: SafeInt | None = Field(default=None, ge=0)
    metadata: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None


class CountTokensRequest(Request):
    """POST /anthropic/v1/messages/count_tokens."""

    model_config = ConfigDict(extra="allow", strict=True)
    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageParam] = Field(min_length=1, max_length=10_000)
    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = Field(default=None, max_length=1000)
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None


class CountTokensResponse(Body):
    input_tokens: int = Field(description="PAS's count (the tokenizer of the routed model's family, or an estimate)")


class AnthropicErrorDetail(Body):
    type: str = Field(examples=["invalid_request_error"])
    message: str


class AnthropicErrorBody(Body):
    """Every error under /anthropic, in Anthropic's shape (what the SDK and Claude Code read)."""

    type: Literal["error"] = "error"
    error: AnthropicErrorDetail


class AnthropicModel(Body):
    type: Literal["model"] = "model"
    id: str
    display_name: str
    created_at: str


class AnthropicModelList(Body):
    data: list[AnthropicModel]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None

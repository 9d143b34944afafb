"""Agent router — legacy port 6119, main port /api/agent-router (API-CONTRACT.md §11): discover and run the
catalogue's agents, and the endpoint Claude Code's hooks post to."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from blueprints._http import doc, parse, parse_optional, require_json, respond, svc
from config.ports import BY_SLUG
from contracts.agent_router import (
    AgentDiscoverRequest,
    AgentDiscoverResponse,
    AgentInvokeRequest,
    AgentInvokeResponse,
    AgentRouterHealth,
    AgentRouterStats,
)
from contracts.common import ErrorBody
from contracts.hooks import ClaudeCodeHook, HookAnswer, parse_hook

bp = Blueprint("agent_router", __name__, url_prefix="/api/agent-router")
TAGS = ("agent-router",)
PORT = BY_SLUG["agent-router"].port


@bp.post("/discover")
@doc(json=AgentDiscoverRequest, resp={200: AgentDiscoverResponse}, tags=TAGS, body_optional=True)
def discover() -> Response:
    """The registry's type:"agent" records matching every filter, ordered by tier then name, at most `limit`."""
    agents = svc().agent_router.directory.discover(parse_optional(AgentDiscoverRequest))
    return respond(AgentDiscoverResponse(count=len(agents), agents=agents))


@bp.post("/invoke")
@doc(json=AgentInvokeRequest, resp={200: AgentInvokeResponse, 404: ErrorBody, 409: AgentInvokeResponse,
                                    429: AgentInvokeResponse, 502: AgentInvokeResponse, 504: AgentInvokeResponse},
     tags=TAGS)  # fmt: skip
def invoke() -> Response:
    """Run one agent as a job through the gateway within `timeout_s`: `success`, `timeout` (504, the job
    cancelled) or `error` (502; at once when no provider can serve the agent)."""
    body, status = svc().agent_router.invoke(parse(AgentInvokeRequest))
    return respond(body, status)


@bp.get("/stats")
@doc(resp={200: AgentRouterStats}, tags=TAGS)
def stats() -> Response:
    """type:"agent" records by role and by tier."""
    return respond(svc().agent_router.directory.stats())


@bp.post("/hooks/claude-code")
@doc(json=ClaudeCodeHook, resp={200: HookAnswer}, tags=TAGS)
def claude_code_hook() -> Response:
    """Claude Code's `http` hooks (every event): runs, tool calls, tokens. Unknown fields and events are
    accepted and ignored; the answer is Claude Code's hook JSON output (`{}`, or a context-breach notice)."""
    require_json()
    answer = svc().agent_hooks.handle(parse_hook(request.get_data()))
    # Claude Code's schema takes absent keys, not nulls.
    return current_app.response_class(answer.model_dump_json(exclude_none=True), mimetype="application/json")


@bp.get("/health")
@doc(resp={200: AgentRouterHealth}, tags=TAGS)
def health() -> Response:
    """Agent router health: catalogue agents in the registry, Claude Code sessions and runs followed."""
    return respond(svc().agent_hooks.health(PORT))

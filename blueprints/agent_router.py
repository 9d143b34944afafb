"""Agent router — legacy port 6119, main port /api/agent-router.

Built so far: the endpoint Claude Code's hooks post to, and /health. /discover, /invoke and /stats (API-CONTRACT.md
§11) answer 501 (meta's catch-all, blueprints/meta.py PARTLY_BUILT) until each is added here as a route; drop
"agent-router" from PARTLY_BUILT when the last one lands."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from blueprints._http import doc, require_json, respond, svc
from config.ports import BY_SLUG
from contracts.agent_router import AgentRouterHealth
from contracts.hooks import ClaudeCodeHook, HookAnswer, parse_hook

bp = Blueprint("agent_router", __name__, url_prefix="/api/agent-router")
TAGS = ("agent-router",)
PORT = BY_SLUG["agent-router"].port


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

"""Anthropic's Messages API on the main port: Claude Code with ANTHROPIC_BASE_URL=http://<pas>/anthropic, or the
`anthropic` SDK pointed at it, works unchanged. Every call is routed, receipted and budgeted per Claude Code session
and sub-agent; errors come in Anthropic's shape."""

from __future__ import annotations

import json
import logging
import time
import uuid

from flask import Blueprint, Response, current_app, g, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.domain.errors import BudgetExceeded, PasError
from app.domain.gateway import anthropic_surface as surface
from app.domain.gateway.anthropic_translation import openai_request
from app.domain.gateway.calls import CallMeta
from app.domain.gateway.pricing import estimate_prompt_tokens
from app.domain.gateway.upstream import HOPS_HEADER, parse_hops
from app.domain.gateway.wires import FORWARDED
from app.domain.timefmt import iso
from app.errors import status_for, validation_body
from blueprints._http import doc, parse, respond, svc
from contracts.anthropic import (
    ANTHROPIC_ERRORS,
    AnthropicErrorBody,
    AnthropicModelList,
    CountTokensRequest,
    CountTokensResponse,
    MessagesRequest,
)

log = logging.getLogger("pas.errors")
bp = Blueprint("anthropic_api", __name__, url_prefix="/anthropic/v1")
TAGS = ("anthropic",)


def _error(status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None,
           field: str | None = None) -> Response:  # fmt: skip
    """Anthropic's shape; PAS's own `code` (and `field`) beside its `type`, as extra keys its SDK ignores."""
    kind = ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
    error: dict[str, str] = {"type": kind, "message": message}
    if code is not None:
        error["code"] = code
    if field is not None:
        error["field"] = field
    body = {"type": "error", "error": error}
    resp = current_app.response_class(json.dumps(body, separators=(",", ":")), status=status,
                                      mimetype="application/json")  # fmt: skip
    resp.headers["request-id"] = g.get("request_id") or ""
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError) -> Response:
    status, body = validation_body(exc)
    field = body.get("field")
    detail = body["detail"]
    message = f"{field}: {detail}" if field and not detail.startswith(field) else detail
    return _error(status, message, code=body["error"], field=field)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    """The token guard's 401, 405, 413, 415 … in Anthropic's shape, with the exception's own headers (Allow …)."""
    status = exc.code or 500
    headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    code = {401: "unauthorized", 405: "method_not_allowed", 413: "payload_too_large",
            415: "unsupported_media_type"}.get(status, (exc.name or "error").lower().replace(" ", "_"))  # fmt: skip
    return _error(status, exc.description or exc.name, headers, code=code)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    import redis

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        log.warning("store_unavailable", extra={"error": type(exc).__name__})
        return _error(503, "Redis is unreachable")
    log.exception("unhandled_error", extra={"error": type(exc).__name__})
    return _error(500, "unexpected server error (logged)")


@bp.errorhandler(PasError)
def _pas(exc: PasError) -> Response:
    upstream = getattr(exc, "upstream", None)
    if upstream is not None:  # the upstream's own answer to a bad request
        status, raw = upstream
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("type") == "error":
            return current_app.response_class(raw, status=status, mimetype="application/json")
        err = parsed.get("error") if isinstance(parsed, dict) else None
        message = err.get("message") if isinstance(err, dict) else None
        return _error(status, str(message or exc.detail))
    field = f" ({exc.field})" if exc.field and exc.field not in exc.detail else ""
    # A spent budget is not a rate limit to wait out: the SDK's retries would only repeat it.
    headers = {"x-should-retry": "false"} if isinstance(exc, BudgetExceeded) else None
    return _error(status_for(exc), exc.detail + field, headers, code=exc.code, field=exc.field)


def _meta(default_agent: str) -> CallMeta:
    session_id = surface.caller_header(request.headers, surface.SESSION_HEADER)
    agent_id = surface.caller_header(request.headers, surface.AGENT_HEADER)
    agent_type = svc().agent_hooks.agent_type(agent_id) if agent_id is not None else None
    return CallMeta(
        request_id=g.get("request_id") or uuid.uuid4().hex,
        run_id=request.headers.get("X-PAS-Run-Id") or session_id,
        agent=surface.attribution(
            session_id, agent_id, agent_type, request.headers.get("X-PAS-Agent") or default_agent
        ),
        hops=parse_hops(request.headers.get(HOPS_HEADER)),
        surface="anthropic",
        session_id=session_id,
        agent_id=agent_id,
        forward_headers={k: v for k, v in request.headers.items() if k.lower() in FORWARDED},
    )


@bp.post("/messages")
@doc(json=MessagesRequest, resp={200: None, **{c: AnthropicErrorBody for c in (404, 409, 429, 502, 503, 504, 508)}},
     errors=AnthropicErrorBody, tags=TAGS)  # fmt: skip
def messages() -> Response:
    """Anthropic Messages, routed, retried and receipted; `stream: true` answers Anthropic's server-sent events.
    An Anthropic-protocol upstream gets the body as it came; an OpenAI-protocol one a translation."""
    req = parse(MessagesRequest)
    raw = request.get_data()
    payload = req.model_dump(exclude_unset=True)
    gw = svc().gateway
    ask = surface.messages_ask(req.model, estimate_prompt_tokens(openai_request(payload)), gw.router,
                               svc().anthropic_aliases)  # fmt: skip
    meta = _meta("anthropic-client")
    if req.stream:
        resp = Response(gw.stream(ask, payload, meta, raw), mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
    else:
        result = gw.call(ask, payload, meta, raw)
        resp = current_app.response_class(result.body or b"", status=200, mimetype="application/json")
    resp.headers["request-id"] = meta.request_id
    return resp


@bp.post("/messages/count_tokens")
@doc(json=CountTokensRequest, resp={200: CountTokensResponse}, errors=AnthropicErrorBody, tags=TAGS)
def count_tokens() -> Response:
    """The request's input tokens, estimated (PAS holds no vendor tokenizer): what Claude Code sizes context by."""
    req = parse(CountTokensRequest)
    return respond(CountTokensResponse(input_tokens=surface.count_tokens(req.model_dump(exclude_unset=True))))


@bp.get("/models")
@doc(resp={200: AnthropicModelList}, errors=AnthropicErrorBody, tags=TAGS)
def models() -> Response:
    """Every model name that routes here: the aliases, the providers' models, the providers."""
    return respond(surface.model_list(svc().gateway.router, svc().anthropic_aliases, iso(int(time.time() * 1000))))

"""The OpenAI-compatible surface on the main port: the official `openai` SDK pointed at PAS works unchanged.
`model` names a provider, a model or a capability; errors come in OpenAI's shape."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Blueprint, Response, current_app, g, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.domain.errors import PasError
from app.domain.gateway import requests as gateway_requests
from app.domain.gateway.calls import CallMeta
from app.domain.gateway.pricing import estimate_prompt_tokens
from app.domain.gateway.upstream import HOPS_HEADER, parse_hops
from app.errors import status_for, validation_body
from blueprints._http import doc, parse, respond, svc
from contracts.gateway import ChatCompletionRequest, ModelList, OpenAIErrorBody

log = logging.getLogger("pas.errors")
bp = Blueprint("openai_api", __name__, url_prefix="/v1")
TAGS = ("openai",)


def _openai_error(status: int, message: str, kind: str, param: str | None = None) -> Response:
    import json

    body = {"error": {"message": message, "type": kind, "param": param, "code": kind}}
    return current_app.response_class(json.dumps(body, separators=(",", ":")), status=status,
                                      mimetype="application/json")  # fmt: skip


@bp.errorhandler(ValidationError)
def _validation(exc: ValidationError) -> Response:
    status, body = validation_body(exc)
    return _openai_error(status, body["detail"], body["error"], body.get("field"))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    """The bearer guard's 401, 405, 413, 415 … in OpenAI's shape, with the exception's own headers (Allow …)."""
    status = exc.code or 500
    kind = {401: "unauthorized", 405: "method_not_allowed", 413: "payload_too_large",
            415: "unsupported_media_type"}.get(status, (exc.name or "error").lower().replace(" ", "_"))  # fmt: skip
    resp = _openai_error(status, exc.description or exc.name, kind)
    for k, v in exc.get_headers():
        if k.lower() != "content-type":
            resp.headers[k] = v
    if status == 401:
        resp.headers["WWW-Authenticate"] = "Bearer"
    return resp


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    """app/errors.py's last resort (503 when Redis is unreachable, else a logged 500), in OpenAI's shape."""
    import redis

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        log.warning("store_unavailable", extra={"error": type(exc).__name__})
        return _openai_error(503, "Redis is unreachable", "store_unavailable")
    log.exception("unhandled_error", extra={"error": type(exc).__name__})
    return _openai_error(500, "unexpected server error (logged)", "internal_error")


@bp.errorhandler(PasError)
def _pas(exc: PasError) -> Response:
    upstream = getattr(exc, "upstream", None)
    if upstream is not None:  # the upstream's own answer to a bad request
        status, raw = upstream
        return current_app.response_class(raw, status=status, mimetype="application/json")
    return _openai_error(status_for(exc), exc.detail, exc.code, exc.field)


@bp.post("/chat/completions")
@doc(json=ChatCompletionRequest, resp={200: None, **{c: OpenAIErrorBody for c in (404, 409, 429, 502, 503, 504, 508)}},
     errors=OpenAIErrorBody, tags=TAGS)  # fmt: skip
def chat_completions() -> Response:
    """OpenAI chat completions, routed, retried and receipted; `stream: true` answers server-sent events."""
    req = parse(ChatCompletionRequest)
    hops = parse_hops(request.headers.get(HOPS_HEADER))  # an inbound call from another PAS (or this one)
    gw = svc().gateway
    payload = req.model_dump(exclude_unset=True)
    ask = gateway_requests.chat_ask(req.model, estimate_prompt_tokens(payload), gw.router)
    meta = CallMeta(
        request_id=g.get("request_id") or uuid.uuid4().hex,
        run_id=request.headers.get("X-PAS-Run-Id"),
        agent=request.headers.get("X-PAS-Agent") or req.user or "openai-client",
        hops=hops,
    )
    if req.stream:
        chunks = gw.stream(ask, payload, meta)
        resp = Response(chunks, mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
        return resp

    def run() -> tuple[int, bytes]:
        result = gw.call(ask, payload, meta)
        return 200, result.body or b""

    key = request.headers.get("Idempotency-Key")
    status, body = gw.idempotent(key, request.get_data(), run) if key else run()
    return current_app.response_class(body, status=status, mimetype="application/json")


@bp.get("/models")
@doc(resp={200: ModelList}, errors=OpenAIErrorBody, tags=TAGS)
def models() -> Response:
    """Every name `model` may take: providers, their models, and capabilities."""
    return respond(gateway_requests.model_list(svc().gateway.router, int(time.time())))

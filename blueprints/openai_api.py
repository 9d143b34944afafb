"""The OpenAI-compatible surface on the main port: the official `openai` SDK pointed at PAS works unchanged.
`model` names a provider, a model or a capability; errors come in OpenAI's shape."""

from __future__ import annotations

import time
import uuid

from flask import Blueprint, Response, current_app, g, request
from pydantic import ValidationError

from app.domain.errors import PasError
from app.domain.gateway.service import CallMeta
from app.domain.provider_router.routing import Ask
from app.errors import status_for, validation_body
from blueprints._http import doc, parse, respond, svc
from contracts.common import ErrorBody
from contracts.gateway import ChatCompletionRequest, ModelEntry, ModelList

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


@bp.errorhandler(PasError)
def _pas(exc: PasError) -> Response:
    upstream = getattr(exc, "upstream", None)
    if upstream is not None:  # the upstream's own answer to a bad request
        status, raw = upstream
        return current_app.response_class(raw, status=status, mimetype="application/json")
    return _openai_error(status_for(exc), exc.detail, exc.code, exc.field)


def _ask(model: str, prompt_tokens: int | None) -> Ask:
    router = svc().gateway.router
    if router.provider(model) is not None:
        kind = {"provider": model}
    elif any(p.model == model for p in router.models()):
        kind = {"model": model}
    elif any(model in p.capabilities for p in router.models()):
        kind = {"capability": model}
    else:
        from app.domain.errors import NotFound

        raise NotFound(f"model {model!r} names no provider, model or capability", field="model")
    return Ask(**kind, context_tokens=prompt_tokens, sla_ms_p95=router.policy_sla_ms,  # type: ignore[arg-type]
               optimization=router.default_policy)  # fmt: skip


@bp.post("/chat/completions")
@doc(json=ChatCompletionRequest, resp={200: None, 404: ErrorBody, 429: ErrorBody, 502: ErrorBody, 504: ErrorBody},
     tags=TAGS, mutating=True)  # fmt: skip
def chat_completions() -> Response:
    """OpenAI chat completions, routed, retried and receipted; `stream: true` answers server-sent events."""
    req = parse(ChatCompletionRequest)
    gw = svc().gateway
    payload = req.model_dump(exclude_unset=True)
    from app.domain.gateway.service import estimate_prompt_tokens

    ask = _ask(req.model, estimate_prompt_tokens(payload))
    meta = CallMeta(
        request_id=g.get("request_id") or uuid.uuid4().hex,
        run_id=request.headers.get("X-PAS-Run-Id"),
        agent=request.headers.get("X-PAS-Agent") or req.user or "openai-client",
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
@doc(resp={200: ModelList}, tags=TAGS)
def models() -> Response:
    """Every name `model` may take: providers, their models, and capabilities."""
    created = int(time.time())
    data: list[ModelEntry] = []
    seen: set[str] = set()
    providers = [p for p in svc().gateway.router.models() if p.active]
    for p in providers:
        if p.name not in seen:
            seen.add(p.name)
            data.append(ModelEntry(id=p.name, created=created, owned_by=f"pas:{p.source}"))
    for p in providers:
        if p.model not in seen:
            seen.add(p.model)
            data.append(ModelEntry(id=p.model, created=created, owned_by="pas:model"))
    for cap in sorted({c for p in providers for c in p.capabilities}):
        if cap not in seen:
            seen.add(cap)
            data.append(ModelEntry(id=cap, created=created, owned_by="pas:capability"))
    return respond(ModelList(data=data))

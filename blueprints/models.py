"""Local models — legacy ports 8050-8052, main port /api/models/<slug>. Every call becomes a task on the queue of
the worker that hosts the model (app/model_worker.py); the web process never loads a model."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from app.dispatch import LEGACY_PORT
from app.domain.errors import ModelUnavailable, UpstreamError, UpstreamTimeout
from app.domain.llm_calls.channel import CallStream, CallTimeout
from app.domain.llm_calls.openai_shape import CallFailed, completion, sse_chunks
from blueprints._http import doc, parse, respond, svc
from config.ports import SERVICES, ServicePort
from contracts.common import ErrorBody
from contracts.models import (
    ChatCompletionBody,
    ClassifyDomainRequest,
    ClassifyDomainResponse,
    ExtractTmdRequest,
    ExtractTmdResponse,
    GenerateRequest,
    GenerateResponse,
    LocalModelInfo,
    ModelChatRequest,
    ModelHealth,
)

LOCAL = [s for s in SERVICES if s.slug.startswith("models/")]
CALL_ERRORS: dict[int, Any] = {404: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody}


def _collect(stream: CallStream) -> dict[str, Any]:
    """The end event of a call (its result / usage), CallFailed or a timeout as PAS errors."""
    try:
        for event in stream.events():
            if event.get("type") == "end":
                return event
            if event.get("type") == "error":
                raise _as_pas_error(CallFailed(int(event.get("status") or 502), str(event.get("message")),
                                               str(event.get("code"))))  # fmt: skip
    except CallTimeout as exc:
        raise UpstreamTimeout(str(exc), field="model") from None
    finally:
        stream.close()
    raise UpstreamError("the model worker ended the call without an answer", field="model")


def _as_pas_error(f: CallFailed) -> Exception:
    if f.status == 503:
        return ModelUnavailable(f.message, field="model")
    if f.status == 504:
        return UpstreamTimeout(f.message, field="model")
    return UpstreamError(f.message, field="model")


def _events(stream: CallStream) -> Iterator[dict[str, Any]]:
    try:
        yield from stream.events()
    except CallTimeout as exc:
        yield {"type": "error", "status": 504, "message": str(exc), "code": "timeout"}


def _streamed(body: Iterator[bytes], stream: CallStream, mimetype: str) -> Response:
    def relay() -> Iterator[bytes]:
        try:
            yield from body
        finally:  # the client went away (or the call ended): an unfinished generation is cancelled
            stream.close()

    resp = Response(relay(), mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


def _chat(service: ServicePort) -> Response:
    req = parse(ModelChatRequest)
    body = req.model_dump(exclude_unset=True, exclude={"stream", "stream_options", "model"})
    stream = svc().local_models.start(service.name, "chat", body)
    created, model = int(time.time()), svc().local_models.model(service.name).model
    if req.stream:
        include_usage = bool((req.stream_options or {}).get("include_usage", True))
        chunks = sse_chunks(stream.call_id, created, model, _events(stream), include_usage)
        return _streamed(chunks, stream, "text/event-stream")
    try:
        answer = completion(stream.call_id, created, model, _events(stream))
    except CallFailed as f:
        raise _as_pas_error(f) from None
    finally:
        stream.close()
    return current_app.response_class(json.dumps(answer, separators=(",", ":")), mimetype="application/json")


def _generate(service: ServicePort) -> Response:
    req = parse(GenerateRequest)
    body = req.model_dump(exclude_none=True, exclude={"stream", "model", "keep_alive"})
    stream = svc().local_models.start(service.name, "generate", body)
    model = req.model or svc().local_models.model(service.name).model
    started = time.perf_counter()

    def now() -> str:
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def final(event: dict[str, Any], text: str) -> dict[str, Any]:
        usage, timings = event.get("usage") or {}, event.get("timings") or {}
        return GenerateResponse(
            model=model, created_at=now(), response=text, done=True,
            done_reason=event.get("finish_reason"), prompt_eval_count=usage.get("prompt_tokens"),
            eval_count=usage.get("completion_tokens"), total_duration=int((time.perf_counter() - started) * 1e9),
            eval_duration=int(float(timings.get("total_s") or 0) * 1e9),
        ).model_dump()  # fmt: skip

    if req.stream:

        def lines() -> Iterator[bytes]:
            for event in _events(stream):
                if event.get("type") == "delta" and event.get("text"):
                    line = {"model": model, "created_at": now(), "response": event["text"], "done": False}
                elif event.get("type") == "end":
                    line = final(event, "")
                elif event.get("type") == "error":
                    line = {"error": event.get("message"), "done": True}
                else:
                    continue
                yield json.dumps(line, separators=(",", ":")).encode() + b"\n"

        return _streamed(lines(), stream, "application/x-ndjson")
    text: list[str] = []
    end: dict[str, Any] | None = None
    try:
        for event in _events(stream):
            if event.get("type") == "delta":
                text.append(str(event.get("text") or ""))
            elif event.get("type") == "end":
                end = event
            elif event.get("type") == "error":
                raise _as_pas_error(CallFailed(int(event.get("status") or 502), str(event.get("message")), ""))
    finally:
        stream.close()
    if end is None:
        raise UpstreamError("the model worker ended the call without an answer", field="model")
    return current_app.response_class(json.dumps(final(end, "".join(text))), mimetype="application/json")


def _classifier_call(service: ServicePort, op: str, model: type[Any], out: type[Any]) -> Response:
    req = parse(model)
    end = _collect(svc().local_models.start(service.name, op, req.model_dump()))
    return respond(out.model_validate(end.get("result") or {}))


def _port(service: ServicePort) -> int:
    return int(request.environ.get(LEGACY_PORT) or service.port)


def _routes(service: ServicePort, kind: str) -> list[tuple[str, str, Callable[..., Response]]]:
    tags = (service.slug,)
    name = service.name

    @doc(resp={200: ModelHealth}, tags=tags)
    def health() -> Response:
        """`healthy` only when the model is loaded (its worker alive) and answering; else `degraded` with why."""
        return respond(svc().local_models.health(name, _port(service)))

    @doc(resp={200: LocalModelInfo}, tags=tags)
    def info() -> Response:
        """What the loaded file really is, its capabilities and measured tokens/s and latency."""
        prefix = "" if request.environ.get(LEGACY_PORT) else service.prefix
        return respond(svc().local_models.info(name, prefix))

    routes: list[tuple[str, str, Callable[..., Response]]] = [("GET", "/health", health), ("GET", "/info", info)]
    # every local model chats (the gateway's calls); a classifier adds its own two calls

    @doc(json=ModelChatRequest, resp={200: ChatCompletionBody, **CALL_ERRORS}, tags=tags)
    def chat_completions() -> Response:
        """OpenAI chat completions on this model (`stream: true`: server-sent events; a client that goes
        away cancels its generation)."""
        return _chat(service)

    @doc(json=GenerateRequest, resp={200: GenerateResponse, **CALL_ERRORS}, tags=tags)
    def generate() -> Response:
        """Ollama-style generate (`stream: true`: one JSON object per line)."""
        return _generate(service)

    routes += [("POST", "/chat/completions", chat_completions), ("POST", "/generate", generate)]
    if kind == "classifier":

        @doc(json=ClassifyDomainRequest, resp={200: ClassifyDomainResponse, **CALL_ERRORS}, tags=tags)
        def classify_domain() -> Response:
            """The query's L0 domains (always from config/domains.l0.json: grammar-constrained), confidences
            from token log-probabilities, and PII / license flags."""
            return _classifier_call(service, "classify_domain", ClassifyDomainRequest, ClassifyDomainResponse)

        @doc(json=ExtractTmdRequest, resp={200: ExtractTmdResponse, **CALL_ERRORS}, tags=tags)
        def extract_tmd() -> Response:
            """Task, method and domain of the query (grammar-constrained), with a confidence."""
            return _classifier_call(service, "extract_tmd", ExtractTmdRequest, ExtractTmdResponse)

        routes += [("POST", "/classify_domain", classify_domain), ("POST", "/extract_tmd", extract_tmd)]
    return routes


def register_model_routes(app: Flask) -> None:
    """Routes per configured model (a classifier has its own), on a blueprint made for this app."""
    from app.domain.local_models.catalogue import load_models

    models = load_models(app.extensions["settings"].pas_models_config)
    bp = Blueprint("models", __name__)
    for service in LOCAL:
        kind = models[service.name].kind if service.name in models else "chat"
        for method, path, view in _routes(service, kind):
            endpoint = f"{service.name}_{view.__name__}"
            view.__name__ = endpoint
            bp.add_url_rule(service.prefix + path, endpoint, view, methods=[method])
    app.register_blueprint(bp)

"""Local models — legacy ports 8050-8052, main port /api/models/<slug>. Every call becomes a task on the queue of
the worker that hosts the model (app/model_worker.py); the web process never loads a model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from app.dispatch import LEGACY_PORT
from app.domain.local_models import answers as local_answers
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


def _json(body: dict[str, Any]) -> Response:
    return current_app.response_class(json.dumps(body, separators=(",", ":")), mimetype="application/json")


def _streamed(body: Iterator[bytes], mimetype: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


def _chat(service: ServicePort) -> Response:
    req = parse(ModelChatRequest)
    if req.stream:
        return _streamed(local_answers.chat_stream(svc().local_models, service.name, req), "text/event-stream")
    return _json(local_answers.chat(svc().local_models, service.name, req))


def _generate(service: ServicePort) -> Response:
    req = parse(GenerateRequest)
    if req.stream:
        return _streamed(local_answers.generate_stream(svc().local_models, service.name, req), "application/x-ndjson")
    return _json(local_answers.generate(svc().local_models, service.name, req))


def _classifier_call(service: ServicePort, op: str, model: type[Any], out: type[Any]) -> Response:
    req = parse(model)
    return respond(out.model_validate(local_answers.classifier_result(svc().local_models, service.name, op,
                                                                      req.model_dump())))  # fmt: skip


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

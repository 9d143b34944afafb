"""Vendor adapters — legacy ports 8100 (OpenAI), 8101 (Anthropic), 8102 (Gemini), 8103 (Grok); main port
/api/adapters/<vendor>. Each serves GET /, /health, /info and OpenAI-style POST /chat/completions (also
`stream: true`); the vendor call itself runs in an adapter worker (app/adapter_worker.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request, stream_with_context

from app.dispatch import LEGACY_PORT
from blueprints._http import doc, parse, respond, svc
from config.ports import BY_SLUG, ServicePort
from contracts.common import ErrorBody
from contracts.models import AdapterIndex, AdapterInfo, ChatCompletionBody, ModelChatRequest, ModelHealth

bp = Blueprint("adapters", __name__, url_prefix="/api/adapters")
PROVIDERS = ("openai", "anthropic", "gemini", "grok")
CHAT_ERRORS = {c: ErrorBody for c in (404, 429, 502, 503, 504)}


def _port(service: ServicePort) -> int:
    return int(request.environ.get(LEGACY_PORT) or service.port)


def _prefix(service: ServicePort) -> str:
    return "" if request.environ.get(LEGACY_PORT) is not None else service.prefix


def _route(rule: str, methods: list[str], view: Callable[[], Response], name: str, **docs: Any) -> None:
    view.__name__ = view.__qualname__ = name  # one endpoint (and operation) per vendor
    bp.add_url_rule(rule, name, doc(**docs)(view), methods=methods)


def _register(provider: str) -> None:
    service = BY_SLUG[f"adapters/{provider}"]
    tags = (service.slug,)

    def index() -> Response:
        """The adapter: its vendor, model and endpoints."""
        return respond(svc().adapters.index(provider, service.name, _port(service), _prefix(service)))

    def health() -> Response:
        """healthy with a key and no vendor trouble; degraded with the reason (no key, no adapter worker, the key
        rejected, cooling down)."""
        return respond(svc().adapters.health(provider, service.name, _port(service)))

    def info() -> Response:
        """The model, its context window and prices (the pricing table), and measured performance."""
        return respond(svc().adapters.info(provider, service.name))

    def chat() -> Response:
        """OpenAI chat completions answered by the vendor (`model` is ignored: the port picks it); `stream: true`
        answers server-sent chunks. 503 without an adapter worker or a key, or when the vendor refused the key;
        429 (Retry-After), 502, 504 for the vendor's rate limit, failure and timeout."""
        req = parse(ModelChatRequest)
        adapters = svc().adapters
        if not req.stream:
            body = json.dumps(adapters.complete(provider, req), separators=(",", ":"))
            return current_app.response_class(body, mimetype="application/json")
        chunks = adapters.stream(provider, req)  # the first event is in: errors before it are HTTP statuses
        resp = Response(stream_with_context(chunks), mimetype="text/event-stream")
        resp.headers["Cache-Control"] = "no-cache"
        resp.headers["X-Accel-Buffering"] = "no"
        return resp

    _route(f"/{provider}/", ["GET"], index, f"{provider}_index", resp={200: AdapterIndex}, tags=tags)
    _route(f"/{provider}/health", ["GET"], health, f"{provider}_health", resp={200: ModelHealth}, tags=tags)
    _route(f"/{provider}/info", ["GET"], info, f"{provider}_info", resp={200: AdapterInfo}, tags=tags)
    _route(f"/{provider}/chat/completions", ["POST"], chat, f"{provider}_chat", json=ModelChatRequest,
           resp={200: ChatCompletionBody, **CHAT_ERRORS}, tags=tags)  # fmt: skip


for _provider in PROVIDERS:
    _register(_provider)

"""Per-request hooks: bearer auth on mutating routes, a request id, one structured log line per request."""

from __future__ import annotations

import hmac
import logging
import time

from flask import Flask, Response, g, request
from werkzeug.exceptions import Unauthorized

from app.dispatch import LEGACY_PORT
from app.domain.ids import new_id
from config.settings import Settings

log = logging.getLogger("pas.http")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANTHROPIC_PREFIX = "/anthropic/"  # where the token may also come as `x-api-key` (Anthropic's SDK and Claude Code)


def register_request_hooks(app: Flask, settings: Settings) -> None:
    token = settings.pas_api_token.get_secret_value().encode() if settings.pas_api_token else None

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.request_id = request.headers.get("X-Request-Id") or new_id()
        if token is not None and request.method in MUTATING:
            header = request.headers.get("Authorization", "")
            scheme, _, presented = header.partition(" ")
            if scheme.lower() != "bearer" and request.path.startswith(ANTHROPIC_PREFIX):
                scheme, presented = "bearer", request.headers.get("x-api-key", "")  # what Anthropic clients send
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token):
                raise Unauthorized("a valid 'Authorization: Bearer <PAS_API_TOKEN>' header is required")

    @app.after_request
    def _log(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if request.path.startswith("/static/vendor/") and response.status_code == 200:
            # Vendored files carry their version in the name: a page load never revalidates or re-parses them.
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        started = g.get("started")
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,  # never the query string: it may carry secrets
                "service": request.blueprint or request.endpoint,
                "port": request.environ.get(LEGACY_PORT),
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
                "request_id": g.get("request_id"),
            },
        )
        return response

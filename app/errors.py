"""Exceptions → JSON (only here). Never a 500 for any input; a 500 is a logged bug."""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any

from flask import Flask, Response, current_app
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.domain.errors import (
    BudgetExceeded,
    Conflict,
    InvalidInput,
    LoopDetected,
    ModelUnavailable,
    NotFound,
    NotImplementedYet,
    PasError,
    StoreUnavailable,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("pas.errors")

STATUS: dict[type[PasError], int] = {
    NotFound: 404,
    Conflict: 409,
    BudgetExceeded: 429,
    InvalidInput: 422,
    NotImplementedYet: 501,
    StoreUnavailable: 503,
    ModelUnavailable: 503,
    UpstreamError: 502,
    UpstreamTimeout: 504,
    LoopDetected: 508,
}


def status_for(exc: PasError) -> int:
    """The most specific class wins."""
    return next((STATUS[c] for c in type(exc).__mro__ if c in STATUS), 400)


def error_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    resp = current_app.response_class(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


# pydantic names the member of a union it tried in `loc` ("ts", "float"; "stop", "list[str]", 0; "cost_hint",
# "CostHint"; a discriminated union's tag): not a step of the field's path. PAS's field names are snake_case.
_UNION_MEMBER = re.compile(
    r"(constrained-)?(str|int|float|bool|bytes|decimal|date|time|datetime|timedelta|uuid)|[a-z-]+\[.*\]|[A-Z][A-Za-z0-9]*"
)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and _UNION_MEMBER.fullmatch(p))) or "body"


def validation_body(exc: ValidationError) -> tuple[int, dict[str, Any]]:
    errors = exc.errors(include_input=False, include_url=False)  # inputs may hold secrets
    if any(e["type"] == "json_invalid" for e in errors):
        detail = next(e["msg"] for e in errors if e["type"] == "json_invalid")
        return 400, {"error": "malformed_json", "detail": detail}
    items = [{"field": _field(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    first = items[0]
    return 422, {
        "error": "validation_error",
        "detail": f"{first['field']}: {first['msg']}" + (f" (+{len(items) - 1} more)" if len(items) > 1 else ""),
        "field": first["field"],
        "errors": items,
    }


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError) -> Response:
        status, body = validation_body(exc)
        return error_response(status, body)

    @app.errorhandler(PasError)
    def _pas(exc: PasError) -> Response:
        body: dict[str, Any] = {"error": exc.code, "detail": exc.detail}
        if exc.field is not None:
            body["field"] = exc.field
        body.update(exc.extra)
        headers: dict[str, str] = {}
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:  # a rate-limited model call: the client (the gateway) waits that long
            body["retry_after_s"] = retry_after
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return error_response(getattr(exc, "http_status", None) or status_for(exc), body, headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = exc.code or 500
        name = {
            400: "bad_request",
            401: "unauthorized",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            415: "unsupported_media_type",
        }.get(code, (exc.name or "error").lower().replace(" ", "_"))
        # The exception's own headers (Allow on a 405, Retry-After …) but not its HTML Content-Type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        if code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(code, {"error": name, "detail": exc.description or exc.name}, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        import redis

        if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
            log.warning("store_unavailable", extra={"error": type(exc).__name__})
            return error_response(503, {"error": "store_unavailable", "detail": "Redis is unreachable"})
        log.exception("unhandled_error", extra={"error": type(exc).__name__})
        return error_response(500, {"error": "internal_error", "detail": "unexpected server error (logged)"})

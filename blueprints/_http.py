"""Request parsing and response helpers shared by the service blueprints, and the OpenAPI registry."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, request
from pydantic import BaseModel
from spectree import Response as SpecResponse
from spectree import SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData
from werkzeug.exceptions import UnsupportedMediaType

from app.wiring import Services, services
from contracts.common import ErrorBody

M = TypeVar("M", bound=BaseModel)

# Docs only (skip_validation): parse() below validates, so the error shape is ours (API-CONTRACT §3).
api = SpecTree(
    "flask",
    mode="strict",
    title="PAS — Polyglot Agent Swarm control plane",
    version="0.1.0",
    annotations=False,
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")),
    ],
)


def doc(
    *,
    json: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    resp: dict[int, type[BaseModel] | None] | None = None,
    tags: tuple[str, ...] = (),
    mutating: bool = False,
) -> Any:
    """Declares an endpoint's wire shapes for the OpenAPI document, from the same models parse() uses."""
    codes: dict[str, Any] = {f"HTTP_{code}": model for code, model in (resp or {}).items()}
    if json is not None or query is not None:
        codes.setdefault("HTTP_422", ErrorBody)
    if json is not None:
        codes.setdefault("HTTP_400", ErrorBody)
        codes.setdefault("HTTP_415", ErrorBody)
        codes.setdefault("HTTP_413", ErrorBody)
    if mutating:
        codes.setdefault("HTTP_401", ErrorBody)
    documented = api.validate(
        json=json,
        query=query,
        resp=SpecResponse(**codes),
        tags=list(tags),
        skip_validation=True,
        validation_error_status=422,
        security={"bearer": []} if mutating else None,
    )

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        # The route calls the view itself; spectree finds its metadata through __wrapped__ (docs only, no
        # per-request wrapper on the hot path).
        wrapper = documented(func)

        @functools.wraps(func)
        def view(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        view.__wrapped__ = wrapper
        return view

    return decorate


def parse(model: type[M]) -> M:
    """The JSON body as `model`; pydantic's errors become 400/422 in app/errors.py."""
    require_json()
    return model.model_validate_json(request.get_data() or b"")


def require_json() -> None:
    """application/json alone is JSON (Flask's is_json also takes any +json type, e.g. application/vnd.evil+json).
    Parameters are ignored: a JSON body is UTF-8 whatever its charset says (RFC 8259 §11)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Content-Type must be application/json")


def parse_optional(model: type[M]) -> M:
    """Like parse(), for query-only routes where an empty JSON body (or none) is valid."""
    data = request.get_data()
    if not data.strip():
        return model()
    return parse(model)


def parse_query(model: type[M]) -> M:
    return model.model_validate(request.args.to_dict())


def respond(body: BaseModel, status: int = 200) -> Response:
    return current_app.response_class(
        body.model_dump_json(exclude_none=False), status=status, mimetype="application/json"
    )


def svc() -> Services:
    return services()

"""Request parsing and response helpers shared by the service blueprints, and the OpenAPI registry."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Response, current_app, request
from pydantic import BaseModel
from spectree import Response as SpecResponse
from spectree import SpecTree
from werkzeug.exceptions import UnsupportedMediaType

from app.domain.errors import InvalidInput
from app.wiring import Services, services
from contracts.common import ErrorBody

M = TypeVar("M", bound=BaseModel)

# Docs only (skip_validation): parse() below validates, so the error shape is ours (API-CONTRACT §3). The bearer
# scheme, `security` and the 401 answers depend on the running mode: blueprints/meta.py adds them when
# PAS_API_TOKEN is set (the guard in app/http_hooks.py covers every POST/PUT/PATCH/DELETE).
api = SpecTree(
    "flask",
    mode="strict",
    title="PAS — Polyglot Agent Swarm control plane",
    version="0.1.0",
    annotations=False,
)


@dataclass(frozen=True)
class DocInfo:
    """What the OpenAPI document needs to know about a view beyond spectree's metadata (read by meta.py)."""

    errors: type[BaseModel]  # the shape of every error this view answers
    body_optional: bool  # an empty body (or none) is valid: parse_optional()
    query: type[BaseModel] | None  # fields that may come from the query string instead of the JSON body


def doc(
    *,
    json: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    resp: dict[int, type[BaseModel] | None] | None = None,
    tags: tuple[str, ...] = (),
    errors: type[BaseModel] = ErrorBody,
    body_optional: bool = False,
    query_or_body: type[BaseModel] | None = None,
) -> Any:
    """Declares an endpoint's wire shapes for the OpenAPI document, from the same models parse() uses.
    `query_or_body`: the body's fields may instead come from the query string (documented as optional query
    parameters; the body is then optional too)."""
    codes: dict[str, Any] = {f"HTTP_{code}": model for code, model in (resp or {}).items()}
    if json is not None or query is not None or query_or_body is not None:
        codes.setdefault("HTTP_422", errors)
    if json is not None:
        codes.setdefault("HTTP_400", errors)
        codes.setdefault("HTTP_415", errors)
        codes.setdefault("HTTP_413", errors)
    documented = api.validate(
        json=json,
        query=query or query_or_body,
        resp=SpecResponse(**codes),
        tags=list(tags),
        skip_validation=True,
        validation_error_status=422,
    )
    info = DocInfo(errors=errors, body_optional=body_optional or query_or_body is not None, query=query_or_body)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        # The route calls the view itself; spectree finds its metadata through __wrapped__ (docs only, no
        # per-request wrapper on the hot path).
        wrapper = documented(func)

        @functools.wraps(func)
        def view(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        view.__wrapped__ = wrapper
        view.pas_doc = info  # type: ignore[attr-defined]
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
    """Query parameters as `model`: a parameter the model declares may appear once (`?limit=1&limit=2` is 422
    naming it, not the first silently taken); unknown parameters are ignored."""
    single_query_values(model.model_fields)
    return model.model_validate(request.args.to_dict())


def single_query_values(names: Iterable[str]) -> None:
    for name in names:
        if len(request.args.getlist(name)) > 1:
            raise InvalidInput(f"query parameter {name!r} is given more than once", field=name)


def respond(body: BaseModel, status: int = 200) -> Response:
    return current_app.response_class(
        body.model_dump_json(exclude_none=False), status=status, mimetype="application/json"
    )


def svc() -> Services:
    return services()

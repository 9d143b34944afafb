"""Provider router — legacy port 6103, main port /api/provider-router."""

from __future__ import annotations

from flask import Blueprint, Response

from blueprints._http import doc, parse, parse_query, respond, svc
from contracts.common import ErrorBody
from contracts.provider_router import (
    ProviderDeactivated,
    ProviderRecord,
    ProviderRegisterRequest,
    ProviderRegisterResponse,
    ProvidersQuery,
    ProvidersResponse,
    RouterHealth,
    RouterStats,
    SelectRequest,
    SelectResponse,
)

bp = Blueprint("provider_router", __name__, url_prefix="/api/provider-router")
TAGS = ("provider-router",)


@bp.post("/register")
@doc(json=ProviderRegisterRequest, resp={200: ProviderRegisterResponse, 201: ProviderRegisterResponse}, tags=TAGS)
def register() -> Response:
    """Register or update a provider by name (an OpenAI-compatible endpoint); registering again reactivates."""
    result = svc().provider_router.register(parse(ProviderRegisterRequest))
    return respond(result, 201 if result.action == "registered" else 200)


@bp.get("/providers")
@doc(query=ProvidersQuery, resp={200: ProvidersResponse}, tags=TAGS)
def providers() -> Response:
    """Every provider: the matrix, the API-registered ones and the registry's model services, merged."""
    return respond(svc().provider_router.providers(parse_query(ProvidersQuery)))


@bp.get("/providers/<name>")
@doc(resp={200: ProviderRecord, 404: ErrorBody}, tags=TAGS)
def provider(name: str) -> Response:
    """One provider, with its measured p95 and error rate."""
    return respond(svc().provider_router.get(name))


@bp.delete("/providers/<name>")
@doc(resp={200: ProviderDeactivated, 404: ErrorBody}, tags=TAGS)
def deactivate(name: str) -> Response:
    """Deactivate a provider (kept and listed; registering it again reactivates it)."""
    return respond(svc().provider_router.deactivate(name))


@bp.post("/select")
@doc(json=SelectRequest, resp={200: SelectResponse, 404: ErrorBody}, tags=TAGS)
def select() -> Response:
    """Choose a provider: the winner, ranked alternatives, the reason, and why others were left out."""
    return respond(svc().provider_router.select(parse(SelectRequest)))


@bp.get("/stats")
@doc(resp={200: RouterStats}, tags=TAGS)
def stats() -> Response:
    """Provider counts."""
    return respond(svc().provider_router.stats())


@bp.get("/health")
@doc(resp={200: RouterHealth}, tags=TAGS)
def health() -> Response:
    """Provider router health."""
    return respond(svc().provider_router.health())

"""Service registry — legacy port 6121, main port /api/registry."""

from __future__ import annotations

from flask import Blueprint, Response

from blueprints._http import doc, parse, parse_query, respond, svc
from contracts.common import ErrorBody, Success
from contracts.registry import (
    DeregisterRequest,
    DiscoverQuery,
    HeartbeatRequest,
    HeartbeatResponse,
    PromoteRequest,
    PromoteResponse,
    RegisterRequest,
    RegisterResponse,
    RegistryHealth,
    ServiceList,
    ServiceRecord,
)

bp = Blueprint("registry", __name__, url_prefix="/api/registry")
TAGS = ("registry",)


@bp.post("/register")
@doc(json=RegisterRequest, resp={201: RegisterResponse, 200: RegisterResponse}, tags=TAGS)
def register() -> Response:
    """Register or update (upsert) a service; counts as a heartbeat."""
    result = svc().registry.register(parse(RegisterRequest))
    return respond(result, 201 if result.created else 200)


@bp.put("/heartbeat")
@doc(
    json=HeartbeatRequest,
    resp={200: HeartbeatResponse, 404: ErrorBody, 409: ErrorBody},
    tags=TAGS,
)
def heartbeat() -> Response:
    """Report liveness (server clock) and optional metrics."""
    return respond(svc().registry.heartbeat(parse(HeartbeatRequest)))


@bp.get("/discover")
@doc(query=DiscoverQuery, resp={200: ServiceList}, tags=TAGS)
def discover() -> Response:
    """Find services by type, role, cap, name and status (ANDed); by name, newest registration first."""
    return respond(ServiceList(items=svc().registry.discover(parse_query(DiscoverQuery))))


@bp.get("/services")
@doc(resp={200: ServiceList}, tags=TAGS)
def list_services() -> Response:
    """Every registered service."""
    return respond(ServiceList(items=svc().registry.discover(DiscoverQuery())))


@bp.get("/services/<path:service_id>")
@doc(resp={200: ServiceRecord, 404: ErrorBody}, tags=TAGS)
def get_service(service_id: str) -> Response:
    """One service's record."""
    return respond(svc().registry.get(service_id))


@bp.post("/promote")
@doc(json=PromoteRequest, resp={200: PromoteResponse, 404: ErrorBody}, tags=TAGS)
def promote() -> Response:
    """Move every instance of a service name from one role to another."""
    return respond(svc().registry.promote(parse(PromoteRequest)))


@bp.post("/deregister")
@doc(json=DeregisterRequest, resp={200: Success, 404: ErrorBody}, tags=TAGS)
def deregister() -> Response:
    """Remove a service from the registry."""
    return respond(svc().registry.deregister(parse(DeregisterRequest).service_id))


@bp.get("/health")
@doc(resp={200: RegistryHealth}, tags=TAGS)
def health() -> Response:
    """Registry health with counts."""
    return respond(svc().registry.health())

"""Resource manager — legacy port 6104, main port /api/resource-manager."""

from __future__ import annotations

from flask import Blueprint, Response

from blueprints._http import doc, parse, parse_query, respond, svc
from contracts.common import ErrorBody
from contracts.resource_manager import (
    KillRequest,
    KillResponse,
    Quotas,
    QuotaUpdateRequest,
    QuotaUpdateResponse,
    ReleaseRequest,
    ReleaseResponse,
    ReservationList,
    ReservationsQuery,
    ReserveDenied,
    ReserveGranted,
    ResourceHealth,
    ResourceRequest,
)

bp = Blueprint("resource_manager", __name__, url_prefix="/api/resource-manager")
TAGS = ("resource-manager",)


@bp.post("/reserve")
@doc(json=ResourceRequest, resp={201: ReserveGranted, 409: ReserveDenied}, tags=TAGS)
def reserve() -> Response:
    """Reserve resources and ports for a job: all or nothing."""
    result = svc().resource_manager.reserve(parse(ResourceRequest))
    return respond(result, 201 if isinstance(result, ReserveGranted) else 409)


@bp.post("/release")
@doc(json=ReleaseRequest, resp={200: ReleaseResponse, 404: ErrorBody}, tags=TAGS)
def release() -> Response:
    """Release one reservation, or every active one of a job."""
    return respond(svc().resource_manager.release(parse(ReleaseRequest)))


@bp.post("/kill")
@doc(json=KillRequest, resp={200: KillResponse, 404: ErrorBody}, tags=TAGS)
def kill() -> Response:
    """Kill a job: its reservations are marked killed and its tasks revoked."""
    req = parse(KillRequest)
    return respond(svc().jobs.kill(req.job_id, req.reason))


@bp.get("/quotas")
@doc(resp={200: Quotas}, tags=TAGS)
def quotas() -> Response:
    """Capacity, allocation and what this host has, per resource."""
    return respond(svc().resource_manager.quotas())


@bp.post("/quotas/update")
@doc(json=QuotaUpdateRequest, resp={200: QuotaUpdateResponse, 409: ErrorBody}, tags=TAGS)
def update_quota() -> Response:
    """Change a resource's capacity (never below what is allocated)."""
    return respond(svc().resource_manager.update_quota(parse(QuotaUpdateRequest)))


@bp.get("/reservations")
@doc(query=ReservationsQuery, resp={200: ReservationList}, tags=TAGS)
def reservations() -> Response:
    """Reservations, newest first, optionally by status."""
    return respond(ReservationList(reservations=svc().resource_manager.reservations(parse_query(ReservationsQuery))))


@bp.get("/health")
@doc(resp={200: ResourceHealth}, tags=TAGS)
def health() -> Response:
    """Resource manager health."""
    return respond(ResourceHealth(active_reservations=svc().resource_manager.active_count()))

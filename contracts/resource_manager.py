from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from contracts.common import ID_PATTERN, Body, FiniteFloat, Query, Request

ReservationStatus = Literal["active", "released", "expired", "killed"]
ResourceName = Literal["cpu", "mem_mb", "gpu", "gpu_mem_mb", "disk_gb"]
Number = int | float  # integral quantities are printed as JSON integers
Port = Annotated[int, Field(ge=1, le=65535)]


class ResourceRequest(Request):
    """resource_request: reserve resources and ports for a job, all or nothing."""

    job_id: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    agent: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    cpu: FiniteFloat = Field(default=0, ge=0, le=4096)
    mem_mb: int = Field(default=0, ge=0, le=1 << 30)
    gpu: int = Field(default=0, ge=0, le=1024)
    gpu_mem_mb: int = Field(default=0, ge=0, le=1 << 30)
    disk_gb: FiniteFloat = Field(default=0, ge=0, le=1 << 20)
    ports: list[Port] = Field(default_factory=list, max_length=1024)
    # Ask PAS to pick this many free ports from the configured range (beside any explicit `ports`).
    port_count: int = Field(default=0, ge=0, le=1024)
    # The lease holder: when this registry service goes down or is deregistered, the reservation expires.
    service_id: str | None = Field(default=None, max_length=256, pattern=ID_PATTERN)
    ttl_s: int | None = Field(default=None, ge=1, le=604800)
    timeout_s: int | None = Field(default=None, ge=1, le=604800)
    role: str | None = Field(default=None, max_length=100, pattern=ID_PATTERN)


class Granted(Body):
    cpu: Number
    mem_mb: int
    gpu: int
    gpu_mem_mb: int
    disk_gb: Number
    ports: list[int]


class ReserveGranted(Body):
    reservation_id: str
    status: Literal["granted"] = "granted"
    granted: Granted
    job_id: str
    expires_at: str | None = None
    ts: str


class ReserveDenied(Body):
    error: Literal["quota_exceeded"] = "quota_exceeded"
    reservation_id: None = None
    status: Literal["denied"] = "denied"
    reason: str
    resource: str
    detail: str
    quotas: dict[str, Any]


class ReleaseRequest(Request):
    """Exactly one of `reservation_id` or `job_id`."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string"}}} for name in ("reservation_id", "job_id")
            ]
        }
    )
    reservation_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=ID_PATTERN)
    job_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=ID_PATTERN)


class ReleaseResponse(Body):
    success: bool = True
    released: Granted
    released_reservations: list[str]
    ts: str


class KillRequest(Request):
    job_id: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    reason: str = Field(default="killed by operator", max_length=500)


class KillResponse(Body):
    success: bool = True
    killed_reservations: list[str]
    reason: str
    ts: str


class Quota(Body):
    total_capacity: Number
    allocated: Number
    reserved: Number
    available: Number
    utilization: float
    detected: Number | None


class Quotas(Body):
    quotas: dict[str, Quota]
    ports: dict[str, Any]


class QuotaUpdateRequest(Request):
    resource_type: ResourceName
    new_capacity: FiniteFloat = Field(ge=0, le=1 << 30)


class QuotaUpdateResponse(Body):
    success: bool = True
    resource_type: ResourceName
    old_capacity: Number
    new_capacity: Number
    ts: str


class ReservationsQuery(Query):
    status: ReservationStatus | None = None
    limit: int = Field(default=200, ge=1, le=1000)


class Reservation(Body):
    reservation_id: str
    job_id: str
    agent: str
    resources: Granted
    status: ReservationStatus
    created_at: str
    released_at: str | None
    service_id: str | None = None
    role: str | None = None
    reason: str | None = None
    expires_at: str | None = None


class ReservationList(Body):
    reservations: list[Reservation]


class ResourceHealth(Body):
    status: Literal["ok"] = "ok"
    active_reservations: int

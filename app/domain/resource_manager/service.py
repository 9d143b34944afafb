"""The resource manager: atomic all-or-nothing reservations of cpu, memory, GPU, disk and ports."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Callable

from pydantic import ValidationError

from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.events import log_transitions
from app.domain.ports import EventEmitter
from app.domain.resource_manager.capacity import RESOURCES, ResourceConfig, from_units, to_units
from app.domain.timefmt import iso
from contracts.resource_manager import (
    Granted,
    KillResponse,
    Quota,
    Quotas,
    QuotaUpdateRequest,
    QuotaUpdateResponse,
    ReleaseRequest,
    ReleaseResponse,
    Reservation,
    ReservationsQuery,
    ReserveDenied,
    ReserveGranted,
    ResourceRequest,
)
from models.resource_store import ResourceStore
from models.stored import stored_int, stored_json

log = logging.getLogger("pas.resource_manager")


def port_bound_on_host(port: int) -> bool:
    """True when something on this host already listens on the port (loopback or any address)."""
    for host in ("127.0.0.1", "0.0.0.0"):  # probing whether anything listens, not serving
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
            except OSError:
                return True
    return False


class ResourceManager:
    def __init__(
        self,
        store: ResourceStore,
        emitter: EventEmitter,
        config: ResourceConfig,
        port_in_use: Callable[[int], bool] = port_bound_on_host,
    ) -> None:
        self._store = store
        self._emitter = emitter
        self._config = config
        self._port_in_use = port_in_use

    def init_capacity(self) -> None:
        """Shipped or detected capacity, unless an operator already changed it (POST /quotas/update)."""
        for name in RESOURCES:
            self._store.set_capacity(name, to_units(name, self._config.capacity[name]), only_if_unset=True)

    # reservations

    def reserve(self, req: ResourceRequest) -> ReserveGranted | ReserveDenied:
        amounts = {name: to_units(name, float(getattr(req, name))) for name in RESOURCES}
        explicit = list(dict.fromkeys(req.ports))
        for port in explicit:
            if self._port_in_use(port):
                return self._denied("port", f"port {port} is already bound on this host", req)
        reservation_id = uuid.uuid4().hex
        event_base = {
            "reservation_id": reservation_id,
            "job_id": req.job_id,
            "agent": req.agent,
            "service_id": req.service_id,
            "resources": {**{n: from_units(n, amounts[n]) for n in RESOURCES}, "ports": explicit},
        }
        fields = {"job_id": req.job_id, "agent": req.agent, "service_id": req.service_id or ""}
        lease_s = min((s for s in (req.ttl_s, req.timeout_s) if s is not None), default=0)
        for _attempt in range(20):  # picked ports may be taken between the pick and the script
            ports = explicit + self._pick_ports(req.port_count, set(explicit))
            if len(ports) < len(explicit) + req.port_count:
                return self._denied("port", "not enough free ports in the configured range", req)
            event_base["resources"]["ports"] = ports  # type: ignore[index]
            outcome = self._store.reserve(
                reservation_id,
                req.job_id,
                amounts=amounts,
                ports=ports,
                role=req.role,
                role_limit=self._config.role_limits.get(req.role) if req.role else None,
                lease_ms=lease_s * 1000,
                holder=req.service_id,
                event_base=event_base,
                fields=fields,
            )
            if outcome.granted or outcome.resource != "port" or outcome.requested in explicit:
                break
        self._emitter.emit(outcome.events)
        log_transitions(log, outcome.events)
        if not outcome.granted:
            return self._denied_by_store(outcome.resource, outcome.requested, outcome.available, req)
        log.info(
            "reservation_granted",
            extra={"reservation_id": reservation_id, "job_id": req.job_id, "agent": req.agent, "ports": ports},
        )
        return ReserveGranted(
            reservation_id=reservation_id,
            granted=Granted(**{n: from_units(n, amounts[n]) for n in RESOURCES}, ports=ports),
            job_id=req.job_id,
            expires_at=iso(outcome.now_ms + lease_s * 1000) if lease_s else None,
            ts=iso(outcome.now_ms),
        )

    def _pick_ports(self, count: int, exclude: set[int]) -> list[int]:
        if count == 0:
            return []
        held = self._store.held_ports() | exclude
        picked: list[int] = []
        for port in range(self._config.port_min, self._config.port_max + 1):
            if port in held or self._port_in_use(port):
                continue
            picked.append(port)
            if len(picked) == count:
                break
        return picked

    def _denied_by_store(self, resource: str, requested: int, available: int, req: ResourceRequest) -> ReserveDenied:
        if resource == "port":
            reason = f"port {requested} is already reserved"
        elif resource.startswith("role:"):
            role = resource.removeprefix("role:")
            reason = f"role {role!r} is at its concurrency limit ({self._config.role_limits.get(role)})"
        else:
            reason = (
                f"Insufficient {resource}: requested {from_units(resource, requested)}, "
                f"available {from_units(resource, available)}"
            )
        return self._denied(resource, reason, req)

    def _denied(self, resource: str, reason: str, req: ResourceRequest) -> ReserveDenied:
        log.info("reservation_denied", extra={"job_id": req.job_id, "resource": resource, "reason": reason})
        return ReserveDenied(
            reason=reason, resource=resource, detail=reason, quotas=self.quotas().model_dump()["quotas"]
        )

    def release(self, req: ReleaseRequest) -> ReleaseResponse:
        if (req.reservation_id is None) == (req.job_id is None):
            raise InvalidInput("give exactly one of reservation_id or job_id", field="reservation_id")
        if req.reservation_id is not None:
            ids = [req.reservation_id]
            record = self._store.reservation(req.reservation_id)
            if record is None:
                raise NotFound(f"reservation_id {req.reservation_id!r} not found", field="reservation_id")
        else:
            ids = self._store.job_reservations(str(req.job_id))
            if not ids:
                raise NotFound(f"job_id {req.job_id!r} has no reservations", field="job_id")
        return self._finish(ids, "released", "released")

    def _finish(self, ids: list[str], status: str, reason: str) -> ReleaseResponse:
        outcome = self._store.finish(ids, status, reason)
        self._emitter.emit(outcome.events)
        log_transitions(log, outcome.events)
        totals = dict.fromkeys(RESOURCES, 0)
        ports: list[int] = []
        for held in outcome.held:
            for name in RESOURCES:
                totals[name] += to_units(name, float(held["resources"][name]))
            ports += held["resources"]["ports"]
        for rid in outcome.finished:
            log.info("reservation_finished", extra={"reservation_id": rid, "status": status, "reason": reason})
        return ReleaseResponse(
            released=Granted(**{n: from_units(n, totals[n]) for n in RESOURCES}, ports=sorted(ports)),
            released_reservations=outcome.finished,
            ts=iso(outcome.now_ms),
        )

    def kill_job_reservations(self, job_id: str, reason: str) -> KillResponse:
        ids = self._store.job_reservations(job_id)
        outcome = self._finish(ids, "killed", reason) if ids else None
        return KillResponse(
            killed_reservations=outcome.released_reservations if outcome else [],
            reason=reason,
            ts=outcome.ts if outcome else iso(self._store.now_ms()),
        )

    def has_job(self, job_id: str) -> bool:
        return bool(self._store.job_reservations(job_id))

    def release_job(self, job_id: str, status: str, reason: str) -> list[str]:
        """Ends every active reservation of a job (the job finished, failed or was killed)."""
        ids = self._store.job_reservations(job_id)
        return self._finish(ids, status, reason).released_reservations if ids else []

    def sweep(self) -> list[str]:
        """Leases: expired TTLs and holders that went down (beat)."""
        outcome = self._store.sweep()
        self._emitter.emit(outcome.events)
        log_transitions(log, outcome.events)
        for rid in outcome.finished:
            log.info("reservation_finished", extra={"reservation_id": rid, "status": "expired"})
        return outcome.finished

    # reads

    def quotas(self) -> Quotas:
        capacity, allocated = self._store.totals()
        out = {}
        for name in RESOURCES:
            total, used = capacity.get(name, 0), allocated.get(name, 0)
            out[name] = Quota(
                total_capacity=from_units(name, total),
                allocated=from_units(name, used),
                reserved=0,  # PAS's own holdings (e.g. a loaded model) land here, never in `allocated`
                available=from_units(name, total - used),
                utilization=round(used / total, 4) if total else 0.0,
                detected=from_units(name, to_units(name, self._config.detected[name])),
            )
        held = self._store.held_ports()
        return Quotas(
            quotas=out,
            ports={
                "range": [self._config.port_min, self._config.port_max],
                "reserved": len(held),
                "available": self._config.port_max
                - self._config.port_min
                + 1
                - len([p for p in held if self._config.port_min <= p <= self._config.port_max]),
            },
        )

    def update_quota(self, req: QuotaUpdateRequest) -> QuotaUpdateResponse:
        name = req.resource_type
        outcome, old, now_ms = self._store.set_capacity(name, to_units(name, req.new_capacity), only_if_unset=False)
        if outcome == "conflict":
            raise Conflict(
                f"{name} capacity {req.new_capacity} is below what is allocated ({from_units(name, stored_int(old))})",
                field="new_capacity",
                allocated=from_units(name, stored_int(old)),
            )
        log.info("quota_updated", extra={"resource": name, "new_capacity": req.new_capacity})
        return QuotaUpdateResponse(
            resource_type=name,
            old_capacity=from_units(name, stored_int(old)),
            new_capacity=from_units(name, to_units(name, req.new_capacity)),
            ts=iso(now_ms),
        )

    def reservations(self, query: ReservationsQuery) -> list[Reservation]:
        return [r for h in self._store.latest(query.status, query.limit) if (r := self._from_hash(h)) is not None]

    @staticmethod
    def _from_hash(h: dict[str, str]) -> Reservation | None:
        base = stored_json(h.get("event_base"), {})
        if not isinstance(base, dict) or not base:
            return None
        try:
            return Reservation(
                reservation_id=base["reservation_id"],
                job_id=h["job_id"],
                agent=h["agent"],
                resources=Granted(**base["resources"]),
                status=h["status"],
                created_at=iso(stored_int(h.get("created_ms"))),
                released_at=iso(stored_int(h.get("released_ms"))) if h.get("released_ms") else None,
                service_id=h.get("service_id") or None,
                role=h.get("role") or None,
                reason=h.get("reason") or None,
            )
        except (KeyError, TypeError, ValidationError):  # not a reservation PAS wrote: left out, never a 500
            log.warning("unreadable_reservation", extra={"reservation_id": base.get("reservation_id")})
            return None

    def active_count(self) -> int:
        return self._store.count("active")

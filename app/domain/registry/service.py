"""The service registry: register (upsert), heartbeat, discover, promote, deregister."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, get_args

from pydantic import ValidationError

from app.domain.errors import Conflict, NotFound
from app.domain.events import log_transitions
from app.domain.ports import EventEmitter
from app.domain.registry.liveness import liveness
from app.domain.timefmt import iso, parse_client_ts
from contracts.common import Success
from contracts.registry import (
    DiscoverQuery,
    HeartbeatRequest,
    HeartbeatResponse,
    PromoteRequest,
    PromoteResponse,
    RegisterRequest,
    RegisterResponse,
    RegistryHealth,
    ServiceRecord,
    ServiceStatus,
)
from models.registry_store import RegistryStore, Snapshot
from models.stored import MAX_SAFE_INT, stored_float, stored_int, stored_json, stored_number

log = logging.getLogger("pas.registry")

METRICS = ("p95_ms", "queue_depth", "load", "message", "progress")
_RECORD_FIELDS = frozenset(ServiceRecord.model_fields)
_STATUSES = frozenset(get_args(ServiceStatus))
HEALTHY = {"ok", "running", "queued", "waiting_approval", "done", "paused"}
DEGRADED = {"degraded", "error", "blocked"}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _metric(name: str, raw: object) -> Any:
    """A stored metric (JSON text) read back; anything else an older PAS left there reads as null."""
    if name == "message":
        value = stored_json(raw)
        return value if isinstance(value, str) else None
    return stored_number(raw, integer=name == "queue_depth", hi=100 if name == "progress" else MAX_SAFE_INT)


class Registry:
    def __init__(self, store: RegistryStore, emitter: EventEmitter, *, preservation_cap_ms: int) -> None:
        self._store = store
        self._emitter = emitter
        self._cap_ms = preservation_cap_ms

    # writes

    def register(self, req: RegisterRequest) -> RegisterResponse:
        by_name = req.type == "agent" and req.service_id is None
        for _attempt in range(10):
            existing = self._store.find_agent_by_name(req.name) if by_name else None
            service_id = (
                req.service_id or existing or (f"agent-{req.name}" if req.type == "agent" else str(uuid.uuid4()))
            )
            result = self._store.register(
                service_id,
                agent_lookup_name=req.name if by_name else None,
                expected_existing=existing,
                interval_ms=req.heartbeat_interval_s * 1000,
                ttl_ms=req.ttl_s * 1000,
                index_keys=self._store.index_keys(req.type, req.role, req.name, req.caps),
                status="ok",
                fields=self._static_fields(service_id, req),
            )
            if result.outcome != "retry":
                break
        else:  # pragma: no cover - ten concurrent renames of one agent
            raise Conflict(f"agent {req.name!r} changed while registering; retry", field="name")
        self._emitter.emit(result.events)
        created = result.outcome == "created"
        log.info(
            "service_registered",
            extra={"service_id": service_id, "service_name": req.name, "type": req.type, "new": created},
        )
        return RegisterResponse(
            service_id=service_id, registered_at=iso(result.now_ms), created=created, epoch=int(result.extra)
        )

    @staticmethod
    def _static_fields(service_id: str, req: RegisterRequest) -> dict[str, str]:
        parent = req.labels.get("parent") if req.labels else None
        reg = {
            "name": req.name,
            "type": req.type,
            "role": req.role,
            "url": req.url,
            "caps": req.caps,
            "labels": req.labels,
            "ctx_limit": req.ctx_limit,
            "cost_hint_usd_per_1k": req.cost_hint.usd_per_1k if req.cost_hint else None,
            "heartbeat_interval_s": req.heartbeat_interval_s,
            "ttl_s": req.ttl_s,
        }
        summary = {
            "service_id": service_id,
            **{k: reg[k] for k in ("name", "type", "role", "caps", "labels")},
        }
        summary["parent"] = parent
        fields = {
            "id": service_id,
            "reg": _json(reg),
            "summary": _json(summary),
            "alert_base": _json({"service_id": service_id, "service_name": req.name, "parent": parent}),
        }
        # A new registration starts with no metrics from the previous one.
        fields.update({m: "null" for m in METRICS})
        fields["client_ts"] = "null"
        return fields

    def heartbeat(self, req: HeartbeatRequest) -> HeartbeatResponse:
        fields = {m: _json(getattr(req, m)) for m in METRICS if getattr(req, m) is not None}
        if req.ts is not None:
            fields["client_ts"] = _json(req.ts)
        result = self._store.heartbeat(req.service_id, req.status, req.epoch, fields)
        if result.events:  # a late beat settled the ladder, or restored a down service
            self._emitter.emit(result.events)
            log_transitions(log, result.events)
        if result.outcome == "not_found":
            raise NotFound(f"service_id {req.service_id!r} not found", field="service_id")
        if result.outcome == "stale_epoch":
            raise Conflict(
                f"heartbeat for epoch {req.epoch} but service_id {req.service_id!r} is at epoch {result.extra}",
                field="epoch",
                current_epoch=int(result.extra),
            )
        return HeartbeatResponse(
            ts=iso(result.now_ms), status=req.status, epoch=int(result.extra), paused=result.paused
        )

    def deregister(self, service_id: str) -> Success:
        result = self._store.deregister(service_id)
        if result.outcome == "not_found":
            raise NotFound(f"service_id {service_id!r} not found", field="service_id")
        self._emitter.emit(result.events)
        log.info("service_deregistered", extra={"service_id": service_id, "reason": "manual"})
        return Success(ts=iso(result.now_ms))

    def promote(self, req: PromoteRequest) -> PromoteResponse:
        def rewrite(current: dict[str, str], to_role: str) -> tuple[dict[str, str], list[str], list[str]] | None:
            # None: the record went (a sweep deregistered it after the index was read) or cannot be read;
            # it is skipped, never a 500 (a change under the WATCH retries the whole promote anyway).
            reg, summary, old_idx = (stored_json(current.get(f)) for f in ("reg", "summary", "idx"))
            if not (isinstance(reg, dict) and isinstance(summary, dict) and isinstance(old_idx, list)):
                if current:
                    log.warning("unreadable_service_record", extra={"service_id": current.get("id")})
                return None
            try:
                new_idx = self._store.index_keys(str(reg["type"]), to_role, str(reg["name"]), list(reg["caps"]))
            except (KeyError, TypeError):
                log.warning("unreadable_service_record", extra={"service_id": current.get("id")})
                return None
            reg["role"] = summary["role"] = to_role
            return {"reg": _json(reg), "summary": _json(summary), "idx": _json(new_idx)}, old_idx, new_idx

        count = self._store.promote(req.name, req.from_role, req.to_role, rewrite)
        if count == 0:
            raise NotFound(f"no service named {req.name!r} in role {req.from_role!r}", field="name")
        log.info("service_promoted", extra={"service_name": req.name, "to_role": req.to_role, "count": count})
        return PromoteResponse(updated_instances=count, ts=iso(self._store.time_ms()))

    # reads

    def records(self, snapshot: Snapshot) -> list[ServiceRecord]:
        """Live records ordered by name, then newest registration first."""
        rows = []
        for h in snapshot.services:
            record = self._record(h, snapshot)
            if record is not None:
                rows.append(((record.name, -stored_int(h.get("registered_ms")), record.service_id), record))
        rows.sort(key=lambda row: row[0])
        return [record for _key, record in rows]

    def discover(self, query: DiscoverQuery) -> list[ServiceRecord]:
        filters = [(f, v) for f in ("type", "role", "cap", "name") if (v := getattr(query, f)) is not None]
        ids = self._store.ids_matching(filters)
        records = self.records(self._store.snapshot(ids))
        if query.status is not None:
            records = [r for r in records if r.status == query.status]
        return records

    def get(self, service_id: str) -> ServiceRecord:
        records = self.records(self._store.snapshot([service_id]))
        if not records:
            raise NotFound(f"service_id {service_id!r} not found", field="service_id")
        return records[0]

    def health(self) -> RegistryHealth:
        records = self.records(self._store.snapshot())
        return RegistryHealth(registered=len(records), healthy=sum(r.status == "ok" for r in records))

    def _record(self, h: dict[str, str], snap: Snapshot) -> ServiceRecord | None:
        # Numbers read tolerantly (models/stored.py): a hash an older PAS wrote never turns a read into a 500.
        last_hb_ms = stored_int(h.get("last_hb_ms"))
        live = liveness(
            now_ms=snap.now_ms,
            last_hb_ms=last_hb_ms,
            interval_ms=stored_int(h.get("interval_ms"), 60_000, lo=1),
            acted_level=stored_int(h.get("missed"), hi=3),
            state=h.get("state", "up"),
            preservation_since_ms=snap.preservation_since_ms,
            preservation_cap_ms=self._cap_ms,
            preservation_cleared_ms=snap.preservation_cleared_ms,
            grace_from_ms=snap.grace_from_ms,
        )
        if live.gone:
            return None
        reg = stored_json(h.get("reg"))
        if not isinstance(reg, dict) or "id" not in h:
            log.warning("unreadable_service_record", extra={"service_id": h.get("id")})
            return None
        client_ts = stored_json(h.get("client_ts"))
        if not isinstance(client_ts, str | int | float) or isinstance(client_ts, bool):
            client_ts = None
        elif not isinstance(client_ts, str):
            client_ts = stored_float(client_ts, lo=-MAX_SAFE_INT / 1000, hi=MAX_SAFE_INT / 1000)  # epoch seconds
        client_ms = parse_client_ts(client_ts) if client_ts is not None else None
        fields = {
            "service_id": h["id"],
            **reg,
            "status": "down" if live.down else h.get("status"),
            "last_heartbeat_ts": iso(last_hb_ms),
            "registered_at": iso(stored_int(h.get("registered_ms"))),
            **{m: _metric(m, h.get(m)) for m in METRICS},
            "missed_beats": live.missed,
            "epoch": stored_int(h.get("epoch")),
            "suspect": live.held,
            "client_ts": client_ts,
            "clock_skew_ms": client_ms - last_hb_ms if client_ms is not None else None,
        }
        # Every value was validated on its way in (registration, heartbeat): reads at swarm scale skip a second
        # validation. A record missing a field (written by an older PAS) still goes through the full check.
        if fields.keys() >= _RECORD_FIELDS and fields["status"] in _STATUSES:
            return ServiceRecord.model_construct(**fields)
        try:
            return ServiceRecord(**fields)
        except ValidationError:
            log.warning("unreadable_service_record", extra={"service_id": h["id"]})
            return None

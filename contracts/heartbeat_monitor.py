from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.common import Body, Query

AlertType = Literal["heartbeat_miss", "service_down", "service_deregistered", "heartbeat_restored", "self_preservation"]
AlertAction = Literal["warning", "marked_down", "deregistered", "restored", "held", "released", "grace"]


class Alert(Body):
    """heartbeat_alert: one liveness transition, stored durably and emitted as an `alert` event."""

    alert_type: AlertType
    service_id: str | None
    service_name: str | None
    missed_beats: int
    last_seen: str | None
    action: AlertAction
    ts: str
    parent: Any = None
    seq: int
    severity: Literal["info", "warning", "critical"]


class AlertsQuery(Query):
    limit: int = Field(default=50, ge=1, le=1000)
    service_id: str | None = None
    alert_type: AlertType | None = None


class AlertList(Body):
    alerts: list[Alert]


class MonitorStats(Body):
    total_services: int
    healthy_services: int
    degraded_services: int
    down_services: int
    last_check: str | None
    self_preservation: bool = False


class MonitorHealth(Body):
    status: Literal["ok"] = "ok"
    check_interval_s: float
    max_misses_before_down: int = 2
    max_misses_before_deregister: int = 3

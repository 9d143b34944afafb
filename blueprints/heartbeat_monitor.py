"""Heartbeat monitor — legacy port 6109, main port /api/heartbeat-monitor."""

from __future__ import annotations

from flask import Blueprint, Response

from blueprints._http import doc, parse_query, respond, svc
from contracts.heartbeat_monitor import AlertList, AlertsQuery, MonitorHealth, MonitorStats

bp = Blueprint("heartbeat_monitor", __name__, url_prefix="/api/heartbeat-monitor")
TAGS = ("heartbeat-monitor",)


@bp.get("/health")
@doc(resp={200: MonitorHealth}, tags=TAGS)
def health() -> Response:
    """Monitor health and its thresholds."""
    return respond(svc().heartbeat_monitor.health())


@bp.get("/stats")
@doc(resp={200: MonitorStats}, tags=TAGS)
def stats() -> Response:
    """Service counts by health, as the Redis clock says now."""
    return respond(svc().heartbeat_monitor.stats())


@bp.get("/alerts")
@doc(query=AlertsQuery, resp={200: AlertList}, tags=TAGS)
def alerts() -> Response:
    """The most recent alerts, oldest first (durable history)."""
    return respond(AlertList(alerts=svc().heartbeat_monitor.alerts(parse_query(AlertsQuery))))

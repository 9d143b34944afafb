from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.common import Body, Query
from contracts.heartbeat_monitor import Alert
from contracts.registry import ServiceRecord


class HmiHealth(Body):
    status: Literal["ok"] = "ok"
    service: Literal["hmi_app"] = "hmi_app"
    port: int = 6101
    timestamp: str


class HmiServices(Body):
    services: list[ServiceRecord]


class TreeNode(Body):
    name: str | None
    service_id: str | None
    status: str | None
    port: Any = None
    last_heartbeat: str | None
    agent_role: Any = None
    tier: Any = None
    type: str | None
    children: list[TreeNode] = Field(default_factory=list)


class Tree(Body):
    name: Literal["PAS Root"] = "PAS Root"
    status: Literal["idle", "running"]
    children: list[TreeNode]


class MetricsSummary(Body):
    total_services: int
    healthy_services: int
    health_percentage: float


class Metrics(Body):
    timestamp: str
    services: dict[str, dict[str, Any]]
    summary: MetricsSummary
    registered: dict[str, int] = Field(default_factory=dict)  # the registry's counts, outside `summary`


class HmiAlerts(Body):
    alerts: list[dict[str, Any]]


class AlertsFilter(Query):
    limit: int = Field(default=200, ge=1, le=1000)


class Task(Body):
    task_id: str
    name: str
    status: str
    agent: str
    progress: float
    start_time: str | None
    end_time: str | None


class CurrentTask(Body):
    task: Task | None


class SequencerAgent(Body):
    service_id: str
    name: str
    tier: Any = None
    status: str
    agent_role: Any = None


class SequencerTask(Body):
    task_id: str
    agent_id: str
    name: str
    status: str
    progress: float
    start_time: str | None
    end_time: str | None


class Sequencer(Body):
    agents: list[SequencerAgent]
    tasks: list[SequencerTask]
    timestamp: str


__all__ = ["Alert"]

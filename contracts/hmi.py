from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from contracts.common import Body, Query
from contracts.heartbeat_monitor import Alert
from contracts.registry import ServiceRecord
from contracts.resource_manager import Quota, Reservation


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
    ctx_ratio: float | None = None  # the token governor's used/limit: the node's size
    display_name: Any = None  # labels.display_name (the catalogue's)
    tokens: int | None = None  # Claude Code sub-agent runs' total tokens, as their Agent calls reported them
    cost_usd: float | None = None  # their cost as Claude Code reported it (2.1.197 reports none: null)
    runs: int | None = None  # sub-agent runs reported
    # The "models" branch: type "model" records under one synthetic root-level node, grouped by labels.provider.
    group: str | None = None  # set on a grouping node (no service): "models", then "models/<provider>"
    provider: Any = None  # labels.provider: "local", "openai" … (models and their groups)
    model: Any = None  # labels.model: what the service serves
    caps: list[str] | None = None  # models only
    reason: str | None = None  # why a model is not ok: the message of its last heartbeat
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
    alert_type: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    severity: Literal["info", "warning", "critical"] | None = None
    source: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    service: str | None = Field(default=None, min_length=1, max_length=256)  # part of the name or id
    acknowledged: bool | None = None


class HostMetrics(Body):
    cpus: int
    cpu_percent: float
    mem_percent: float
    mem_used_mb: int
    mem_total_mb: int
    load_1m: float


class ContextBar(Body):
    run_id: str
    ctx_used: int
    ctx_limit: int
    ctx_ratio: float
    status: str


class Holding(Body):
    """What a service holds now through active reservations."""

    cpu: float = 0.0
    mem_mb: int = 0
    gpu: int = 0
    reservations: int = 0


class JobBrief(Body):
    job_id: str
    task: str
    status: str
    progress: float
    started_at: str | None


class AgentCard(Body):
    service_id: str
    name: str
    type: str
    role: str
    status: str
    message: str | None
    progress: float | None
    last_heartbeat_ts: str
    tier: Any = None
    parent: Any = None
    paused: bool
    context: ContextBar | None
    holding: Holding
    job: JobBrief | None


class SwarmView(Body):
    """The dashboard's snapshot: host, capacity, and one card per registered service."""

    timestamp: str
    host: HostMetrics
    capacity: dict[str, Quota]
    paused: bool
    open_alerts: int
    last_seq: int
    agents: list[AgentCard]


class ResourcesView(Body):
    timestamp: str
    host: HostMetrics
    capacity: dict[str, Quota]
    ports: dict[str, Any]
    holdings: dict[str, Holding]  # by agent
    reservations: list[Reservation]
    last_seq: int


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


class Banner(Body):
    """What every page's alert banner shows."""

    down: list[str]  # names, at most 20
    down_count: int
    open_critical: int


class AgentTotals(Body):
    """What a catalogue agent's Claude Code runs added up to (the hooks' Agent reports)."""

    tokens: int = 0
    runs: int = 0
    cost_usd: float | None = None  # null until a report carries a cost


class AgentActivityQuery(Query):
    limit: int = Field(default=2000, ge=1, le=20_000)  # the newest hook events read
    tools: bool = True  # false: sessions only (the tree), tool_calls left empty


class ToolCallBlock(Body):
    """One Claude Code tool call (its PostToolUse): names, ids and times, never its input or output."""

    seq: int
    tool_use_id: str
    tool_name: str
    session_id: str
    agent_id: str | None  # null: the session's main agent
    agent_type: str | None
    service_id: str | None
    status: str  # ok | error
    start: str  # end - duration
    end: str
    duration_ms: int | None


class SessionDelegation(Body):
    to_agent_type: str
    to_service_id: str
    to_registered: bool
    count: int
    last_ts: str


class AgentSession(Body):
    """A Claude Code session as its hooks showed it: where the delegations to the catalogue agents come from."""

    session_id: str
    status: str  # open | idle | ended | closed | unknown (its session_update is older than the window)
    first_ts: str
    last_ts: str
    tool_calls: int
    delegations: list[SessionDelegation]


class AgentActivity(Body):
    """The HMI's read of the agent router's hook timeline: sessions, their delegations and tool calls."""

    timestamp: str
    last_seq: int
    sessions: list[AgentSession]
    tool_calls: list[ToolCallBlock]  # oldest first

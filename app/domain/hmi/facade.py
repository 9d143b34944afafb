"""The HMI's read model: one in-process view over the other services for the pages and the user's clients
(API-CONTRACT §9). Reads only; the root of the tree is always "PAS Root"."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.errors import PasError
from app.domain.events import envelope
from app.domain.hmi.model_branch import model_branch
from app.domain.registry.service import Registry
from app.domain.timefmt import iso
from contracts.hmi import (
    AgentActivity,
    AgentCard,
    AgentSession,
    AgentTotals,
    AlertsFilter,
    Banner,
    ContextBar,
    CurrentTask,
    Holding,
    HostMetrics,
    JobBrief,
    Metrics,
    MetricsSummary,
    ResourcesView,
    Sequencer,
    SequencerAgent,
    SequencerTask,
    SwarmView,
    Task,
    ToolCallBlock,
    Tree,
    TreeNode,
)
from contracts.jobs import JobRecord, JobsQuery
from contracts.registry import DiscoverQuery, ServiceRecord
from contracts.resource_manager import Quotas, Reservation, ReservationsQuery
from contracts.token_governor import AgentContext
from models.event_store import EventStore

CORE = ("registry", "heartbeat_monitor", "resource_manager", "token_governor", "event_stream")


@dataclass(frozen=True)
class HmiSources:
    """What the pages read from the other services (in-process calls, never HTTP)."""

    health_checks: dict[str, Callable[[], dict[str, Any]]]
    jobs: Callable[[JobsQuery], list[JobRecord]]
    monitor_alerts: Callable[[int], list[dict[str, Any]]]
    contexts: Callable[[], list[AgentContext]]
    quotas: Callable[[], Quotas]
    reservations: Callable[[ReservationsQuery], list[Reservation]]
    paused: Callable[[], tuple[bool, list[str]]]
    acked_alerts: Callable[[], dict[int, dict[str, Any]]]
    host: Callable[[], dict[str, Any]]
    hook_timeline: Callable[[int], tuple[list[AgentSession], list[ToolCallBlock]]]
    agent_totals: Callable[[list[str]], dict[str, AgentTotals]]


class HmiFacade:
    def __init__(self, registry: Registry, events: EventStore, sources: HmiSources) -> None:
        self._registry = registry
        self._events = events
        self._src = sources
        self._health = sources.health_checks
        self._jobs = sources.jobs
        self._monitor_alerts = sources.monitor_alerts

    def now(self) -> str:
        return iso(self._events.now_ms())

    def services(self) -> list[ServiceRecord]:
        return self._registry.discover(DiscoverQuery())

    def tree(self) -> Tree:
        everything = self.services()
        records = [r for r in everything if r.type != "model"]  # models: their own branch, never under an agent
        contexts = self._contexts()
        totals = self._src.agent_totals([r.service_id for r in records if r.type == "agent"])
        nodes = {r.service_id: self._node(r, self._context_of(contexts, r), totals.get(r.service_id))
                 for r in records}  # fmt: skip
        by_name: dict[str, str] = {}
        for r in records:
            by_name.setdefault(r.name, r.service_id)
        roots: list[TreeNode] = []
        for r in records:
            parent = (r.labels or {}).get("parent")
            pid = None
            if isinstance(parent, str):
                pid = next((c for c in (parent, f"agent-{parent}", by_name.get(parent)) if c in nodes), None)
            if pid is None or pid == r.service_id or self._is_descendant(nodes, r.service_id, pid):
                roots.append(nodes[r.service_id])
            else:
                nodes[pid].children.append(nodes[r.service_id])
        models = model_branch([r for r in everything if r.type == "model"])
        if models is not None:
            roots.append(models)
        return Tree(status="running" if roots else "idle", children=roots)

    @staticmethod
    def _is_descendant(nodes: dict[str, TreeNode], ancestor: str, candidate: str) -> bool:
        """True when attaching under `candidate` would make a cycle."""
        stack = list(nodes[ancestor].children)
        while stack:
            node = stack.pop()
            if node.service_id == candidate:
                return True
            stack.extend(node.children)
        return False

    @staticmethod
    def _node(r: ServiceRecord, ctx: ContextBar | None = None, totals: AgentTotals | None = None) -> TreeNode:
        labels = r.labels
        # Built from already-validated records: construct (no re-validation; 5,000 nodes cost ~0.2 s otherwise).
        return TreeNode.model_construct(
            ctx_ratio=ctx.ctx_ratio if ctx else None,
            name=r.name,
            service_id=r.service_id,
            status=r.status,
            last_heartbeat=r.last_heartbeat_ts,
            type=r.type,
            port=labels.get("port") if labels else None,
            agent_role=labels.get("agent_role") if labels else None,
            tier=labels.get("tier") if labels else None,
            display_name=labels.get("display_name") if labels else None,
            tokens=totals.tokens if totals else None,
            cost_usd=totals.cost_usd if totals else None,
            runs=totals.runs if totals else None,
            children=[],  # given, not defaulted: pydantic inspects a default_factory's signature per call
        )

    def metrics(self) -> Metrics:
        slots: dict[str, dict[str, Any]] = {}
        for name in CORE:
            try:
                slots[name] = self._health[name]()
            except (PasError, OSError, ValueError):
                slots[name] = {"status": "error"}
        healthy = sum(slot.get("status") == "ok" for slot in slots.values())
        records = self.services()
        return Metrics(
            timestamp=self.now(),
            services=slots,
            summary=MetricsSummary(
                total_services=len(CORE),
                healthy_services=healthy,
                health_percentage=round(healthy / len(CORE) * 100, 1),
            ),
            registered={
                "total": len(records),
                "ok": sum(r.status == "ok" for r in records),
                "down": sum(r.status == "down" for r in records),
            },
        )

    def alerts(self, query: AlertsFilter) -> list[dict[str, Any]]:
        """Alerts, oldest first, with their acknowledgement; the filters apply before the limit."""
        acked = self._src.acked_alerts()
        out = []
        for raw in self._all_alerts(1000):
            ack = acked.get(int(raw.get("seq") or 0))
            a = {**raw, "acknowledged": ack is not None, "acknowledged_at": ack["ts"] if ack else None}
            if self._matches(a, query):
                out.append(a)
        return out[-query.limit :]

    @staticmethod
    def _matches(a: dict[str, Any], q: AlertsFilter) -> bool:
        if q.alert_type is not None and a.get("alert_type") != q.alert_type:
            return False
        if q.severity is not None and a.get("severity") != q.severity:
            return False
        if q.source is not None and a.get("source", "heartbeat_monitor") != q.source:
            return False
        if q.acknowledged is not None and a["acknowledged"] != q.acknowledged:
            return False
        if q.service is not None:
            needle = q.service.lower()
            hay = [a.get(k) for k in ("service_name", "service_id", "agent", "job_id", "provider")]
            if not any(isinstance(h, str) and needle in h.lower() for h in hay):
                return False
        return True

    def alert_exists(self, seq: int) -> bool:
        return any(int(a.get("seq") or 0) == seq for a in self._all_alerts(1000))

    def _all_alerts(self, limit: int) -> list[dict[str, Any]]:
        """Monitor alerts (durable) and the other services' alert events (the replay window), oldest first."""
        other = []
        for body in self._events.recent(2000):
            raw = json.loads(body)
            if raw["event_type"] == "alert" and raw["source"] != "heartbeat_monitor":
                env = envelope(body)
                other.append({**env["data"], "ts": env["ts"], "seq": env["seq"], "source": env["source"]})
        merged = sorted(self._monitor_alerts(limit) + other, key=lambda a: int(a.get("seq") or 0))
        return merged[-limit:]

    def current_task(self) -> CurrentTask:
        running = self._jobs(JobsQuery(status="running", limit=1))
        if not running:
            return CurrentTask(task=None)
        j = running[0]
        return CurrentTask(
            task=Task(
                task_id=j.job_id,
                name=j.task,
                status=j.status,
                agent=j.agent,
                progress=j.progress,
                start_time=j.started_at,
                end_time=j.finished_at,
            )
        )

    def sequencer(self) -> Sequencer:
        agents = [
            SequencerAgent(
                service_id=r.service_id,
                name=r.name,
                tier=(r.labels or {}).get("tier"),
                status=r.status,
                agent_role=(r.labels or {}).get("agent_role"),
            )
            for r in self.services()
            if r.type == "agent"
        ]
        tasks = [
            SequencerTask(
                task_id=j.job_id,
                agent_id=j.agent,
                name=j.task,
                status=j.status,
                progress=j.progress,
                start_time=j.started_at or j.created_at,
                end_time=j.finished_at,
            )
            for j in self._jobs(JobsQuery(limit=500))
        ]
        return Sequencer(agents=agents, tasks=tasks, timestamp=self.now())

    def agent_activity(self, limit: int, tools: bool = True) -> AgentActivity:
        """Claude Code sessions, their delegations and tool calls (the tree's sessions, the sequencer's lanes)."""
        last_seq = self._events.last_seq()  # before the read: a client replays from here without a gap
        sessions, calls = self._src.hook_timeline(limit)
        return AgentActivity(timestamp=self.now(), last_seq=last_seq, sessions=sessions,
                             tool_calls=calls if tools else [])  # fmt: skip

    # the dashboard and the resources page

    def _contexts(self) -> dict[str, ContextBar]:
        """The latest context per agent (by the name or id the governor was told)."""
        latest: dict[str, AgentContext] = {}
        for c in self._src.contexts():
            if c.agent not in latest or c.last_updated > latest[c.agent].last_updated:
                latest[c.agent] = c
        return {
            a: ContextBar(run_id=c.run_id, ctx_used=c.ctx_used, ctx_limit=c.ctx_limit, ctx_ratio=c.ctx_ratio,
                          status=c.status)
            for a, c in latest.items()
        }  # fmt: skip

    @staticmethod
    def _context_of(contexts: dict[str, ContextBar], r: ServiceRecord) -> ContextBar | None:
        return contexts.get(r.service_id) or contexts.get(r.name)

    def _active(self) -> list[Reservation]:
        return self._src.reservations(ReservationsQuery(status="active", limit=1000))

    @staticmethod
    def _holdings(reservations: list[Reservation], key: Callable[[Reservation], str]) -> dict[str, Holding]:
        out: dict[str, Holding] = {}
        for res in reservations:
            h = out.setdefault(key(res), Holding())
            h.cpu = round(h.cpu + float(res.resources.cpu), 3)
            h.mem_mb += res.resources.mem_mb
            h.gpu += res.resources.gpu
            h.reservations += 1
        return out

    def host(self) -> HostMetrics:
        return HostMetrics(**self._src.host())

    def swarm(self) -> SwarmView:
        last_seq = self._events.last_seq()  # before the reads: a client replays from here without a gap
        records = self.services()
        contexts = self._contexts()
        active = self._active()
        by_service = self._holdings([r for r in active if r.service_id], lambda r: r.service_id or "")
        by_agent = self._holdings([r for r in active if not r.service_id], lambda r: r.agent)
        running: dict[str, JobRecord] = {}
        for j in self._jobs(JobsQuery(status="running", limit=1000)):
            running.setdefault(j.agent, j)
        paused_all, paused_agents = self._src.paused()
        cards = []
        for r in records:
            labels = r.labels or {}
            job = running.get(r.service_id) or running.get(r.name)
            cards.append(
                AgentCard(
                    service_id=r.service_id, name=r.name, type=r.type, role=r.role, status=r.status,
                    message=r.message, progress=r.progress, last_heartbeat_ts=r.last_heartbeat_ts,
                    tier=labels.get("tier"), parent=labels.get("parent"),
                    paused=paused_all or r.service_id in paused_agents,
                    context=self._context_of(contexts, r),
                    holding=by_service.get(r.service_id) or by_agent.get(r.name) or Holding(),
                    job=JobBrief(job_id=job.job_id, task=job.task, status=job.status, progress=job.progress,
                                 started_at=job.started_at) if job else None,
                )
            )  # fmt: skip
        open_alerts = self._open_critical()
        return SwarmView(
            timestamp=self.now(), host=self.host(), capacity=self._src.quotas().quotas, paused=paused_all,
            open_alerts=open_alerts, last_seq=last_seq, agents=cards,
        )  # fmt: skip

    def resources(self) -> ResourcesView:
        last_seq = self._events.last_seq()
        quotas = self._src.quotas()
        active = self._active()
        return ResourcesView(
            timestamp=self.now(), host=self.host(), capacity=quotas.quotas, ports=quotas.ports,
            holdings=self._holdings(active, lambda r: r.agent), reservations=active, last_seq=last_seq,
        )  # fmt: skip

    def _open_critical(self) -> int:
        return len(self.alerts(AlertsFilter(limit=1000, acknowledged=False, severity="critical")))

    def banner(self) -> Banner:
        down = [r.name for r in self.services() if r.status == "down"]
        return Banner(down=down[:20], down_count=len(down), open_critical=self._open_critical())

"""The HMI's read model: one in-process view over the other services for the pages and the user's clients
(API-CONTRACT §9). Reads only; the root of the tree is always "PAS Root"."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from app.domain.errors import PasError
from app.domain.events import envelope
from app.domain.registry.service import Registry
from app.domain.timefmt import iso
from contracts.hmi import (
    CurrentTask,
    Metrics,
    MetricsSummary,
    Sequencer,
    SequencerAgent,
    SequencerTask,
    Task,
    Tree,
    TreeNode,
)
from contracts.jobs import JobRecord, JobsQuery
from contracts.registry import DiscoverQuery, ServiceRecord
from models.event_store import EventStore

CORE = ("registry", "heartbeat_monitor", "resource_manager", "token_governor", "event_stream")


class HmiFacade:
    def __init__(
        self,
        registry: Registry,
        events: EventStore,
        health_checks: dict[str, Callable[[], dict[str, Any]]],
        jobs: Callable[[JobsQuery], list[JobRecord]],
        monitor_alerts: Callable[[int], list[dict[str, Any]]],
    ) -> None:
        self._registry = registry
        self._events = events
        self._health = health_checks
        self._jobs = jobs
        self._monitor_alerts = monitor_alerts

    def now(self) -> str:
        return iso(self._events.now_ms())

    def services(self) -> list[ServiceRecord]:
        return self._registry.discover(DiscoverQuery())

    def tree(self) -> Tree:
        records = self.services()
        nodes = {r.service_id: self._node(r) for r in records}
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
    def _node(r: ServiceRecord) -> TreeNode:
        labels = r.labels
        return TreeNode(
            name=r.name,
            service_id=r.service_id,
            status=r.status,
            last_heartbeat=r.last_heartbeat_ts,
            type=r.type,
            port=labels.get("port") if labels else None,
            agent_role=labels.get("agent_role") if labels else None,
            tier=labels.get("tier") if labels else None,
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

    def alerts(self, limit: int) -> list[dict[str, Any]]:
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

"""The agents the router knows: the registry's type:"agent" records, read per request (no cache to go stale).
`agent_name` is the service_id minus "agent-"; labels.tier compares as an int; order is tier, then name."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from app.domain.errors import NotFound
from contracts.agent_router import AgentDiscoverRequest, AgentEntry, AgentRouterStats
from contracts.registry import ServiceRecord

SERVICE_PREFIX = "agent-"
ROLES = ("coord", "exec", "system")
INT_TEXT = re.compile(r"[+-]?[0-9]{1,9}")
NO_TIER = 1 << 30  # a record without a numeric tier sorts after every real one


def tier_of(labels: dict[str, Any] | None) -> int | None:
    """labels.tier as an int: 2, 2.0 and "2" are tier 2; anything else (true, 2.5, "two") is no tier."""
    raw = (labels or {}).get("tier")
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and INT_TEXT.fullmatch(raw.strip()):
        return int(raw.strip())
    return None


def entry(record: ServiceRecord) -> AgentEntry:
    labels = record.labels or {}
    role = labels.get("agent_role")
    display = labels.get("display_name")
    return AgentEntry(
        agent_name=record.service_id.removeprefix(SERVICE_PREFIX),
        display_name=display if isinstance(display, str) and display else record.name,
        role=role if isinstance(role, str) else None,
        tier=tier_of(labels),
        capabilities=list(record.caps),
        url=record.url,
        status=record.status,
    )


def _order(e: AgentEntry) -> tuple[int, str]:
    return (e.tier if e.tier is not None else NO_TIER, e.agent_name)


class AgentDirectory:
    def __init__(self, agent_records: Callable[[], list[ServiceRecord]], now_iso: Callable[[], str]) -> None:
        self._records = agent_records  # the registry's type:"agent" records
        self._now = now_iso

    def all(self) -> list[AgentEntry]:
        return sorted((entry(r) for r in self._records()), key=_order)

    def discover(self, req: AgentDiscoverRequest) -> list[AgentEntry]:
        wanted = set(req.capabilities)
        found = [
            e
            for e in self.all()
            if wanted <= set(e.capabilities)
            and (req.agent_role is None or e.role == req.agent_role)
            and (req.tier is None or e.tier == req.tier)
        ]
        return found[: req.limit]

    def named(self, agent_name: str) -> AgentEntry:
        for e in self.all():
            if e.agent_name == agent_name:
                return e
        raise NotFound(f"agent_name {agent_name!r} not found", field="agent_name")

    def first_with(self, capabilities: list[str]) -> AgentEntry:
        """A capability invoke takes the first discover match."""
        found = self.discover(AgentDiscoverRequest(capabilities=capabilities, limit=1))
        if not found:
            raise NotFound(f"no agent has capabilities {capabilities!r}", field="capabilities")
        return found[0]

    def stats(self) -> AgentRouterStats:
        updated = self._now()
        agents = self.all()
        by_role = dict.fromkeys(ROLES, 0)
        by_tier: dict[str, int] = {}
        for e in agents:
            if e.role in by_role:
                by_role[e.role] += 1
            tier = str(e.tier) if e.tier is not None else "unknown"
            by_tier[tier] = by_tier.get(tier, 0) + 1
        return AgentRouterStats(total_agents=len(agents), by_role=by_role, by_tier=by_tier, cache_updated=updated)

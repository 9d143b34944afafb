"""The catalogue registered as `type:"agent"` services (API-CONTRACT §11): upserts, a re-run restores a partial set."""

from __future__ import annotations

from collections.abc import Callable

from app.domain.agents.catalogue import Catalogue
from contracts.agents import AgentConfig
from contracts.registry import RegisterRequest, RegisterResponse

INVOKE_PATH = "/api/agent-router/invoke"
# A catalogue entry is a standing record, not a process: an idle agent must not be marked down or swept away
# for not beating. While it runs, its hooks report it (labels.report_interval_s is its own cadence).
STANDING_INTERVAL_S = 86400
STANDING_TTL_S = 3 * 86400

Register = Callable[[RegisterRequest], RegisterResponse]


def service_id(name: str) -> str:
    return f"agent-{name}"


def registration(agent: AgentConfig, base_url: str) -> RegisterRequest:
    return RegisterRequest(
        service_id=service_id(agent.name),
        name=agent.name,
        type="agent",
        role="production",
        url=base_url.rstrip("/") + INVOKE_PATH,
        caps=agent.capabilities,
        labels={
            "agent_role": agent.agent_role,
            "tier": agent.tier,
            "parent": agent.parent,
            "children": agent.children,
            "token_target": agent.token_target,
            "token_hard_max": agent.token_hard_max,
            "display_name": agent.display_name,
            "budget_class": agent.budget_class,
            "transport": agent.transport,
            "report_interval_s": agent.heartbeat_interval_s,
        },
        heartbeat_interval_s=STANDING_INTERVAL_S,
        ttl_s=STANDING_TTL_S,
    )


def register_catalogue(catalogue: Catalogue, register: Register, base_url: str) -> list[RegisterResponse]:
    """Every agent, root first (so a parent is listed before its children); `register` is the registry's upsert."""
    return [register(registration(agent, base_url)) for agent in catalogue.agents.values()]


def register_missing(
    catalogue: Catalogue, register: Register, registered: Callable[[str], bool], base_url: str
) -> list[RegisterResponse]:
    """The agents not registered yet (what `pas up` does at start): a restart keeps each agent's state, and a
    partial set is made whole."""
    return [
        register(registration(agent, base_url))
        for agent in catalogue.agents.values()
        if not registered(service_id(agent.name))
    ]

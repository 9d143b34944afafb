"""Agent router — legacy port 6119 (API-CONTRACT.md §11). /discover, /invoke and /stats land here as they are
built; the Claude Code hook shapes are in contracts/hooks.py."""

from __future__ import annotations

from typing import Literal

from contracts.common import Body


class AgentRouterHealth(Body):
    status: Literal["ok"] = "ok"
    service: Literal["agent_router"] = "agent_router"
    port: int
    timestamp: str
    cached_agents: int  # type:"agent" records in the registry
    # Claude Code sessions and sub-agent runs PAS is following through the hooks.
    open_sessions: int = 0
    running_agents: int = 0

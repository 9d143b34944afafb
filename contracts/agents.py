from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.common import FiniteFloat, Request


class AgentConfig(Request):
    """agent_config: one entry of the agent catalogue (agents/), registered as `agent-<name>`."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    display_name: str = Field(min_length=1, max_length=200)
    agent_role: Literal["coord", "exec", "system"]
    tier: int = Field(ge=0, le=10)
    capabilities: list[str] = Field(min_length=1)
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    token_target: FiniteFloat = Field(default=0.5, ge=0, le=1)
    token_hard_max: FiniteFloat = Field(default=0.75, ge=0, le=1)
    description: str = ""
    transport: Literal["rpc", "file", "mcp", "rest"] = "rest"

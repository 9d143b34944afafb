"""The agent catalogue's entry (agents/<name>.toml), one per agent; API-CONTRACT §11."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from contracts.common import FiniteFloat, Request
from contracts.provider_router import Optimization

AgentRole = Literal["coord", "exec", "system"]
# The token budget an agent's context is held to: (target, hard max) per class; the catalogue checks the numbers.
BudgetClass = Literal["coordinator", "standard", "trainer", "light"]
BUDGETS: dict[str, tuple[float, float]] = {
    "coordinator": (0.50, 0.75),
    "standard": (0.30, 0.50),
    "trainer": (0.40, 0.70),
    "light": (0.20, 0.40),
}
# Claude Code's tool names (2.1.x) an agent may be granted; `tools:` in .claude/agents/<name>.md.
ClaudeTool = Literal[
    "Agent", "Bash", "Edit", "ExitPlanMode", "Glob", "Grep", "LSP", "NotebookEdit", "Read", "Skill", "TaskOutput",
    "TaskStop", "TodoWrite", "WebFetch", "WebSearch", "Write",
]  # fmt: skip
ClaudeModel = Literal["sonnet", "opus", "haiku", "inherit"]
# Actions the agent must stop at and ask a human for (it reports waiting_approval).
Approval = Literal[
    "release", "deploy", "promote_model", "delete_data", "schema_change", "secrets_change", "budget_increase",
    "dependency_change",
]  # fmt: skip
# Lowercase words joined by single hyphens: Claude Code's agent name, the registry's `agent-<name>`, the file name.
AGENT_NAME = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
AgentName = Annotated[str, Field(min_length=1, max_length=64, pattern=AGENT_NAME)]
Capability = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_-]*$")]


class AgentResources(Request):
    """What a run of the agent reserves from the resource manager (names as in resource_request)."""

    cpu: FiniteFloat = Field(gt=0, le=64)
    mem_mb: int = Field(ge=64, le=1 << 20)
    gpu: int = Field(default=0, ge=0, le=8)
    gpu_mem_mb: int = Field(default=0, ge=0, le=1 << 20)


class ModelPreferences(Request):
    """How PAS's gateway picks a model when the agent router runs the agent (provider_router Requirements)."""

    capability: str = Field(min_length=1, max_length=200)
    models: list[str] = Field(default_factory=list, max_length=10)  # preferred models, best first
    optimization: Optimization = "balanced"


class AgentConfig(Request):
    """agent_config: one entry of the agent catalogue (agents/), registered as `agent-<name>`."""

    name: AgentName
    display_name: str = Field(min_length=1, max_length=200)
    agent_role: AgentRole
    tier: int = Field(ge=1, le=10)  # depth in the catalogue tree: the architect is 1
    parent: AgentName | None = None  # None only for the root (the architect)
    children: list[AgentName] = Field(default_factory=list, max_length=50)
    capabilities: list[Capability] = Field(min_length=1, max_length=50)
    rights: list[ClaudeTool] = Field(min_length=1, max_length=20)  # the Claude Code tools it may use
    budget_class: BudgetClass
    token_target: FiniteFloat = Field(gt=0, lt=1)
    token_hard_max: FiniteFloat = Field(gt=0, le=1)
    resources: AgentResources
    heartbeat_interval_s: int = Field(ge=5, le=3600)  # how often it reports while it runs
    approvals_required: list[Approval] = Field(default_factory=list, max_length=10)
    model_preferences: ModelPreferences
    transport: Literal["rpc", "file", "mcp", "rest"] = "rest"
    # Claude Code reads it to decide when to delegate; a file without one is silently dropped.
    description: str = Field(min_length=20, max_length=1000)
    claude_model: ClaudeModel
    system_prompt: str = Field(min_length=200, max_length=20000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.token_target >= self.token_hard_max:
            raise ValueError(f"token_target {self.token_target} must be below token_hard_max {self.token_hard_max}")
        if len(set(self.children)) != len(self.children):
            raise ValueError("children lists an agent twice")
        if len(set(self.rights)) != len(self.rights):
            raise ValueError("rights lists a tool twice")
        if self.name in self.children or self.parent == self.name:
            raise ValueError("an agent cannot be its own parent or child")
        return self

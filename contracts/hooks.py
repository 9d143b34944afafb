"""What Claude Code's hooks post to PAS (`POST /api/agent-router/hooks/claude-code`), one model per hook event,
and what PAS answers (Claude Code's hook JSON output).

Shapes observed from Claude Code 2.1.197 (issue 11; its bundle builds every hook input from one base):
every event carries session_id, transcript_path, cwd, hook_event_name (plus prompt_id, permission_mode, effort);
inside a sub-agent the base adds agent_id and agent_type. SubagentStart/SubagentStop carry agent_id and
agent_type; SubagentStop adds agent_transcript_path and last_assistant_message; Pre/PostToolUse carry tool_name,
tool_input, tool_use_id, PostToolUse adds tool_response and duration_ms.

These are the one set of request models where unknown fields are IGNORED, not 422: Claude Code adds fields to its
hook inputs between versions, and a hook PAS refused would silently drop the user's telemetry (Claude Code treats
a non-2xx answer as a non-blocking error). Fields PAS acts on are still validated strictly (422 naming them).
Contents that may hold secrets (tool_input, tool_response text, prompts, last_assistant_message) are never kept:
the models read the few names, ids and numbers PAS needs and drop the rest.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from contracts.common import ID_PATTERN, Body, FiniteFloat, SafeInt

HookId = Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]
# Claude Code sends agent_type "" when it does not know it (SubagentStop: `agent_type: a ?? ""` in 2.1.197).
AgentType = Annotated[str, Field(max_length=200, pattern=ID_PATTERN)]
Path = Annotated[str, Field(max_length=4096)]
# The tools that delegate to a sub-agent (Agent since Claude Code 2.1; Task before).
DELEGATION_TOOLS = frozenset({"Agent", "Task"})


def _delegation_target(tool_name: str, tool_input: dict[str, Any] | None) -> str | None:
    """The sub-agent an Agent tool call invokes (its catalogue name), or None."""
    if tool_name not in DELEGATION_TOOLS or not tool_input:
        return None
    target = tool_input.get("subagent_type")
    return target if isinstance(target, str) and 0 < len(target) <= 200 else None


class HookInput(BaseModel):
    # Unknown fields ignored (see the module docstring); known ones strictly typed.
    model_config = ConfigDict(extra="ignore", strict=True)

    session_id: HookId
    transcript_path: Path | None = None
    cwd: Path | None = None
    # Set when the event fired inside a sub-agent (its run id and catalogue name); "" reads as absent.
    agent_id: HookId | None = None
    agent_type: AgentType | None = None

    @field_validator("agent_type", mode="after")
    @classmethod
    def _empty_is_absent(cls, value: str | None) -> str | None:
        return value or None


class SessionStart(HookInput):
    hook_event_name: Literal["SessionStart"]
    source: str | None = Field(default=None, max_length=100)


class SubagentStart(HookInput):
    hook_event_name: Literal["SubagentStart"]
    agent_id: HookId
    agent_type: HookId


class SubagentStop(HookInput):
    hook_event_name: Literal["SubagentStop"]
    agent_id: HookId
    agent_type: AgentType | None = None  # "" or absent: the run's own, as its SubagentStart named it
    agent_transcript_path: Path | None = None
    # last_assistant_message is deliberately not a field: it is the agent's output and may hold secrets.


class PreToolUse(HookInput):
    hook_event_name: Literal["PreToolUse"]
    tool_name: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    tool_use_id: HookId
    # Validated as an object, never kept; only an Agent call's subagent_type is read (delegation_target()).
    tool_input: dict[str, Any] | None = None

    def delegation_target(self) -> str | None:
        return _delegation_target(self.tool_name, self.tool_input)


class AgentUsage(BaseModel):
    """The usage of the sub-agent's last model call, as the Agent tool reports it."""

    model_config = ConfigDict(extra="ignore", strict=True)
    input_tokens: SafeInt = Field(ge=0)
    output_tokens: SafeInt = Field(ge=0)
    cache_creation_input_tokens: SafeInt | None = Field(default=None, ge=0)
    cache_read_input_tokens: SafeInt | None = Field(default=None, ge=0)

    @property
    def context_tokens(self) -> int:
        """What the sub-agent's context held on its last turn: the input plus the cache tokens."""
        return self.input_tokens + (self.cache_creation_input_tokens or 0) + (self.cache_read_input_tokens or 0)


class AgentResult(BaseModel):
    """An Agent tool's tool_response (status "completed"); its content and prompt are not fields."""

    model_config = ConfigDict(extra="ignore", strict=True)
    agentId: HookId  # noqa: N815  (Claude Code's own names)
    agentType: HookId | None = None  # noqa: N815
    usage: AgentUsage
    totalTokens: SafeInt | None = Field(default=None, ge=0)  # noqa: N815
    totalDurationMs: SafeInt | None = Field(default=None, ge=0)  # noqa: N815
    resolvedModel: str | None = Field(default=None, max_length=200)  # noqa: N815
    # Not sent by 2.1.197; kept if a later version reports what the run cost.
    total_cost_usd: FiniteFloat | None = Field(default=None, ge=0)


_agent_result = TypeAdapter(AgentResult)


class PostToolUse(HookInput):
    hook_event_name: Literal["PostToolUse", "PostToolUseFailure"]
    tool_name: str = Field(min_length=1, max_length=200, pattern=ID_PATTERN)
    tool_use_id: HookId
    tool_input: dict[str, Any] | None = None
    tool_response: Any = None
    duration_ms: SafeInt | None = Field(default=None, ge=0)

    def delegation_target(self) -> str | None:
        return _delegation_target(self.tool_name, self.tool_input)

    def agent_result(self) -> AgentResult | None:
        """The sub-agent's run report when this is a completed Agent call; a malformed one is a 422."""
        r = self.tool_response
        if self.tool_name not in DELEGATION_TOOLS or not isinstance(r, dict) or "usage" not in r:
            return None  # another tool, or an async launch (no usage yet)
        try:
            return _agent_result.validate_python(r)
        except ValidationError as exc:
            raise _relocate(exc, ("tool_response",)) from None


class Stop(HookInput):
    hook_event_name: Literal["Stop"]


class SessionEnd(HookInput):
    hook_event_name: Literal["SessionEnd"]
    reason: str | None = Field(default=None, max_length=100)


# The events PAS acts on; each has its own model below.
KNOWN_EVENT_NAMES = (
    "SessionStart", "SubagentStart", "SubagentStop", "PreToolUse", "PostToolUse", "PostToolUseFailure", "Stop",
    "SessionEnd",
)  # fmt: skip


class OtherHook(HookInput):
    """Any other event (Notification, UserPromptSubmit, PreCompact …): accepted and ignored. A known event's name
    never lands here (the discriminator sends it to its own model, which may refuse it); the schema says so, or
    a known event with missing fields would match this branch too."""

    hook_event_name: str = Field(
        min_length=1, max_length=100, json_schema_extra={"not": {"enum": list(KNOWN_EVENT_NAMES)}}
    )


KNOWN_EVENTS = {
    "SessionStart": SessionStart,
    "SubagentStart": SubagentStart,
    "SubagentStop": SubagentStop,
    "PreToolUse": PreToolUse,
    "PostToolUse": PostToolUse,
    "PostToolUseFailure": PostToolUse,
    "Stop": Stop,
    "SessionEnd": SessionEnd,
}
assert set(KNOWN_EVENTS) == set(KNOWN_EVENT_NAMES)
_TAGS = frozenset({*KNOWN_EVENTS, "other"})


def _event_tag(value: Any) -> str:
    name = value.get("hook_event_name") if isinstance(value, dict) else getattr(value, "hook_event_name", None)
    if name in ("PostToolUse", "PostToolUseFailure"):
        return "PostToolUse"
    return name if isinstance(name, str) and name in KNOWN_EVENTS else "other"


HookEvent = Annotated[
    Annotated[SessionStart, Tag("SessionStart")]
    | Annotated[SubagentStart, Tag("SubagentStart")]
    | Annotated[SubagentStop, Tag("SubagentStop")]
    | Annotated[PreToolUse, Tag("PreToolUse")]
    | Annotated[PostToolUse, Tag("PostToolUse")]
    | Annotated[Stop, Tag("Stop")]
    | Annotated[SessionEnd, Tag("SessionEnd")]
    | Annotated[OtherHook, Tag("other")],
    Discriminator(_event_tag),
]


class ClaudeCodeHook(RootModel[HookEvent]):
    """A Claude Code hook input, discriminated on hook_event_name (unknown names → OtherHook)."""


_hook = TypeAdapter(HookEvent)


def _relocate(exc: ValidationError, prefix: tuple[str | int, ...] = ()) -> ValidationError:
    """The same errors with the union's tag dropped from each location (`tool_name`, not `PreToolUse.tool_name`)
    and `prefix` put in front."""
    items: list[Any] = []
    for e in exc.errors(include_url=False):
        loc = tuple(e["loc"])
        if loc and loc[0] in _TAGS and not prefix:
            loc = loc[1:]
        item = {"type": e["type"], "loc": prefix + loc, "input": e.get("input")}
        if "ctx" in e:
            item["ctx"] = e["ctx"]
        items.append(item)
    return ValidationError.from_exception_data(exc.title, items)


AnyHook = SessionStart | SubagentStart | SubagentStop | PreToolUse | PostToolUse | Stop | SessionEnd | OtherHook


def parse_hook(body: bytes) -> AnyHook:
    try:
        return _hook.validate_json(body)
    except ValidationError as exc:
        raise _relocate(exc) from None


class HookSpecificOutput(Body):
    hookEventName: str  # noqa: N815
    additionalContext: str | None = None  # noqa: N815


class HookAnswer(Body):
    """Claude Code's documented hook JSON output. `{}` = carry on; on a context breach PAS tells the user
    (systemMessage) and, after an Agent call, the model (hookSpecificOutput.additionalContext)."""

    systemMessage: str | None = None  # noqa: N815
    hookSpecificOutput: HookSpecificOutput | None = None  # noqa: N815

"""The HMI's read of the hooks' timeline (models/agent_hook_store.py): Claude Code sessions, the delegations
they made to the catalogue agents and every tool call, rebuilt from the hooks' own events. A body that does not
read as one of them is skipped: a stored value never turns the read into a 500."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.domain.timefmt import iso
from contracts.hmi import AgentSession, AgentTotals, SessionDelegation, ToolCallBlock
from models.stored import stored_float, stored_int, stored_json

SESSION_EVENTS = ("session_update", "tool_call", "agent_delegation", "agent_run_started", "agent_run_finished",
                  "agent_usage")  # fmt: skip


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class _Session:
    session_id: str
    first_ms: int
    last_ms: int
    status: str = "unknown"
    tool_calls: int = 0
    delegations: dict[str, SessionDelegation] = field(default_factory=dict)

    def model(self) -> AgentSession:
        return AgentSession(
            session_id=self.session_id, status=self.status, first_ts=iso(self.first_ms), last_ts=iso(self.last_ms),
            tool_calls=self.tool_calls, delegations=sorted(self.delegations.values(), key=lambda d: d.to_service_id),
        )  # fmt: skip


def read_timeline(bodies: list[str]) -> tuple[list[AgentSession], list[ToolCallBlock]]:
    """(sessions by first sight, tool calls oldest first) from timeline bodies, oldest first."""
    sessions: dict[str, _Session] = {}
    calls: list[ToolCallBlock] = []
    for body in bodies:
        raw = stored_json(body)
        if not isinstance(raw, dict) or raw.get("event_type") not in SESSION_EVENTS:
            continue
        data = raw.get("data")
        sid = _text(data.get("session_id")) if isinstance(data, dict) else None
        if sid is None or not isinstance(data, dict):
            continue
        ts = stored_int(raw.get("ts_ms"))
        s = sessions.get(sid)
        if s is None:
            s = sessions[sid] = _Session(sid, ts, ts)
        s.last_ms = max(s.last_ms, ts)
        kind = raw["event_type"]
        if kind == "session_update" and _text(data.get("status")):
            s.status = str(data["status"])
        elif kind == "agent_delegation":
            _delegation(s, data, ts)
        elif kind == "tool_call":
            call = _tool_call(stored_int(raw.get("seq")), sid, data, ts)
            if call is not None:
                s.tool_calls += 1
                calls.append(call)
    ordered = sorted(sessions.values(), key=lambda x: (x.first_ms, x.session_id))
    return [s.model() for s in ordered], calls


def _delegation(s: _Session, data: dict[str, Any], ts: int) -> None:
    target, to_sid = _text(data.get("to_agent_type")), _text(data.get("to_service_id"))
    if target is None or to_sid is None:
        return
    old = s.delegations.get(to_sid)
    s.delegations[to_sid] = SessionDelegation(
        to_agent_type=target, to_service_id=to_sid, to_registered=data.get("to_registered") is True,
        count=(old.count if old else 0) + 1, last_ts=iso(ts),
    )  # fmt: skip


def _tool_call(seq: int, sid: str, data: dict[str, Any], end_ms: int) -> ToolCallBlock | None:
    tool_use_id, tool_name = _text(data.get("tool_use_id")), _text(data.get("tool_name"))
    if tool_use_id is None or tool_name is None:
        return None
    duration = data.get("duration_ms")
    duration_ms = stored_int(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None
    return ToolCallBlock(
        seq=seq, tool_use_id=tool_use_id, tool_name=tool_name, session_id=sid, agent_id=_text(data.get("agent_id")),
        agent_type=_text(data.get("agent_type")), service_id=_text(data.get("service_id")),
        status="error" if data.get("status") == "error" else "ok",
        start=iso(max(0, end_ms - (duration_ms or 0))), end=iso(end_ms), duration_ms=duration_ms,
    )  # fmt: skip


def read_totals(raw: dict[str, str]) -> AgentTotals:
    cost = raw.get("cost_usd")
    return AgentTotals(
        tokens=stored_int(raw.get("tokens")), runs=stored_int(raw.get("runs")),
        cost_usd=round(stored_float(cost, lo=0.0), 6) if cost is not None else None,
    )  # fmt: skip

"""The hooks' timeline read back for the HMI (app/domain/agent_hooks/activity.py): sessions, delegations and tool
calls from event bodies; a body that does not read as one is skipped, never a 500."""

from __future__ import annotations

import json
from typing import Any

from app.domain.agent_hooks.activity import read_timeline, read_totals


def body(seq: int, event_type: str, ts_ms: int, **data: Any) -> str:
    return json.dumps({"seq": seq, "event_type": event_type, "source": "agent_router", "ts_ms": ts_ms, "data": data})


def test_sessions_delegations_and_calls_in_order() -> None:
    bodies = [
        body(1, "session_update", 1000, session_id="s1", status="open", previous=None),
        body(2, "agent_delegation", 1100, session_id="s1", to_agent_type="gb", to_service_id="agent-gb",
             to_registered=True, tool_use_id="t0", tool_name="Agent"),
        body(3, "tool_call", 1500, session_id="s1", tool_use_id="t1", tool_name="<b>x</b>", agent_id="r1",
             agent_type="gb", service_id="agent-gb", status="error", duration_ms=200),
        body(4, "agent_delegation", 1600, session_id="s1", to_agent_type="gb", to_service_id="agent-gb",
             to_registered=True),
        body(5, "tool_call", 1700, session_id="s0", tool_use_id="t2", tool_name="Bash", agent_id=None,
             agent_type=None, service_id=None, status="ok", duration_ms=None),
        body(6, "session_update", 1800, session_id="s1", status="idle", previous="open"),
    ]  # fmt: skip
    sessions, calls = read_timeline(bodies)
    assert [s.session_id for s in sessions] == ["s1", "s0"]
    s1 = sessions[0]
    assert s1.status == "idle" and s1.tool_calls == 1 and s1.delegations[0].count == 2
    assert sessions[1].status == "unknown"  # its session_update is older than what was read
    assert [(c.tool_name, c.status, c.duration_ms) for c in calls] == [("<b>x</b>", "error", 200), ("Bash", "ok", None)]
    assert calls[0].start == "1970-01-01T00:00:01.300Z" and calls[0].end == "1970-01-01T00:00:01.500Z"
    assert calls[1].start == calls[1].end


def test_odd_bodies_are_skipped() -> None:
    odd = ["", "not json", "[1]", json.dumps({"event_type": "tool_call"}),
           body(1, "tool_call", 5, session_id="s", tool_name="Read"),  # no tool_use_id
           body(2, "tool_call", 5, session_id=7, tool_use_id="t", tool_name="Read"),
           body(3, "tool_call", 5, session_id="s", tool_use_id="t", tool_name="Read", duration_ms="soon"),
           body(4, "agent_delegation", 5, session_id="s", to_agent_type=None),
           body(5, "status_update", 5, session_id="s", to="running")]  # fmt: skip
    sessions, calls = read_timeline(odd)
    assert [(c.tool_use_id, c.duration_ms) for c in calls] == [("t", None)]
    assert [(s.session_id, s.delegations, s.tool_calls) for s in sessions] == [("s", [], 1)]


def test_totals_tolerate_stored_values() -> None:
    assert read_totals({}).model_dump() == {"tokens": 0, "runs": 0, "cost_usd": None}
    assert read_totals({"tokens": "1e+400", "runs": "x", "cost_usd": "nan"}).model_dump() == {
        "tokens": 2**53 - 1, "runs": 0, "cost_usd": 0.0}  # fmt: skip
    assert read_totals({"tokens": "12", "runs": "2", "cost_usd": "0.0130000000001"}).cost_usd == 0.013

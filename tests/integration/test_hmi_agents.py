"""The HMI's view of Claude Code's hooks (issue 11, "In the HMI"): /api/agent-activity (sessions, the delegations
they made, every tool call) and the tree's tokens and cost per catalogue agent, all fed through the real hook
endpoint in the payload shapes Claude Code 2.1.197 posts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from contracts.events import topic_of
from tests.integration.hook_payloads import HOOK_PATH, payload

HMI = "http://localhost:6101"
MAIN = "http://localhost:6100"
REG = "http://localhost:6121"


@pytest.fixture
def c(app: Flask) -> FlaskClient:
    return app.test_client()


def send(c: FlaskClient, body: dict[str, Any]) -> None:
    r = c.post(f"{MAIN}{HOOK_PATH}", json=body)
    assert r.status_code == 200, r.json


def register(c: FlaskClient, name: str, parent: str | None, **more: Any) -> None:
    labels: dict[str, Any] = {"agent_role": "exec", "tier": 2 if parent else 1, "parent": parent, "children": [],
              "token_target": 0.3, "token_hard_max": 0.5, "display_name": name.title()}  # fmt: skip
    body = {"service_id": f"agent-{name}", "name": name, "type": "agent", "role": "production",
            "url": "internal://a", "caps": ["c"], "labels": labels, "heartbeat_interval_s": 3600, **more}  # fmt: skip
    r = c.post(f"{REG}/register", json=body)
    assert r.status_code in (200, 201), r.json


def run_once(c: FlaskClient, session: str, target: str, run: str, n: int, cost: float | None = None) -> None:
    """The main agent delegates to `target`, which makes one Read; then the Agent call reports its usage."""
    agent_call = f"toolu_{run}_agent"
    send(c, payload("PreToolUse.Agent", session, tool_use_id=agent_call, target=target, target_run=run))
    send(c, payload("SubagentStart", session, run=(run, target)))
    inner = f"toolu_{run}_{n}"
    send(c, payload("PreToolUse.subagent.Read", session, run=(run, target), tool_use_id=inner))
    send(c, payload("PostToolUse.subagent.Bash", session, run=(run, target), tool_name="Read", tool_use_id=inner,
                    duration_ms=40))  # fmt: skip
    send(c, payload("SubagentStop", session, run=(run, target)))
    extra = {"cost_usd": cost} if cost is not None else {}
    send(c, payload("PostToolUse.Agent", session, tool_use_id=agent_call, target=target, target_run=run, **extra))


def node(tree: Any, service_id: str) -> dict[str, Any]:
    stack = list(tree["children"])
    while stack:
        n: dict[str, Any] = stack.pop()
        if n["service_id"] == service_id:
            return n
        stack.extend(n["children"])
    raise AssertionError(f"{service_id} not in the tree")


def test_agent_activity_lists_sessions_delegations_and_tool_calls(c: FlaskClient) -> None:
    register(c, "architect", None)
    register(c, "graph-builder", "architect", ctx_limit=1000)
    assert c.get(f"{HMI}/api/agent-activity").json["sessions"] == []
    s1, s2 = "sess-hmi-1", "sess-hmi-2"
    send(c, payload("SessionStart", s1))
    run_once(c, s1, "graph-builder", "run-a", 1)
    send(c, payload("PreToolUse.subagent.Read", s2, run=None, tool_name="Bash", tool_use_id="toolu_main"))
    send(c, payload("PostToolUseFailure.subagent.Read", s2, run=None, tool_name="Bash", tool_use_id="toolu_main"))
    run_once(c, s2, "general-purpose", "run-b", 2)  # Claude Code's own agent: followed, never registered

    body = c.get(f"{HMI}/api/agent-activity").json
    assert body["last_seq"] > 0 and body["timestamp"]
    sessions = {s["session_id"]: s for s in body["sessions"]}
    assert list(sessions) == [s1, s2]  # first seen first
    assert sessions[s1]["status"] == "open" and sessions[s1]["tool_calls"] == 2
    (d1,) = sessions[s1]["delegations"]
    assert d1 == {"to_agent_type": "graph-builder", "to_service_id": "agent-graph-builder", "to_registered": True,
                  "count": 1, "last_ts": d1["last_ts"]}  # fmt: skip
    (d2,) = sessions[s2]["delegations"]
    assert d2["to_service_id"] == "agent-general-purpose" and d2["to_registered"] is False
    calls = body["tool_calls"]
    assert [(x["session_id"], x["tool_name"], x["agent_type"]) for x in calls] == [
        (s1, "Read", "graph-builder"), (s1, "Agent", None), (s2, "Bash", None), (s2, "Read", "general-purpose"),
        (s2, "Agent", None),
    ]  # fmt: skip
    read = calls[0]
    assert read["duration_ms"] == 40 and read["status"] == "ok" and read["service_id"] == "agent-graph-builder"
    assert read["agent_id"] == "run-a" and read["start"] < read["end"]
    assert calls[2]["status"] == "error"  # PostToolUseFailure
    seqs = [x["seq"] for x in calls]
    assert seqs == sorted(seqs)
    # nothing a hook carries as content is in the read: only names, ids and times
    assert "notes.txt" not in json.dumps(body) and "touch" not in json.dumps(body)
    # the tree leaves the calls out; the limit reads the newest events only
    assert c.get(f"{HMI}/api/agent-activity?tools=false").json["tool_calls"] == []
    newest = c.get(f"{HMI}/api/agent-activity?limit=2").json
    assert [x["tool_name"] for x in newest["tool_calls"]] == ["Agent"]


def test_tree_nodes_carry_tokens_cost_runs_and_context(c: FlaskClient) -> None:
    register(c, "architect", None)
    register(c, "graph-builder", "architect", ctx_limit=1000)
    tree = c.get(f"{HMI}/api/tree").json
    gb = node(tree, "agent-graph-builder")
    assert gb["tokens"] is None and gb["runs"] is None and gb["cost_usd"] is None
    assert gb["display_name"] == "Graph-Builder" and gb["status"] == "ok"
    run_once(c, "sess-t", "graph-builder", "run-1", 1)
    gb = node(c.get(f"{HMI}/api/tree").json, "agent-graph-builder")
    # the fixture's report: totalTokens 460; context = 300 in + 60 + 70 cache of the last turn, of ctx_limit 1000
    assert (gb["tokens"], gb["runs"], gb["cost_usd"], gb["ctx_ratio"]) == (460, 1, None, 0.43)
    assert gb["status"] == "done"
    # a duplicate report is not counted twice; a second run with a reported cost adds up
    send(c, payload("PostToolUse.Agent", "sess-t", tool_use_id="toolu_run-1_agent", target="graph-builder",
                    target_run="run-1"))  # fmt: skip
    run_once(c, "sess-t", "graph-builder", "run-2", 2, cost=0.0125)
    run_once(c, "sess-u", "graph-builder", "run-3", 3, cost=0.0005)
    gb = node(c.get(f"{HMI}/api/tree").json, "agent-graph-builder")
    assert (gb["tokens"], gb["runs"], gb["cost_usd"]) == (1380, 3, 0.013)
    architect = node(c.get(f"{HMI}/api/tree").json, "agent-architect")
    assert architect["tokens"] is None and [k["name"] for k in architect["children"]] == ["graph-builder"]


def test_agent_activity_bad_query_names_the_field(c: FlaskClient) -> None:
    for query, field in (("limit=0", "limit"), ("limit=abc", "limit"), ("limit=20001", "limit"),
                         ("tools=maybe", "tools")):  # fmt: skip
        r = c.get(f"{HMI}/api/agent-activity?{query}")
        assert r.status_code == 422, (query, r.json)
        assert field in json.dumps(r.json["errors"]), (query, r.json)


def test_every_event_the_hooks_emit_has_a_topic_and_the_envelope_names_it(app: Flask, c: FlaskClient) -> None:
    lua = (Path(__file__).resolve().parents[2] / "models" / "lua" / "ah_hook.lua").read_text()
    emitted = set(re.findall(r"(?:hook_event|publish)\('([a-z_]+)'", lua))
    assert {"tool_call", "agent_delegation", "agent_usage", "session_update", "status_update"} <= emitted
    assert {t: topic_of(t) for t in emitted} == {
        "agent_run_started": "agents", "agent_run_finished": "agents", "agent_delegation": "agents",
        "agent_usage": "agents", "session_update": "agents", "status_update": "agents", "tool_call": "tools",
    }  # fmt: skip
    register(c, "graph-builder", None)
    run_once(c, "sess-topic", "graph-builder", "run-t", 1)
    events = c.get(f"{MAIN}/api/event-stream/events?after=0&limit=100").json["events"]
    by_type = {e["event_type"]: e["topic"] for e in events}
    assert by_type["tool_call"] == "tools" and by_type["agent_delegation"] == "agents"
    assert by_type["service_registered"] == "agents"

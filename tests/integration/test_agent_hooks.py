"""Claude Code's hooks → PAS, replayed in the shapes Claude Code 2.1.197 posts (issue 11): runs drive the catalogue
agent's registry status, tool calls become timeline events, an Agent call's usage feeds the token governor, odd
sequences are safe, and nothing a hook carries as content (inputs, outputs, prompts) is ever kept. What a hook may
carry that PAS must not trust (unknown, malformed, paths, no token) is in test_agent_hooks_untrusted.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.factory import create_app, create_tables
from config.settings import Settings
from tests.integration.hook_inputs import (  # noqa: F401 (fixture_c: the fixture c)
    CANARY,
    REG,
    Stream,
    agent_call,
    fixture_c,
    hook,
    post,
    pre,
    register_agent,
    send,
    sid,
    start,
    status,
    stop,
    stored_text,
)


def test_a_subagent_run_lights_its_agent_and_each_tool_call_is_one_timeline_event(app: Flask, c: FlaskClient) -> None:
    register_agent(c, "chunker-mgs", parent="director-data")
    stream, s = Stream(app), sid()
    assert send(c, hook(s, "SessionStart", source="startup")) == {}
    assert send(c, pre(s, "Agent", "toolu_A", tool_input={"description": "x", "prompt": CANARY,
                                                         "subagent_type": "chunker-mgs"})) == {}  # fmt: skip
    send(c, start(s, "a1", "chunker-mgs"))
    record = c.get(f"{REG}/services/agent-chunker-mgs").json
    assert record["status"] == "running" and s in record["message"] and "a1" in record["message"]
    send(c, pre(s, "Read", "toolu_R", inside=("a1", "chunker-mgs")))
    send(c, post(s, "Read", "toolu_R", inside=("a1", "chunker-mgs")))
    send(c, stop(s, "a1", "chunker-mgs"))
    assert status(c, "chunker-mgs") == "done"
    send(c, agent_call(s, "toolu_A", "chunker-mgs", "a1"))

    calls = stream.all("tool_call")
    assert [e["data"]["tool_name"] for e in calls] == ["Read", "Agent"]
    read, agent = (e["data"] for e in calls)
    assert read["tool_use_id"] == "toolu_R" and read["agent_id"] == "a1" and read["session_id"] == s
    assert read["service_id"] == "agent-chunker-mgs" and isinstance(read["duration_ms"], int)
    assert read["matched_pre"] is True and read["status"] == "ok"
    assert agent["duration_ms"] == 5400 and agent["agent_id"] is None and agent["to_agent_type"] == "chunker-mgs"
    (delegation,) = stream.all("agent_delegation")
    assert delegation["data"]["session_id"] == s and delegation["data"]["agent_id"] is None  # from the session
    assert delegation["data"]["to_service_id"] == "agent-chunker-mgs" and delegation["data"]["to_registered"]
    (started,) = stream.all("agent_run_started")
    assert started["data"]["parent"] == "director-data" and started["data"]["registered"] is True
    (finished,) = stream.all("agent_run_finished")
    assert finished["data"]["reason"] == "subagent_stop" and finished["data"]["started"] is True
    changes = [(e["data"]["from"], e["data"]["to"]) for e in stream.all("status_update")]
    assert changes == [("ok", "running"), ("running", "done")]
    (usage,) = stream.all("agent_usage")
    assert usage["data"]["ctx_used"] == 1200 + 3000 + 500 and usage["data"]["output_tokens"] == 80
    assert CANARY not in stored_text(app)  # no input, output, prompt or last message was kept


def test_an_agent_calls_usage_feeds_the_token_governor(app: Flask, c: FlaskClient) -> None:
    register_agent(c, "embed-indexer", ctx_limit=100_000)
    s = sid()
    send(c, start(s, "e1", "embed-indexer"))
    send(c, stop(s, "e1", "embed-indexer"))
    assert send(c, agent_call(s, "toolu_E", "embed-indexer", "e1", input_tokens=2000, cache_read=8000,
                              cache_creation=1000)) == {}  # fmt: skip
    (ctx,) = c.get("http://localhost:6105/status", query_string={"agent": "embed-indexer", "run_id": "e1"}).json[
        "agents"
    ]
    assert ctx["ctx_used"] == 11_000 and ctx["ctx_limit"] == 100_000 and ctx["status"] == "ok"
    assert ctx["target_ratio"] == 0.3 and ctx["hard_max_ratio"] == 0.5  # the agent's own labels
    # An agent PAS has no record of: its model's window.
    send(c, agent_call(s, "toolu_U", "not-in-catalogue", "u1"))
    (ctx,) = c.get("http://localhost:6105/status", query_string={"agent": "not-in-catalogue"}).json["agents"]
    assert ctx["ctx_limit"] == 200_000 and ctx["ctx_used"] == 4700


def test_a_breach_answers_claude_code_with_its_hook_output(app: Flask, c: FlaskClient) -> None:
    register_agent(c, "qtower-trainer", hard=0.5)
    s = sid()
    send(c, start(s, "q1", "qtower-trainer"))
    answer = send(c, agent_call(s, "toolu_Q", "qtower-trainer", "q1", input_tokens=90_000, cache_read=20_000))
    assert set(answer) == {"systemMessage", "hookSpecificOutput"}  # no nulls: Claude Code's schema refuses them
    assert "qtower-trainer" in answer["systemMessage"] and "docs/runs/" in answer["systemMessage"]
    out = answer["hookSpecificOutput"]
    assert out["hookEventName"] == "PostToolUse" and "docs/runs/" in out["additionalContext"]
    assert "/api/token-governor/resume?agent=qtower-trainer&run_id=q1" in out["additionalContext"]
    # The duplicate of that hook (Claude Code retried) is not tracked twice.
    assert send(c, agent_call(s, "toolu_Q", "qtower-trainer", "q1", input_tokens=90_000, cache_read=20_000)) == {}


def test_a_breach_runs_the_save_state_flow(live: Any) -> None:
    import requests

    url = live.url("agent-router", "/hooks/claude-code")
    reg = live.url("registry", "/register")
    body = {"service_id": "agent-reranker-trainer", "name": "reranker-trainer", "type": "agent",
            "role": "production", "url": "internal://agents/reranker-trainer", "caps": ["training"],
            "heartbeat_interval_s": 3600,
            "labels": {"agent_role": "exec", "tier": 3, "parent": "director-models", "children": [],
                       "token_target": 0.4, "token_hard_max": 0.7}}  # fmt: skip
    assert requests.post(reg, json=body, timeout=5).status_code in (200, 201)
    s, run = sid(), f"r-{uuid.uuid4().hex[:6]}"
    requests.post(url, json=start(s, run, "reranker-trainer"), timeout=5)
    r = requests.post(url, json=agent_call(s, "toolu_RT", "reranker-trainer", run, input_tokens=150_000), timeout=5)
    assert r.status_code == 200 and "hookSpecificOutput" in r.json()
    tg = live.url("token-governor", "/summaries")
    from tests.support import wait_until

    def summaries() -> list[dict[str, Any]]:
        return requests.get(tg, params={"agent": "reranker-trainer", "run_id": run}, timeout=5).json()["summaries"]

    wait_until(lambda: len(summaries()) == 1, 20, 0.1, "the breach's summary")
    path = Path(summaries()[0]["summary_path"])
    assert path.is_file() and path.parent == live.settings.docs_dir and run in path.name
    st = requests.get(live.url("token-governor", "/status"), params={"agent": "reranker-trainer", "run_id": run},
                      timeout=5).json()["agents"]  # fmt: skip
    assert st[0]["ctx_used"] == 0  # cleared: resume from the summary


def test_odd_sequences_are_safe(app: Flask, c: FlaskClient) -> None:
    register_agent(c, "graph-builder")
    stream, s1, s2 = Stream(app), sid(), sid()
    # A stop without a start.
    send(c, stop(s1, "g0", "graph-builder"))
    assert status(c, "graph-builder") == "done"
    (f,) = stream.all("agent_run_finished")
    assert f["data"]["started"] is False and f["data"]["duration_ms"] is None
    # A start after its own stop (out of order) changes nothing.
    send(c, start(s1, "g0", "graph-builder"))
    assert status(c, "graph-builder") == "done" and not stream.all("agent_run_started")
    # Two sessions run the same agent at once: it is done only when both are.
    send(c, start(s1, "g1", "graph-builder"))
    send(c, start(s1, "g1", "graph-builder"))  # a duplicate
    send(c, start(s2, "g2", "graph-builder"))
    assert len(stream.all("agent_run_started")) == 2
    send(c, stop(s1, "g1", "graph-builder"))
    assert status(c, "graph-builder") == "running"
    send(c, stop(s1, "g1", "graph-builder"))  # a duplicate
    send(c, stop(s2, "g2", "graph-builder"))
    assert status(c, "graph-builder") == "done"
    assert len(stream.all("agent_run_finished")) == 3
    assert len(stream.all("agent_run_started")) == 2
    # 2.1.197 sends agent_type "" on a SubagentStop when it lost the name: the run's own is used.
    send(c, start(s1, "g4", "graph-builder"))
    send(c, stop(s1, "g4", ""))
    assert status(c, "graph-builder") == "done"
    assert stream.all("agent_run_finished")[-1]["data"]["agent_type"] == "graph-builder"
    # A PostToolUse without its Pre: its own duration_ms, or none; a duplicate Post is one event.
    send(c, post(s1, "Bash", "toolu_lonely", duration_ms=42))
    send(c, post(s1, "Bash", "toolu_lonely", duration_ms=42))
    send(c, post(s1, "Grep", "toolu_nodur"))
    lonely, nodur = (e["data"] for e in stream.all("tool_call"))
    assert lonely["duration_ms"] == 42 and lonely["matched_pre"] is False and nodur["duration_ms"] is None
    # A tool call inside a run PAS never saw start (PAS was down at SubagentStart): the run starts there.
    send(c, pre(s2, "Read", "toolu_g3", inside=("g3", "graph-builder")))
    assert status(c, "graph-builder") == "running"
    assert stream.all("agent_run_started")[-1]["data"]["implicit"] is True
    # A failed tool call.
    send(c, {**post(s2, "Read", "toolu_g3", inside=("g3", "graph-builder")), "hook_event_name": "PostToolUseFailure",
             "error": "boom"})  # fmt: skip
    assert stream.all("tool_call")[-1]["data"]["status"] == "error"


def test_a_tool_use_id_is_its_sessions_own(app: Flask, c: FlaskClient) -> None:
    """tool_use_id is unique only where the model backend makes it so (Claude Code behind a proxy or a local model
    server may number them from 1 in every session): the same id in two sessions is two calls, each tracked."""
    register_agent(c, "hard-negative-miner")
    stream, s1, s2 = Stream(app), sid(), sid()
    for s, run in ((s1, "h1"), (s2, "h2")):
        send(c, pre(s, "Agent", "toolu_1", tool_input={"description": "x", "prompt": "p",
                                                        "subagent_type": "hard-negative-miner"}))  # fmt: skip
        send(c, start(s, run, "hard-negative-miner"))
        send(c, pre(s, "Read", "toolu_2", inside=(run, "hard-negative-miner")))
        send(c, post(s, "Read", "toolu_2", inside=(run, "hard-negative-miner")))
        send(c, stop(s, run, "hard-negative-miner"))
        send(c, agent_call(s, "toolu_1", "hard-negative-miner", run, input_tokens=100 if s == s1 else 200))
    calls = [(e["data"]["session_id"], e["data"]["tool_name"]) for e in stream.all("tool_call")]
    assert calls == [(s1, "Read"), (s1, "Agent"), (s2, "Read"), (s2, "Agent")]
    assert [e["data"]["session_id"] for e in stream.all("agent_delegation")] == [s1, s2]
    assert [e["data"]["input_tokens"] for e in stream.all("agent_usage")] == [100, 200]
    ctx = c.get("http://localhost:6105/status", query_string={"agent": "hard-negative-miner", "run_id": "h2"}).json
    assert ctx["agents"][0]["ctx_used"] == 200 + 3000 + 500


def test_an_agent_type_with_no_catalogue_record_is_followed_but_never_registered(app: Flask, c: FlaskClient) -> None:
    stream, s = Stream(app), sid()
    send(c, start(s, "x1", "general-purpose"))
    assert c.get(f"{REG}/services/agent-general-purpose").status_code == 404
    (e,) = stream.all("agent_run_started")
    assert e["data"]["registered"] is False and e["data"]["service_id"] is None and e["data"]["session_id"] == s
    assert c.get("http://localhost:6119/health").json["running_agents"] >= 1
    send(c, stop(s, "x1", "general-purpose"))
    assert c.get(f"{REG}/discover", query_string={"type": "agent"}).json["items"] == []


def test_pas_restarted_mid_session_carries_on_from_redis(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    first = create_app(settings, serve_socketio=False)
    create_tables(first)
    c1 = first.test_client()
    register_agent(c1, "cleaner-normalizer")
    s = sid()
    send(c1, start(s, "n1", "cleaner-normalizer"))
    send(c1, pre(s, "Bash", "toolu_n", inside=("n1", "cleaner-normalizer")))
    first.extensions["redis"].close()
    second = create_app(settings, serve_socketio=False)  # a new process: nothing in memory
    c2 = second.test_client()
    stream = Stream(second)
    send(c2, post(s, "Bash", "toolu_n", inside=("n1", "cleaner-normalizer")))
    assert stream.all("tool_call")[0]["data"]["matched_pre"] is True
    send(c2, stop(s, "n1", "cleaner-normalizer"))
    assert status(c2, "cleaner-normalizer") == "done"
    second.extensions["redis"].close()


def test_stop_and_session_end_finish_leftover_runs_after_the_grace(make_settings: Callable[..., Settings]) -> None:
    import time

    app = create_app(make_settings(pas_hook_grace_s=0.3), serve_socketio=False)
    c = app.test_client()
    register_agent(c, "corpus-auditor")
    stream, s = Stream(app), sid()
    send(c, start(s, "c1", "corpus-auditor"))
    send(c, hook(s, "Stop", stop_hook_active=False, last_assistant_message=CANARY))
    hooks = app.extensions["pas"].agent_hooks
    hooks.sweep()
    assert status(c, "corpus-auditor") == "running"  # within the grace
    time.sleep(0.4)
    send(c, hook(s, "SessionEnd", reason="other"))  # keeps the Stop's deadline
    hooks.sweep()
    hooks.sweep()  # twice: harmless
    assert status(c, "corpus-auditor") == "done"
    (f,) = stream.all("agent_run_finished")
    assert f["data"]["reason"] == "session_closed"
    assert [e["data"]["status"] for e in stream.all("session_update")] == ["open", "idle", "ended", "closed"]
    assert c.get("http://localhost:6119/health").json["open_sessions"] == 0
    # A session that comes back (the user's next prompt) is open again.
    send(c, pre(s, "Read", "toolu_back"))
    assert stream.all("session_update")[-1]["data"]["status"] == "open"
    app.extensions["redis"].close()


def test_health_on_both_ports_beside_the_router_routes(c: FlaskClient) -> None:
    legacy, main = c.get("http://localhost:6119/health"), c.get("/api/agent-router/health")
    for r in (legacy, main):
        assert r.status_code == 200
        body = r.json
        assert body["status"] == "ok" and body["service"] == "agent_router" and body["port"] == 6119
        assert body["timestamp"].endswith("Z") and isinstance(body["cached_agents"], int)
    assert '"status":"ok"' in legacy.text
    assert c.post("/api/agent-router/hooks/claude-code", json=hook(sid(), "Stop")).status_code == 200
    assert c.post("http://localhost:6119/discover", json={}).status_code == 200  # built (test_agent_router.py)
    assert c.get("http://localhost:6119/stats").status_code == 200
    assert c.get("http://localhost:6119/nothing-here").status_code == 404
    assert c.get("http://localhost:6119/").json["status"] == "ok"

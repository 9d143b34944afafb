"""Issue 11 end to end: the real Claude Code CLI (2.1.197), in a scratch project whose `.claude/` is rendered by
`pas agents install`, delegates to `architect` and `corpus-auditor` (the scripted Anthropic stand-in plays the
models), and Claude Code's own hooks make both appear in a real `pas up` (embedded Valkey, web, worker, beat;
catalogue registered with `pas agents register` through its API): registry status running → done under their
catalogue parents, the token governor's context, the tool-call timeline, the delegations, the session closed by
beat's sweep after SessionEnd. A canary in the prompt and in the file the sub-agents read is in no PAS answer, no
Redis key or value and no log line. Without a token and two delegations at once; with PAS_API_TOKEN; a breach
whose hook answer reaches the main agent's model; the wrong token (every hook refused, Claude Code finishes); PAS
stopped (Claude Code finishes promptly)."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from tests.anthropic_standin import Script, Standin, ToolCall, Turn, Usage
from tests.claude_code import ClaudeCode, Run
from tests.support import BIN, Proc, base_env, port_offset_with_free_ports, unique_prefix, wait_http, wait_until

pytestmark = pytest.mark.system
TOKEN = "tok-e2e-7f3a9c"  # PAS_API_TOKEN of this PAS
WRONG = "tok-wrong-51be"
CANARY = "canary-e2e-93d1f0"  # in the prompt, the Agent prompts and the file read: stored and logged nowhere
ARCHITECT_MARKER = "You are the Architect (`architect`)"  # from the rendered agent files' bodies
AUDITOR_MARKER = "You are the Corpus Auditor (`corpus-auditor`)"
ARCHITECT_LAST = Usage(input_tokens=1200, output_tokens=90, cache_creation_input_tokens=300,
                       cache_read_input_tokens=4000)  # fmt: skip
AUDITOR_LAST = Usage(input_tokens=2100, output_tokens=150, cache_creation_input_tokens=500,
                     cache_read_input_tokens=6000)  # fmt: skip
GRACE_S = 1  # PAS_HOOK_GRACE_S: SessionEnd → closed by beat's sweep this much later


@dataclass
class Pas:
    proc: Proc
    base: str  # the main port
    valkey_url: str
    project: Path  # the scratch project, `.claude/` rendered by `pas agents install`
    home: Path
    env: dict[str, str]
    stopped: bool = False

    def get(self, path: str, **params: Any) -> Any:
        r = requests.get(f"{self.base}{path}", params=params, timeout=5)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        SEEN.append(r.text)
        return r.json()

    def events(self, after: int = 0) -> list[dict[str, Any]]:
        body = self.get("/api/event-stream/events", after=after, limit=10_000)
        events: list[dict[str, Any]] = body["events"]
        return events

    def last_seq(self) -> int:
        return int(self.get("/api/event-stream/events", after=0, limit=1)["last_seq"])

    def stop(self) -> None:
        if not self.stopped:
            self.proc.stop(signal.SIGINT, 40)
            self.stopped = True


SEEN: list[str] = []  # every PAS answer the tests read: the canary must be in none


def _pas_cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([str(BIN / "pas"), *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)  # fmt: skip
    assert proc.returncode == 0, f"pas {' '.join(args)}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@contextlib.contextmanager
def _pas_up(tmp: Path, token: str | None, **extra_env: str) -> Iterator[Pas]:
    """`pas up` (embedded Valkey, so `pas agents register` goes through the API), the catalogue registered, and a
    scratch project rendered by `pas agents install`. `extra_env`: more of PAS's settings."""
    offset = port_offset_with_free_ports()
    env = base_env(
        PAS_ARTIFACTS_DIR=str(tmp / "artifacts"),
        PAS_DOCS_DIR=str(tmp / "docs-runs"),
        PAS_PORT_OFFSET=str(offset),
        PAS_KEY_PREFIX=unique_prefix("cc"),
        PAS_LOG_LEVEL="INFO",
        PAS_HOOK_GRACE_S=str(GRACE_S),
        **({"PAS_API_TOKEN": token} if token else {}),
        **extra_env,
    )
    env.pop("REDIS_URL", None)
    proc = Proc("pas-up", [str(BIN / "pas"), "up", "--no-flower", "--workers", "1"], env, tmp)
    base = f"http://127.0.0.1:{6100 + offset}"
    try:
        wait_http(f"{base}/health", 60)
        valkey = re.search(r"embedded Valkey \S+ on (redis://\S+)", proc.output())
        assert valkey, proc.output()[-3000:]
        project, home = tmp / "project", tmp / "home"
        project.mkdir()
        (project / "corpus.txt").write_text(f"doc 1: the password is {CANARY}\ndoc 2: nothing\n")
        # `pas up` registered the catalogue at start; `pas agents register` (through the API) upserts it again
        assert "agents: 42 in the catalogue, 42 registered now" in proc.output()
        said = _pas_cli(env, "agents", "register")
        assert "42 agents registered (0 new, 42 updated)" in said, said
        said = _pas_cli(env, "agents", "install", "--dir", str(project), "--url", base)
        assert f"42 agents, hooks to {base}/api/agent-router/hooks/claude-code" in said, said
        yield Pas(proc, base, valkey.group(1), project, home, env)
    finally:
        proc.stop(signal.SIGINT, 40)


@pytest.fixture(scope="module")
def pas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pas]:
    """PAS with PAS_API_TOKEN set: the hooks send it (allowedEnvVars) when Claude Code's environment has it."""
    with _pas_up(tmp_path_factory.mktemp("cc-pas"), TOKEN) as p:
        yield p


def _plan(standin: Standin, project: Path) -> None:
    """The main agent delegates to architect, then to corpus-auditor; each reads corpus.txt, then answers."""
    read = {"file_path": str(project / "corpus.txt")}
    standin.plan(
        Script("main", [
            Turn(tools=[ToolCall("Agent", {"description": "plan the audit", "subagent_type": "architect",
                                           "prompt": f"plan an audit of corpus.txt ({CANARY})"})],
                 usage=Usage(900, 40, 100, 2000)),
            Turn(tools=[ToolCall("Agent", {"description": "audit the corpus", "subagent_type": "corpus-auditor",
                                           "prompt": f"audit corpus.txt ({CANARY})"})],
                 usage=Usage(950, 40, 0, 2100)),
            Turn(text="done", usage=Usage(1000, 5, 0, 2200)),
        ]),
        Script("architect", [Turn(tools=[ToolCall("Read", read)], usage=Usage(800, 30, 200, 3000)),
                             Turn(text=f"plan: audit it ({CANARY})", usage=ARCHITECT_LAST)],
               sub_agent=True, marker=ARCHITECT_MARKER),
        Script("corpus-auditor", [Turn(tools=[ToolCall("Read", read)], usage=Usage(1500, 60, 400, 5000)),
                                  Turn(text=f"2 docs, one secret ({CANARY})", usage=AUDITOR_LAST)],
               sub_agent=True, marker=AUDITOR_MARKER),
    )  # fmt: skip


HOOK_LINE = re.compile(r'"path": "/api/agent-router/hooks/claude-code".*?"status": (\d+)')
# SessionStart (the curl command hook); per delegation PreToolUse Agent, SubagentStart, Pre/PostToolUse Read,
# SubagentStop, PostToolUse Agent; Stop; SessionEnd.
HOOKS_PER_RUN = 1 + 2 * 6 + 2


def _hook_answers(pas: Pas, log_at: int) -> list[int]:
    """The status of every hook request in PAS's request log lines from log_at on (they reach the log through
    `pas up`'s pipe, a moment after the answer)."""

    def answers() -> list[int]:
        return [int(m.group(1)) for m in HOOK_LINE.finditer(pas.proc.output()[log_at:])]

    wait_until(lambda: len(answers()) >= HOOKS_PER_RUN, 5, 0.1, "the hooks' request log lines")
    return answers()


def _run(claude_code: ClaudeCode, standin: Standin, pas: Pas, token: str) -> Run:
    _plan(standin, pas.project)
    run = claude_code.run(f"Plan and audit corpus.txt; {CANARY}", pas.project, pas.home, standin.base_url,
                          extra_args=["--allowedTools", "Read"], env={"PAS_API_TOKEN": token},
                          timeout_s=60)  # fmt: skip
    assert not run.timed_out, f"claude -p still running after 60 s; stderr: {run.stderr[-2000:]}"
    assert run.returncode == 0, f"rc {run.returncode}; stdout {run.stdout[-1000:]}; stderr {run.stderr[-2000:]}"
    assert run.result is not None and run.result.get("result") == "done", run.stdout[-2000:]
    assert run.result["permission_denials"] == []
    assert [c.turn for c in standin.messages_calls("main")] == [0, 1, 2]
    assert [c.turn for c in standin.messages_calls("architect")] == [0, 1]
    assert [c.turn for c in standin.messages_calls("corpus-auditor")] == [0, 1]
    return run


def _of(events: list[dict[str, Any]], kind: str, session: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["event_type"] == kind and e["data"].get("session_id") == session]


def _stored_text(url: str) -> str:
    r = redis.Redis.from_url(url, decode_responses=True)
    readers: dict[str, Any] = {
        "string": r.get, "hash": r.hgetall, "set": lambda k: sorted(r.smembers(k)),
        "zset": lambda k: r.zrange(k, 0, -1), "list": lambda k: r.lrange(k, 0, -1), "stream": r.xrange,
    }  # fmt: skip
    try:
        return "\n".join(f"{k}={readers.get(str(r.type(k)), str)(k)}" for k in sorted(r.scan_iter("*")))
    finally:
        r.close()


def test_without_a_token_two_delegations_at_once_both_appear(
    claude_code: ClaudeCode, anthropic_standin: Standin, tmp_path: Path
) -> None:
    """PAS without PAS_API_TOKEN, Claude Code without it (the hooks send `Bearer ` with nothing after it), and
    the main agent delegating to both agents in one turn: Claude Code runs them side by side."""
    with _pas_up(tmp_path, None) as open_pas:
        read = {"file_path": str(open_pas.project / "corpus.txt")}
        anthropic_standin.plan(
            Script("main", [Turn(tools=[
                ToolCall("Agent", {"description": "plan", "subagent_type": "architect", "prompt": "plan it"}),
                ToolCall("Agent", {"description": "audit", "subagent_type": "corpus-auditor", "prompt": "audit"}),
            ]), Turn(text="done")]),
            Script("architect", [Turn(tools=[ToolCall("Read", read)], delay_s=0.3),
                                 Turn(text="planned", usage=ARCHITECT_LAST)], sub_agent=True, marker=ARCHITECT_MARKER),
            Script("corpus-auditor", [Turn(tools=[ToolCall("Read", read)], delay_s=0.3),
                                      Turn(text="audited", usage=AUDITOR_LAST)], sub_agent=True,
                   marker=AUDITOR_MARKER),
        )  # fmt: skip
        log_at = len(open_pas.proc.output())
        run = claude_code.run("Plan and audit corpus.txt", open_pas.project, open_pas.home,
                              anthropic_standin.base_url, extra_args=["--allowedTools", "Read"],
                              timeout_s=60)  # fmt: skip
        assert run.returncode == 0 and run.result is not None and run.result["result"] == "done", run.stderr[-2000:]
        print(f"claude -p, two delegations at once, no token: {run.elapsed_s:.2f} s")
        assert _hook_answers(open_pas, log_at) == [200] * HOOKS_PER_RUN
        session = run.result["session_id"]
        sub_ids = {c.actor: c.agent_id for c in anthropic_standin.messages_calls() if c.agent_id}
        events = open_pas.events()
        kinds = [(e["event_type"], e["data"].get("agent_type")) for e in events
                 if e["event_type"] in ("agent_run_started", "agent_run_finished")]  # fmt: skip
        assert {k for k, _ in kinds[:2]} == {"agent_run_started"}  # side by side: both ran before either ended
        assert sorted(kinds) == sorted([("agent_run_started", "architect"), ("agent_run_started", "corpus-auditor"),
                                        ("agent_run_finished", "architect"),
                                        ("agent_run_finished", "corpus-auditor")])  # fmt: skip
        for name, last in (("architect", ARCHITECT_LAST), ("corpus-auditor", AUDITOR_LAST)):
            assert open_pas.get(f"/api/registry/services/agent-{name}")["status"] == "done"
            (st,) = open_pas.get("/api/token-governor/status", agent=name, run_id=sub_ids[name])["agents"]
            assert st["ctx_used"] == last.input_tokens + last.cache_creation_input_tokens + last.cache_read_input_tokens
        calls = sorted((d["tool_name"], d["agent_type"]) for d in _of(events, "tool_call", session))
        assert calls == [("Agent", None), ("Agent", None), ("Read", "architect"), ("Read", "corpus-auditor")]
        assert len(_of(events, "agent_delegation", session)) == 2


def test_claude_codes_hooks_make_its_subagents_appear_in_pas(
    claude_code: ClaudeCode, anthropic_standin: Standin, pas: Pas
) -> None:
    before, log_at = pas.last_seq(), len(pas.proc.output())
    run = _run(claude_code, anthropic_standin, pas, TOKEN)
    assert run.result is not None
    session = run.result["session_id"]
    assert _hook_answers(pas, log_at) == [200] * HOOKS_PER_RUN  # the curl SessionStart too
    print(f"claude -p, two delegations, hooks answered by PAS: {run.elapsed_s:.2f} s")
    sub_ids = {c.actor: c.agent_id for c in anthropic_standin.messages_calls() if c.agent_id}
    assert set(sub_ids) == {"architect", "corpus-auditor"}

    # The session closes GRACE_S after SessionEnd, by beat's sweep (the last thing PAS does for it).
    def closed() -> list[dict[str, Any]]:
        return [d for d in _of(pas.events(before), "session_update", session) if d["status"] == "closed"]

    wait_until(closed, 15, 0.2, "the session closed by the sweep after SessionEnd")
    events = pas.events(before)
    statuses = [(d["status"], d["previous"]) for d in _of(events, "session_update", session)]
    assert statuses == [("open", None), ("idle", "open"), ("ended", "idle"), ("closed", "ended")], statuses

    for name, parent in (("architect", None), ("corpus-auditor", "director-data")):
        sid, run_id = f"agent-{name}", sub_ids[name]
        record = pas.get(f"/api/registry/services/{sid}")
        assert record["type"] == "agent" and record["labels"]["parent"] == parent
        assert record["status"] == "done", record
        assert session in record["message"] and run_id in record["message"]
        changes = [(d["from"], d["to"]) for d in _of(events, "status_update", session) if d.get("service_id") == sid]
        assert changes == [("ok", "running"), ("running", "done")], changes
        (started,) = [d for d in _of(events, "agent_run_started", session) if d["agent_type"] == name]
        assert started["agent_id"] == run_id and started["service_id"] == sid and started["parent"] == parent
        assert started["registered"] is True and started["implicit"] is False
        (finished,) = [d for d in _of(events, "agent_run_finished", session) if d["agent_type"] == name]
        assert finished["reason"] == "subagent_stop" and finished["started"] is True

    # Tool calls: the sub-agents' Reads, named by agent, tool and duration; the main agent's two Agent calls.
    calls = _of(events, "tool_call", session)
    reads = {d["agent_type"]: d for d in calls if d["tool_name"] == "Read"}
    assert set(reads) == {"architect", "corpus-auditor"} and len(calls) == 4, calls
    for name, d in reads.items():
        assert d["agent_id"] == sub_ids[name] and d["service_id"] == f"agent-{name}"
        assert isinstance(d["duration_ms"], int) and d["duration_ms"] >= 0 and d["status"] == "ok"
        assert d["matched_pre"] is True and "tool_input" not in d and "tool_response" not in d
    agent_calls = [d for d in calls if d["tool_name"] == "Agent"]
    assert [d["to_agent_type"] for d in agent_calls] == ["architect", "corpus-auditor"]
    assert all(d["agent_id"] is None and isinstance(d["duration_ms"], int) for d in agent_calls)
    delegations = _of(events, "agent_delegation", session)
    assert [(d["to_service_id"], d["to_registered"], d["agent_id"]) for d in delegations] == [
        ("agent-architect", True, None), ("agent-corpus-auditor", True, None)]  # fmt: skip

    # Tokens: the governor's context of each run = input + cache tokens of its last turn (the stand-in's numbers);
    # the limit is the window of the model Claude Code reports (`opus` resolves to a 1M-context model in 2.1.197).
    for name, last, ratios, model, window in (
        ("architect", ARCHITECT_LAST, (0.5, 0.75), "claude-opus-4-8[1m]", 1_000_000),
        ("corpus-auditor", AUDITOR_LAST, (0.3, 0.5), "claude-sonnet-5", 200_000),
    ):
        ctx = last.input_tokens + last.cache_creation_input_tokens + last.cache_read_input_tokens
        (status,) = pas.get("/api/token-governor/status", agent=name, run_id=sub_ids[name])["agents"]
        assert (status["ctx_used"], status["ctx_limit"], status["status"]) == (ctx, window, "ok"), status
        assert (status["target_ratio"], status["hard_max_ratio"]) == ratios
        (usage,) = [d for d in _of(events, "agent_usage", session) if d["agent_type"] == name]
        assert usage["ctx_used"] == ctx and usage["output_tokens"] == last.output_tokens
        assert usage["total_tokens"] == ctx + last.output_tokens and usage["agent_id"] == sub_ids[name]
        assert usage["model"] == model and usage["ctx_limit"] == window and usage["cost_usd"] is None

    # The HMI's tree: architect at the root, corpus-auditor under director-data, sized by its context.
    tree = pas.get("/api/tree")
    (root,) = [n for n in tree["children"] if n["service_id"] == "agent-architect"]
    (data,) = [n for n in root["children"] if n["service_id"] == "agent-director-data"]
    (auditor,) = [n for n in data["children"] if n["service_id"] == "agent-corpus-auditor"]
    assert auditor["status"] == "done" and auditor["ctx_ratio"] == pytest.approx(8600 / 200_000)
    assert pas.get("/api/agent-router/health")["open_sessions"] == 0

    # Nothing a hook carried as content is kept or logged: the canary is nowhere, nor the token.
    SEEN.append(json.dumps(pas.events(0)))
    seen_by_model = json.dumps([c.body for c in anthropic_standin.messages_calls("corpus-auditor")])
    assert seen_by_model.count(CANARY) >= 2  # its prompt and the file it read: both were in the hooks' payloads
    assert not [t for t in SEEN if CANARY in t]
    stored = _stored_text(pas.valkey_url)
    assert CANARY not in stored and TOKEN not in stored
    log = pas.proc.output()
    assert "hook_" in log  # the hook endpoint's log lines are there…
    assert CANARY not in log and TOKEN not in log  # …without content or secrets


def test_a_breach_reaches_claude_codes_main_agent_and_saves_the_state(
    claude_code: ClaudeCode, anthropic_standin: Standin, pas: Pas
) -> None:
    """corpus-auditor ends its run at 115000 of 200000 context tokens (57% >= its hard max 50%): PAS's answer to
    the Agent call's PostToolUse reaches the main agent's next model call as context, and the worker writes the
    summary."""
    read = {"file_path": str(pas.project / "corpus.txt")}
    anthropic_standin.plan(
        Script("main", [Turn(tools=[ToolCall("Agent", {"description": "audit", "subagent_type": "corpus-auditor",
                                                       "prompt": "audit corpus.txt"})]),
                        Turn(text="done")]),
        Script("corpus-auditor", [Turn(tools=[ToolCall("Read", read)]),
                                  Turn(text="audited", usage=Usage(20_000, 100, 5_000, 90_000))],
               sub_agent=True, marker=AUDITOR_MARKER),
    )  # fmt: skip
    run = claude_code.run("Audit corpus.txt", pas.project, pas.home, anthropic_standin.base_url,
                          extra_args=["--allowedTools", "Read"], env={"PAS_API_TOKEN": TOKEN},
                          timeout_s=60)  # fmt: skip
    assert run.returncode == 0 and run.result is not None and run.result["result"] == "done", run.stderr[-2000:]
    (run_id,) = {c.agent_id for c in anthropic_standin.messages_calls("corpus-auditor")}
    assert run_id is not None
    after = anthropic_standin.messages_calls("main")[1]
    told = json.dumps(after.body["messages"])
    assert "PAS token governor: the sub-agent corpus-auditor" in told and "past its hard limit of 50%" in told
    assert f"/api/token-governor/resume?agent=corpus-auditor&run_id={run_id}" in told

    def summaries() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = pas.get("/api/token-governor/summaries", agent="corpus-auditor",
                                              run_id=run_id)["summaries"]  # fmt: skip
        return found

    wait_until(lambda: len(summaries()) == 1, 20, 0.1, "the breach's summary")
    (summary,) = summaries()
    assert summary["ctx_before"] == 115_000 and summary["trigger_reason"] == "hard_max_breach"
    path = Path(summary["summary_path"])
    assert path.is_file() and path.parent == Path(pas.env["PAS_DOCS_DIR"]) and run_id in path.name
    (status,) = pas.get("/api/token-governor/status", agent="corpus-auditor", run_id=run_id)["agents"]
    assert status["ctx_used"] == 0 and status["breaches"] == 1


def test_with_the_wrong_token_the_hooks_are_refused_and_claude_code_finishes(
    claude_code: ClaudeCode, anthropic_standin: Standin, pas: Pas
) -> None:
    before, log_at = pas.last_seq(), len(pas.proc.output())
    run = _run(claude_code, anthropic_standin, pas, WRONG)
    assert run.result is not None
    print(f"claude -p, two delegations, every hook refused (401): {run.elapsed_s:.2f} s")
    assert "401" in run.stderr, run.stderr[-2000:]
    assert _hook_answers(pas, log_at) == [401] * HOOKS_PER_RUN
    session = run.result["session_id"]
    time.sleep(GRACE_S + 0.5)  # anything the hooks had done would have shown by now
    assert [e for e in pas.events(before) if session in json.dumps(e)] == []
    log = pas.proc.output()
    assert WRONG not in log and CANARY not in log


def test_pas_stopped_claude_code_still_finishes_promptly(
    claude_code: ClaudeCode, anthropic_standin: Standin, pas: Pas
) -> None:
    """The rendered settings as they are (1 s http hooks, the SessionStart curl with a 1 s cap), PAS stopped."""
    pas.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{pas.base}/health", timeout=2)
    run = _run(claude_code, anthropic_standin, pas, TOKEN)
    print(f"claude -p, two delegations, PAS stopped: {run.elapsed_s:.2f} s")
    assert run.elapsed_s < 20
    assert "ECONNREFUSED" in run.stderr

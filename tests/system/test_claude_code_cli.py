"""The real Claude Code CLI (2.1.197), offline, against the scripted Anthropic stand-in: the main agent delegates to
a project sub-agent, the sub-agent uses tools, and Claude Code's own hooks report it all to a local recorder. These
tests prove the harness that PAS's issue-11 tests build on, and pin the hook payloads PAS's endpoint must accept:
tests/fixtures/claude_code_2.1.197/ holds one scrubbed sample of each, and the first test fails when the CLI's
payload shapes drift from them (PAS_WRITE_CC_FIXTURES=1 rewrites them)."""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.anthropic_standin import Script, Standin, ToolCall, Turn, Usage
from tests.claude_code import (
    ClaudeCode,
    HookRecorder,
    Run,
    hooks_settings,
    start_recorder,
    write_agent,
    write_settings,
)

pytestmark = pytest.mark.system
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "claude_code_2.1.197"
AGENT = "probe-reader"
MARKER = "PROBE-READER-MARKER"
MAIN_USAGE = Usage(input_tokens=100, output_tokens=10, cache_creation_input_tokens=5, cache_read_input_tokens=7)
SUB_LAST_USAGE = Usage(input_tokens=300, output_tokens=30, cache_creation_input_tokens=60, cache_read_input_tokens=70)
ORDER = [
    "SessionStart",  # the command hook (an http hook for it never fires)
    "PreToolUse",  # Agent, in the main agent
    "SubagentStart",
    "PreToolUse",  # Read, in the sub-agent
    "PostToolUse",
    "PreToolUse",  # Read of a missing file
    "PostToolUseFailure",
    "PreToolUse",  # Bash, allowed by --allowedTools
    "PostToolUse",
    "SubagentStop",
    "PostToolUse",  # Agent
    "Stop",
    "SessionEnd",
]

ORDER_HTTP = ("PreToolUse", "PostToolUse", "PostToolUseFailure", "SubagentStart", "SubagentStop", "Stop",
              "SessionEnd")  # fmt: skip


@pytest.fixture
def recorder() -> Iterator[HookRecorder]:
    rec = start_recorder()
    yield rec
    rec.close()


def _project(tmp_path: Path) -> tuple[Path, Path]:
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    (project / "notes.txt").write_text("the probe reads this\n")
    write_agent(project, AGENT, "Reads one file and reports. Use for file probes.",
                f"You are {MARKER}. Read the file you are asked for and report.", tools="Read, Bash")  # fmt: skip
    # An agent file without a description: Claude Code drops it silently.
    (project / ".claude" / "agents" / "undescribed.md").write_text("---\nname: undescribed\n---\n\nNo description.\n")
    return project, home


def _plan(standin: Standin, project: Path) -> None:
    delegate = ToolCall("Agent", {"description": "probe the notes", "prompt": "read notes.txt",
                                  "subagent_type": AGENT})  # fmt: skip
    standin.plan(
        Script("main", [Turn(tools=[delegate], usage=MAIN_USAGE), Turn(text="done", usage=Usage(120, 3, 0, 50))]),
        Script(AGENT, [
            Turn(tools=[ToolCall("Read", {"file_path": str(project / "notes.txt")})], usage=Usage(200, 20, 30, 40)),
            Turn(tools=[ToolCall("Read", {"file_path": str(project / "missing.txt")})], usage=Usage(210, 21, 31, 41)),
            Turn(tools=[ToolCall("Bash", {"command": f"touch {project / 'made.txt'}", "description": "touch"})]),
            Turn(text="ok", usage=SUB_LAST_USAGE),
        ], sub_agent=True, marker=MARKER),
    )  # fmt: skip


def _delegate(claude_code: ClaudeCode, standin: Standin, project: Path, home: Path, **env: str) -> Run:
    _plan(standin, project)
    return claude_code.run("Delegate the notes probe.", project, home, standin.base_url,
                           extra_args=["--allowedTools", "Read", "Bash"], env=env, timeout_s=60)  # fmt: skip


def _ok(run: Run) -> dict[str, Any]:
    assert not run.timed_out, f"claude -p still running after 60 s; stderr: {run.stderr[-2000:]}"
    assert run.returncode == 0, f"rc {run.returncode}; stdout {run.stdout[-1000:]}; stderr {run.stderr[-2000:]}"
    assert run.result is not None and run.result.get("result") == "done", run.stdout[-2000:]
    return run.result


def test_delegation_reports_every_hook_with_the_observed_payloads(
    claude_code: ClaudeCode, anthropic_standin: Standin, recorder: HookRecorder, tmp_path: Path
) -> None:
    project, home = _project(tmp_path)
    settings = hooks_settings(recorder.url, http_events=(*ORDER_HTTP, "SessionStart"),
                              headers={"Authorization": "Bearer $PAS_API_TOKEN", "X-Unlisted": "x$UNLISTED_SECRET"},
                              allowed_env_vars=["PAS_API_TOKEN"])  # fmt: skip
    write_settings(project, settings)
    run = _delegate(claude_code, anthropic_standin, project, home,
                    PAS_API_TOKEN="tok-standin-123", UNLISTED_SECRET="must-not-leak")  # fmt: skip
    result = _ok(run)
    print(f"claude -p with one delegation: {run.elapsed_s:.2f} s")
    assert run.elapsed_s < 30
    assert (project / "made.txt").exists(), "the sub-agent's Bash call did not run (--allowedTools)"
    assert result["permission_denials"] == []

    # The model calls: the main agent (no agent header) offered the sub-agent; the sub-agent's own calls carry it.
    main = anthropic_standin.messages_calls("main")
    sub = anthropic_standin.messages_calls(AGENT)
    assert [c.turn for c in main] == [0, 1] and [c.turn for c in sub] == [0, 1, 2, 3]
    assert all(c.agent_id is None for c in main)
    agent_ids = {c.agent_id for c in sub}
    assert len(agent_ids) == 1 and None not in agent_ids
    agent_id = agent_ids.pop()
    assert agent_id is not None
    assert {c.session_id for c in main + sub} == {result["session_id"]}
    offered = main[0].offered_agents
    assert offered[AGENT] == "Reads one file and reports. Use for file probes."
    assert "undescribed" not in offered
    assert "Agent" in main[0].tool_names and sorted(sub[0].tool_names) == ["Bash", "Read"]
    assert all(c.query == {"beta": ["true"]} and c.body.get("stream") is True for c in main + sub)
    assert "sk-ant-standin" not in json.dumps([c.headers for c in anthropic_standin.calls])

    # The hooks: order, the common fields, the sub-agent's identity on its own tool calls, the Agent tool's usage.
    assert recorder.events() == ORDER, recorder.events()
    assert recorder.hits[0].path == "/command/SessionStart"  # the http one never fired
    for hit in recorder.hits:
        body = hit.body
        assert {"session_id", "transcript_path", "cwd", "hook_event_name"} <= body.keys(), body.keys()
        assert body["session_id"] == result["session_id"] and body["cwd"] == str(project)
        if hit.path.startswith("/http/"):
            assert hit.headers["authorization"] == "Bearer tok-standin-123"
            assert hit.headers["x-unlisted"] == "x"  # a variable not in allowedEnvVars is interpolated as ""
    in_sub = recorder.hits[2:10]
    assert all(h.body["agent_id"] == agent_id and h.body["agent_type"] == AGENT for h in in_sub)
    outside = [recorder.hits[i] for i in (0, 1, 10, 11, 12)]
    assert all("agent_id" not in h.body and "agent_type" not in h.body for h in outside)
    stop = recorder.of("SubagentStop")[0].body
    assert stop["last_assistant_message"] == "ok" and stop["agent_transcript_path"].endswith(f"agent-{agent_id}.jsonl")
    pre_agent, post_agent = recorder.hits[1].body, recorder.hits[10].body
    assert pre_agent["tool_name"] == post_agent["tool_name"] == "Agent"
    assert pre_agent["tool_use_id"] == post_agent["tool_use_id"]
    response = post_agent["tool_response"]
    assert (response["agentId"], response["agentType"], response["status"]) == (agent_id, AGENT, "completed")
    usage = response["usage"]
    assert {k: usage[k] for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                  "cache_read_input_tokens")} == {
        "input_tokens": 300, "output_tokens": 30, "cache_creation_input_tokens": 60, "cache_read_input_tokens": 70,
    }  # fmt: skip  # the sub-agent's LAST turn, not a sum over its turns
    assert response["totalTokens"] == 300 + 30 + 60 + 70
    assert isinstance(response["totalDurationMs"], int) and response["totalToolUseCount"] == 3
    for post in recorder.of("PostToolUse") + recorder.of("PostToolUseFailure"):
        assert isinstance(post.body["duration_ms"], int)
    assert recorder.of("PostToolUseFailure")[0].body["error"].startswith("File does not exist")

    observed = [_scrub(h.body, project, home, result["session_id"], agent_id) for h in recorder.hits]
    if os.environ.get("PAS_WRITE_CC_FIXTURES") == "1":
        _write_fixtures(observed)
    assert [_shape(p) for p in observed] == [_shape(p) for p in json.loads((FIXTURES / "session.json").read_text())]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pas_down_claude_code_still_finishes_promptly(
    claude_code: ClaudeCode, anthropic_standin: Standin, tmp_path: Path
) -> None:
    """Every hook (http and the SessionStart command) points at a closed port: each fails at once (ECONNREFUSED),
    Claude Code says so on stderr and goes on."""
    project, home = _project(tmp_path)
    write_settings(project, hooks_settings(f"http://127.0.0.1:{_closed_port()}", http_events=ORDER_HTTP))
    run = _delegate(claude_code, anthropic_standin, project, home)
    _ok(run)
    print(f"claude -p with one delegation, every hook refused: {run.elapsed_s:.2f} s")
    assert run.elapsed_s < 30
    assert "ECONNREFUSED" in run.stderr
    assert len(anthropic_standin.messages_calls()) == 6


def test_pas_hung_the_hook_timeout_bounds_the_wait(
    claude_code: ClaudeCode, anthropic_standin: Standin, tmp_path: Path
) -> None:
    """A PAS that accepts connections and never answers (stopped): each http hook waits its `timeout` (1 s here)
    and is cancelled, so the session takes about (number of hooks) x timeout longer, and still finishes."""
    project, home = _project(tmp_path)
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)  # the kernel accepts; nobody reads or answers
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        write_settings(project, hooks_settings(url, http_events=ORDER_HTTP, command_events=(), timeout_s=1))
        run = _delegate(claude_code, anthropic_standin, project, home)
    _ok(run)
    print(f"claude -p with one delegation, 12 http hooks hung at timeout 1 s: {run.elapsed_s:.2f} s")
    assert 12 <= run.elapsed_s < 30
    assert "Hook cancelled" in run.stderr


# --- fixtures: scrubbed payloads and their shapes -----------------------------------------------------------------


def _scrub(body: dict[str, Any], project: Path, home: Path, session_id: str, agent_id: str) -> dict[str, Any]:
    """Paths, ids and timings to stable placeholders; everything else (all synthetic) as observed."""
    text = json.dumps(body)
    for real, fake in ((str(project), "/work/project"), (re.sub(r"[^A-Za-z0-9]", "-", str(project)), "-work-project"),
                       (str(home), "/home/user"), (session_id, "11111111-2222-4333-8444-555555555555"),
                       (agent_id, "a0123456789abcdef")):  # fmt: skip
        text = text.replace(real, fake)
    text = re.sub(r"toolu_standin_(\d+)", lambda m: f"toolu_01{int(m.group(1)):022d}", text)
    out = json.loads(text)
    if "prompt_id" in out:
        out["prompt_id"] = "66666666-7777-4888-8999-000000000000"
    for key in ("duration_ms",):
        if key in out:
            out[key] = 5
    resp = out.get("tool_response")
    if isinstance(resp, dict) and "totalDurationMs" in resp:
        resp["totalDurationMs"] = 450
    return out


def _shape(value: Any) -> Any:
    """Field names and value types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _fixture_name(body: dict[str, Any]) -> str:
    event = body["hook_event_name"]
    where = ".subagent" if "agent_id" in body and event not in {"SubagentStart", "SubagentStop"} else ""
    tool = f".{body['tool_name']}" if "tool_name" in body else ""
    return f"{event}{where}{tool}"


def _write_fixtures(observed: list[dict[str, Any]]) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "session.json").write_text(json.dumps(observed, indent=2) + "\n")
    written: set[str] = set()
    for body in observed:  # the first of each kind
        if (name := _fixture_name(body)) not in written:
            written.add(name)
            (FIXTURES / f"{name}.json").write_text(json.dumps(body, indent=2) + "\n")

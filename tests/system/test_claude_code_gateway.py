"""Issue 14 end to end: the real Claude Code CLI (2.1.197) with ANTHROPIC_BASE_URL pointing at PAS's Anthropic
surface (`pas up`, the catalogue's agents and hooks installed): every model call of the session and of its
sub-agents goes through PAS — (a) passed through to the scripted Anthropic stand-in, (b) translated to an
OpenAI-protocol upstream (the same scripts behind an OpenAI face) — and each call's receipt names its session and
sub-agent, with the upstream's exact usage. A sub-agent whose budget is spent gets Anthropic's 429 and the session
still finishes. The prompt's canary is stored nowhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.anthropic_standin import Script, Standin, ToolCall, Turn, Usage, start_standin
from tests.claude_code import ClaudeCode, Run
from tests.openai_face import start_openai_face
from tests.support import wait_until
from tests.system.test_claude_code_pas import AUDITOR_MARKER, Pas, _pas_up, _stored_text

pytestmark = pytest.mark.system
TOKEN = "tok-gw-41c9e2"
CANARY = "canary-gw-6b20d7"
PASS, FACE = "cc-standin", "cc-openai-face"  # the two providers PAS routes Claude Code's calls to
MAIN_LAST = Usage(1000, 5, 0, 2200)
AUDITOR_FIRST = Usage(1500, 60, 400, 5000)
AUDITOR_LAST = Usage(2100, 150, 500, 6000)


class Upstreams:
    def __init__(self) -> None:
        self.standin = start_standin()
        self.face, self.face_url = start_openai_face(self.standin)

    def close(self) -> None:
        self.face.shutdown()
        self.face.server_close()
        self.standin.close()


@pytest.fixture(scope="module")
def upstreams() -> Iterator[Upstreams]:
    ups = Upstreams()
    yield ups
    ups.close()


@pytest.fixture(scope="module")
def pas(tmp_path_factory: pytest.TempPathFactory, upstreams: Upstreams) -> Iterator[Pas]:
    tmp = tmp_path_factory.mktemp("cc-gateway")
    aliases = tmp / "aliases.json"
    # An operator's table: names Claude Code sends with "via-openai" in them go to the OpenAI face, all else to
    # the Anthropic stand-in (ANTHROPIC_DEFAULT_*_MODEL picks the names per run).
    aliases.write_text(json.dumps({"aliases": [{"match": "*via-openai*", "policy": {"provider": FACE}},
                                               {"match": "*", "policy": {"provider": PASS}}]}))  # fmt: skip
    face_port = upstreams.face.server_address[1]
    with _pas_up(tmp, TOKEN, PAS_ANTHROPIC_ALIASES=str(aliases),
                 PAS_UPSTREAM_ALLOWLIST=f"127.0.0.1:{upstreams.standin.port},127.0.0.1:{face_port}") as p:  # fmt: skip
        for name, endpoint, protocol in ((PASS, upstreams.standin.base_url, "anthropic"),
                                         (FACE, upstreams.face_url, "openai")):  # fmt: skip
            r = requests.post(f"{p.base}/api/provider-router/register", timeout=10,
                              headers={"Authorization": f"Bearer {TOKEN}"},
                              json={"name": name, "model": f"{name}-model", "context_window": 200_000,
                                    "cost_per_input_token": 3e-6, "cost_per_output_token": 1.5e-5,
                                    "endpoint": endpoint, "protocol": protocol, "capabilities": ["chat"]})  # fmt: skip
            assert r.status_code in (200, 201), r.text
        yield p


def _plan(standin: Standin, project: Path) -> None:
    read = {"file_path": str(project / "corpus.txt")}
    standin.plan(
        Script("main", [
            Turn(tools=[ToolCall("Agent", {"description": "audit the corpus", "subagent_type": "corpus-auditor",
                                           "prompt": f"audit corpus.txt ({CANARY})"})], usage=Usage(950, 40, 0, 2100)),
            Turn(text="done", usage=MAIN_LAST),
        ]),
        Script("corpus-auditor", [Turn(tools=[ToolCall("Read", read)], usage=AUDITOR_FIRST),
                                  Turn(text="2 docs", usage=AUDITOR_LAST)], sub_agent=True, marker=AUDITOR_MARKER),
    )  # fmt: skip


def _claude(claude_code: ClaudeCode, pas: Pas, standin: Standin, models: str | None = None) -> Run:
    _plan(standin, pas.project)
    env = {"PAS_API_TOKEN": TOKEN, "ANTHROPIC_API_KEY": TOKEN}  # the SDK's x-api-key: PAS's token
    if models is not None:
        env |= {"ANTHROPIC_MODEL": models, "ANTHROPIC_DEFAULT_OPUS_MODEL": models,
                "ANTHROPIC_DEFAULT_SONNET_MODEL": models, "ANTHROPIC_DEFAULT_HAIKU_MODEL": models}  # fmt: skip
    run = claude_code.run(f"Audit corpus.txt; {CANARY}", pas.project, pas.home, f"{pas.base}/anthropic",
                          extra_args=["--allowedTools", "Read"], env=env, timeout_s=90)  # fmt: skip
    assert not run.timed_out, f"claude -p still running after 90 s; stderr: {run.stderr[-2000:]}"
    assert run.returncode == 0, f"rc {run.returncode}; stdout {run.stdout[-1500:]}; stderr {run.stderr[-2000:]}"
    assert run.result is not None and run.result.get("result") == "done", run.stdout[-2000:]
    return run


def _receipts(pas: Pas, session: str, count: int) -> list[dict[str, Any]]:
    """The session's receipts, once beat has shipped at least `count` to SQL."""

    def shipped() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = pas.get(f"/api/gateway/receipts/{session}")["receipts"]
        return found if len(found) >= count else []

    return wait_until(shipped, 15, 0.2, f"{count} receipts of the session")


def _check_session(pas: Pas, standin: Standin, run: Run, provider: str) -> None:
    session = run.result["session_id"] if run.result else ""
    assert [c.turn for c in standin.messages_calls("main")] == [0, 1]
    assert [c.turn for c in standin.messages_calls("corpus-auditor")] == [0, 1]
    (agent_id,) = {c.agent_id for c in standin.messages_calls("corpus-auditor")}
    receipts = _receipts(pas, session, 4)
    scripted = [r for r in receipts if r["agent"] in ("corpus-auditor", f"session:{session}")
                and r["status"] == "success"]  # fmt: skip
    by_agent = {(r["agent"], r["input_tokens"], r["output_tokens"]) for r in scripted}
    assert {r["provider"] for r in scripted} == {provider}
    assert all(r["surface"] == "anthropic" and r["session_id"] == session and r["tokens_exact"] for r in scripted)
    auditor = [r for r in scripted if r["agent"] == "corpus-auditor"]
    assert {r["agent_id"] for r in auditor} == {agent_id}
    if provider == PASS:  # Anthropic's own usage, cache tokens apart
        assert ("corpus-auditor", AUDITOR_LAST.input_tokens, AUDITOR_LAST.output_tokens) in by_agent
        (last,) = [r for r in auditor if r["output_tokens"] == AUDITOR_LAST.output_tokens]
        assert (last["cache_read_input_tokens"], last["cache_creation_input_tokens"]) == (6000, 500)
    else:  # through OpenAI's usage: prompt tokens minus the cached ones are input; cache writes are not told apart
        fresh = AUDITOR_LAST.input_tokens + AUDITOR_LAST.cache_creation_input_tokens
        assert ("corpus-auditor", fresh, AUDITOR_LAST.output_tokens) in by_agent, by_agent
        (last,) = [r for r in auditor if r["output_tokens"] == AUDITOR_LAST.output_tokens]
        assert (last["cache_read_input_tokens"], last["cache_creation_input_tokens"]) == (6000, 0)
    assert (f"session:{session}", MAIN_LAST.input_tokens, MAIN_LAST.output_tokens) in by_agent, by_agent


def test_claude_code_runs_a_delegating_session_through_pas_to_an_anthropic_upstream(
    claude_code: ClaudeCode, upstreams: Upstreams, pas: Pas
) -> None:
    run = _claude(claude_code, pas, upstreams.standin)
    print(f"claude -p through PAS (pass-through), one delegation: {run.elapsed_s:.2f} s")
    _check_session(pas, upstreams.standin, run, PASS)
    session = run.result["session_id"] if run.result else ""
    spent = sum(r["cost_usd"] for r in _receipts(pas, session, 4) if r["agent"] == "corpus-auditor")
    tree = pas.get("/api/tree")
    (root,) = [n for n in tree["children"] if n["service_id"] == "agent-architect"]
    (data,) = [n for n in root["children"] if n["service_id"] == "agent-director-data"]
    (auditor,) = [n for n in data["children"] if n["service_id"] == "agent-corpus-auditor"]
    assert spent > 0 and auditor["cost_usd"] >= spent - 1e-9  # the tree's cost per agent: its receipts'
    calls = upstreams.standin.messages_calls()
    assert calls and all("x-api-key" not in c.headers for c in calls)  # the caller's key (PAS's token) stays in PAS
    stored = _stored_text(pas.valkey_url)
    assert CANARY not in stored and TOKEN not in stored
    assert CANARY not in pas.proc.output()


def test_claude_code_runs_a_delegating_session_through_pas_translated_to_an_openai_upstream(
    claude_code: ClaudeCode, upstreams: Upstreams, pas: Pas
) -> None:
    run = _claude(claude_code, pas, upstreams.standin, models="claude-via-openai")
    print(f"claude -p through PAS (translated to OpenAI), one delegation: {run.elapsed_s:.2f} s")
    _check_session(pas, upstreams.standin, run, FACE)


def test_a_sub_agent_out_of_budget_gets_a_clean_error_and_the_session_finishes(
    claude_code: ClaudeCode, upstreams: Upstreams, pas: Pas
) -> None:
    r = requests.post(f"{pas.base}/api/gateway/budget", params={"agent": "corpus-auditor", "budget_usd": "0.000001"},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    before = pas.last_seq()
    _plan(upstreams.standin, pas.project)
    run = claude_code.run("Audit corpus.txt", pas.project, pas.home, f"{pas.base}/anthropic",
                          extra_args=["--allowedTools", "Read"], env={"PAS_API_TOKEN": TOKEN,
                                                                      "ANTHROPIC_API_KEY": TOKEN},
                          timeout_s=90)  # fmt: skip
    print(f"claude -p through PAS, the sub-agent out of budget: {run.elapsed_s:.2f} s")
    assert run.returncode == 0 and run.result is not None and run.result["result"] == "done", run.stdout[-2000:]
    assert upstreams.standin.messages_calls("corpus-auditor") == []  # its calls never left PAS
    session = run.result["session_id"]
    refused = [x for x in _receipts(pas, session, 2) if x["agent"] == "corpus-auditor"]
    assert refused and all(x["status"] == "error" and "Budget exceeded" in x["error_message"] for x in refused)
    told = json.dumps(upstreams.standin.messages_calls("main")[-1].body["messages"])
    assert "Budget exceeded" in told  # the Agent tool's result: the sub-agent's error reached the main agent
    alerts = [e["data"] for e in pas.events(before) if e["event_type"] == "alert"
              and e["data"].get("alert_type") == "budget_exceeded"]  # fmt: skip
    assert [(a["scope"], a["name"]) for a in alerts] == [("agent", "corpus-auditor")]  # once, however many refusals

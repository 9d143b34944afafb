"""Claude Code 2.1.197 hook payloads for HMI tests: the recorded fixtures (tests/fixtures/claude_code_2.1.197),
with the session, run, agent, tool and ids swapped in, posted to PAS's real hook endpoint."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import requests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude_code_2.1.197"
HOOK_PATH = "/api/agent-router/hooks/claude-code"


@cache
def _recorded(kind: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{kind}.json").read_text())
    return body


def payload(kind: str, session: str, **swap: Any) -> dict[str, Any]:
    """A recorded payload with: run=(agent_id, agent_type) (None: the main agent's), tool, tool_use_id, target (the
    Agent call's subagent_type), duration_ms, cost_usd (an Agent report's total_cost_usd)."""
    body = copy.deepcopy(_recorded(kind))
    body["session_id"] = session
    body["transcript_path"] = f"/home/user/.claude/projects/-work-project/{session}.jsonl"
    if "run" in swap:
        if swap["run"] is None:
            body.pop("agent_id", None)
            body.pop("agent_type", None)
        else:
            body["agent_id"], body["agent_type"] = swap["run"]
    for field in ("tool_name", "tool_use_id", "duration_ms"):
        if field in swap:
            body[field] = swap[field]
    if "target" in swap:
        body["tool_input"]["subagent_type"] = swap["target"]
        if "tool_response" in body:
            body["tool_response"]["agentType"] = swap["target"]
            body["tool_response"]["agentId"] = swap["target_run"]
    if "cost_usd" in swap:
        body["tool_response"]["total_cost_usd"] = swap["cost_usd"]
    return body


def send(base_url: str, body: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(base_url.rstrip("/") + HOOK_PATH, json=body, timeout=5)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def delegation(base_url: str, session: str, target: str, run_id: str, tool_use_id: str) -> None:
    """The main agent's Agent call (PreToolUse) and the run it starts (SubagentStart)."""
    send(base_url, payload("PreToolUse.Agent", session, tool_use_id=tool_use_id, target=target, target_run=run_id))
    send(base_url, payload("SubagentStart", session, run=(run_id, target)))


def tool_call(base_url: str, session: str, run: tuple[str, str] | None, tool: str, tool_use_id: str,
              duration_ms: int) -> None:  # fmt: skip
    """A tool call (Pre, then Post) inside `run`, or the main agent's when run is None."""
    send(base_url, payload("PreToolUse.subagent.Read", session, run=run, tool_name=tool, tool_use_id=tool_use_id))
    send(base_url, payload("PostToolUse.subagent.Bash", session, run=run, tool_name=tool, tool_use_id=tool_use_id,
                           duration_ms=duration_ms))  # fmt: skip


def agent_returned(base_url: str, session: str, target: str, run_id: str, tool_use_id: str,
                   cost_usd: float | None = None) -> None:  # fmt: skip
    """The sub-agent's stop and its Agent call's report (tokens: 460 total, context 430 of the [1m] window)."""
    send(base_url, payload("SubagentStop", session, run=(run_id, target)))
    extra = {"cost_usd": cost_usd} if cost_usd is not None else {}
    send(base_url, payload("PostToolUse.Agent", session, tool_use_id=tool_use_id, target=target, target_run=run_id,
                           **extra))  # fmt: skip

"""Claude Code's hook inputs in the shapes 2.1.197 posts (issue 11), built field by field for test_agent_hooks.py
and test_agent_hooks_untrusted.py, with CANARY in every content field a hook carries; and what those tests read
back through an in-process app: registry status, the event stream, every stored key and value."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

HOOK = "http://localhost:6119/hooks/claude-code"
REG = "http://localhost:6121"
CANARY = "canary-secret-7c1d"  # in every content field a hook carries: it must be stored nowhere


def sid() -> str:
    return f"sess-{uuid.uuid4().hex[:8]}"


def hook(session: str, event: str, **fields: Any) -> dict[str, Any]:
    """A hook input in 2.1.197's shape (base fields of every event, then the event's own)."""
    return {"session_id": session, "transcript_path": f"/root/.claude/projects/p/{session}.jsonl",
            "cwd": "/work/p", "prompt_id": str(uuid.uuid4()), "permission_mode": "default",
            "hook_event_name": event, **fields}  # fmt: skip


def start(session: str, agent_id: str, agent_type: str) -> dict[str, Any]:
    return hook(session, "SubagentStart", agent_id=agent_id, agent_type=agent_type)


def stop(session: str, agent_id: str, agent_type: str, transcript: str | None = None) -> dict[str, Any]:
    return hook(session, "SubagentStop", agent_id=agent_id, agent_type=agent_type, stop_hook_active=False,
                agent_transcript_path=transcript or f"/root/.claude/projects/p/{session}/subagents/{agent_id}.jsonl",
                last_assistant_message=f"done; the key is {CANARY}")  # fmt: skip


def pre(session: str, tool: str, tool_use_id: str, *, inside: tuple[str, str] | None = None,
        tool_input: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    extra = {"agent_id": inside[0], "agent_type": inside[1]} if inside else {}
    tool_input = tool_input if tool_input is not None else {"file_path": f"/etc/{CANARY}"}
    return hook(session, "PreToolUse", tool_name=tool, tool_use_id=tool_use_id, tool_input=tool_input, **extra)


def post(session: str, tool: str, tool_use_id: str, *, inside: tuple[str, str] | None = None,
         tool_response: Any = None, **more: Any) -> dict[str, Any]:  # fmt: skip
    body = pre(session, tool, tool_use_id, inside=inside, tool_input=more.pop("tool_input", None))
    body.update(hook_event_name="PostToolUse", tool_response=tool_response or {"content": CANARY}, **more)
    return body


def agent_call(session: str, tool_use_id: str, agent_type: str, agent_id: str, *, input_tokens: int = 1200,
               cache_read: int = 3000, cache_creation: int = 500, output_tokens: int = 80,
               model: str = "claude-sonnet-4-5-20250929") -> dict[str, Any]:  # fmt: skip
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
             "cache_creation_input_tokens": cache_creation, "cache_read_input_tokens": cache_read,
             "server_tool_use": None, "service_tier": "standard",
             "cache_creation": {"ephemeral_1h_input_tokens": 0,
                                "ephemeral_5m_input_tokens": cache_creation}}  # fmt: skip
    response = {"status": "completed", "agentId": agent_id, "agentType": agent_type, "prompt": f"do {CANARY}",
                "content": [{"type": "text", "text": CANARY}], "resolvedModel": model, "totalToolUseCount": 2,
                "totalDurationMs": 5400, "totalTokens": input_tokens + cache_read + cache_creation + output_tokens,
                "usage": usage}  # fmt: skip
    tool_input = {"description": "d", "prompt": f"secret {CANARY}", "subagent_type": agent_type}
    return post(session, "Agent", tool_use_id, tool_input=tool_input, tool_response=response, duration_ms=5400)


def register_agent(c: FlaskClient, name: str, *, parent: str = "architect", hard: float = 0.5,
                   ctx_limit: int | None = None) -> None:  # fmt: skip
    labels = {"agent_role": "exec", "tier": 3, "parent": parent, "children": [], "token_target": 0.3,
              "token_hard_max": hard}  # fmt: skip
    body = {"service_id": f"agent-{name}", "name": name, "type": "agent", "role": "production",
            "url": f"internal://agents/{name}", "caps": ["testing"], "labels": labels, "heartbeat_interval_s": 3600,
            "ttl_s": 7200, **({"ctx_limit": ctx_limit} if ctx_limit else {})}  # fmt: skip
    r = c.post(f"{REG}/register", json=body)
    assert r.status_code in (200, 201), r.json


def send(c: FlaskClient, body: Any) -> dict[str, Any]:
    r = c.post(HOOK, json=body)
    assert r.status_code == 200, r.json
    answer: dict[str, Any] = r.get_json()
    return answer


def status(c: FlaskClient, name: str) -> str:
    return str(c.get(f"{REG}/services/agent-{name}").json["status"])


class Stream:
    """The event stream as recorded (what the HMI replays), from where a test began."""

    def __init__(self, app: Flask) -> None:
        self._events = app.extensions["pas"].events
        self._from = self._events.last_seq()

    def all(self, event_type: str | None = None) -> list[dict[str, Any]]:
        rows = [json.loads(b) for b in self._events.after(self._from, 100_000)]
        return [e for e in rows if event_type is None or e["event_type"] == event_type]


def stored_text(app: Flask) -> str:
    """Every key and value under the app's prefix (strings, hashes, sets, lists, streams)."""
    r = app.extensions["redis"]
    prefix = app.extensions["settings"].pas_key_prefix
    readers: dict[str, Callable[[str], Any]] = {
        "string": r.get, "hash": r.hgetall, "set": lambda k: sorted(r.smembers(k)),
        "zset": lambda k: r.zrange(k, 0, -1), "list": lambda k: r.lrange(k, 0, -1), "stream": r.xrange,
    }  # fmt: skip
    return "\n".join(f"{key}={readers.get(r.type(key), str)(key)}" for key in sorted(r.scan_iter(f"{prefix}:*")))


@pytest.fixture(name="c")
def fixture_c(app: Flask) -> FlaskClient:
    return app.test_client()

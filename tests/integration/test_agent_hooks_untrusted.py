"""A hook's body is untrusted: unknown fields and events are accepted and ignored, a malformed hook is a 422 that
names its field and changes nothing, a transcript path is read only under the configured root, and with a token
set the hook endpoint needs it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.factory import create_app, create_tables
from config.settings import Settings
from tests.integration.hook_inputs import (  # noqa: F401 (fixture_c: the fixture c)
    CANARY,
    HOOK,
    agent_call,
    fixture_c,
    hook,
    post,
    pre,
    send,
    sid,
    start,
    stop,
    stored_text,
)


def test_unknown_fields_and_events_are_accepted_and_ignored(app: Flask, c: FlaskClient) -> None:
    s = sid()
    future = {"effort": {"level": "high"}, "scratchpad_dir": "/tmp/x", "brand_new_field": [1, {"a": None}]}
    assert send(c, {**pre(s, "Read", "toolu_f"), **future}) == {}
    assert send(c, {**post(s, "Read", "toolu_f"), **future}) == {}
    for event in ("Notification", "UserPromptSubmit", "PreCompact", "TeammateIdle"):
        assert send(c, {**hook(s, event), "message": CANARY, "prompt": CANARY}) == {}
    nested = agent_call(s, "toolu_n", "x", "n9")
    nested["tool_response"]["usage"]["new_counter"] = 5
    assert send(c, nested) == {}
    assert CANARY not in stored_text(app)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hook_event_name": "PreToolUse", "tool_name": "Read", "tool_use_id": "t"}, "session_id"),
        ({"session_id": "s", "tool_name": "Read", "tool_use_id": "t"}, "hook_event_name"),
        ({"session_id": "s", "hook_event_name": "SubagentStart", "agent_id": "a"}, "agent_type"),
        ({"session_id": "s", "hook_event_name": "PreToolUse", "tool_name": "Read", "tool_use_id": 7}, "tool_use_id"),
        (
            {
                "session_id": "s",
                "hook_event_name": "PostToolUse",
                "tool_name": "Read",
                "tool_use_id": "t",
                "duration_ms": "fast",
            },
            "duration_ms",
        ),
        ({"session_id": "s\u202e", "hook_event_name": "Stop"}, "session_id"),
        ({"session_id": "", "hook_event_name": "Stop"}, "session_id"),
        ({"session_id": 5, "hook_event_name": "Whatever"}, "session_id"),
        (
            {
                "session_id": "s",
                "hook_event_name": "PreToolUse",
                "tool_name": "Read",
                "tool_use_id": "t",
                "tool_input": "rm -rf /",
            },
            "tool_input",
        ),
    ],
)
def test_malformed_hooks_are_422_naming_the_field_and_change_nothing(
    app: Flask, c: FlaskClient, body: dict[str, Any], field: str
) -> None:
    before = stored_text(app)
    r = c.post(HOOK, json=body)
    assert r.status_code == 422 and r.json["field"] == field, r.json
    assert stored_text(app) == before


def test_a_malformed_agent_report_is_422_before_anything_is_written(app: Flask, c: FlaskClient) -> None:
    s = sid()
    body = agent_call(s, "toolu_bad", "x", "b1")
    body["tool_response"]["usage"]["input_tokens"] = "lots"
    before = stored_text(app)
    r = c.post(HOOK, json=body)
    assert r.status_code == 422 and r.json["field"] == "tool_response.usage.input_tokens", r.json
    assert stored_text(app) == before
    for raw, code in ((b"{not json", 400), (b"[1, 2]", 422), (b'"PreToolUse"', 422)):
        r = c.post(HOOK, data=raw, content_type="application/json")
        assert r.status_code == code and r.is_json
    assert c.post(HOOK, data="a=1", content_type="application/x-www-form-urlencoded").status_code == 415


def _governed_app(make_settings: Callable[..., Settings], root: Path | None) -> Flask:
    app = create_app(make_settings(pas_transcript_root=root), serve_socketio=False)
    create_tables(app)
    return app


def _messages_after_usage(app: Flask, transcript: str, agent: str = "tlc-domain-classifier") -> list[str]:
    c, s, run = app.test_client(), sid(), f"t-{uuid.uuid4().hex[:6]}"
    send(c, start(s, run, agent))
    send(c, stop(s, run, agent, transcript=transcript))
    send(c, agent_call(s, f"toolu_{run}", agent, run))
    return app.extensions["pas"].token_governor._store.messages(agent, run)


def test_a_transcript_path_is_read_only_under_the_configured_root(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    root, outside = tmp_path / "transcripts", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    line = json.dumps({"message": {"role": "assistant", "content": f"the build key is {CANARY}"}})
    (outside / "secret.jsonl").write_text(line + "\n")
    (root / "ok.jsonl").write_text(json.dumps({"message": {"role": "assistant", "content": "chunked 40 files"}}))
    (root / "link.jsonl").symlink_to(outside / "secret.jsonl")
    hostile = [str(outside / "secret.jsonl"), str(root / ".." / "elsewhere" / "secret.jsonl"),
               str(root / "link.jsonl"), "../elsewhere/secret.jsonl", "/etc/passwd", str(root),
               str(root / "missing.jsonl"), f"{root}/ok.jsonl\x00"]  # fmt: skip
    app = _governed_app(make_settings, root)
    for path in hostile:
        assert not any(CANARY in m or "root:" in m for m in _messages_after_usage(app, path)), path
    assert any("chunked 40 files" in m for m in _messages_after_usage(app, str(root / "ok.jsonl")))
    assert any("chunked 40 files" in m for m in _messages_after_usage(app, "ok.jsonl"))  # relative to the root
    app.extensions["redis"].close()
    unset = _governed_app(make_settings, None)  # no root configured: never read, not even the good one
    assert _messages_after_usage(unset, str(root / "ok.jsonl")) == []
    unset.extensions["redis"].close()


def test_with_a_token_set_the_hook_endpoint_needs_it(make_settings: Callable[..., Settings]) -> None:
    token = "hook-canary-token-91"
    app = create_app(make_settings(pas_api_token=token), serve_socketio=False)
    c, body = app.test_client(), hook(sid(), "Stop")
    for url in (HOOK, "/api/agent-router/hooks/claude-code"):
        r = c.post(url, json=body)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
        assert c.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert c.get("http://localhost:6119/health").status_code == 200  # reads stay open
    app.extensions["redis"].close()

"""The Anthropic stand-in (tests/anthropic_standin.py) speaks the Messages API's wire shapes: SSE events in the
real order with tool input as input_json_delta, one JSON message without `stream`, the script picked by the
sub-agent header and the system-prompt marker, the turn by the history, usage as the test chose, keys redacted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.anthropic_standin import Script, Standin, ToolCall, Turn, Usage, start_standin


@pytest.fixture
def standin() -> Iterator[Standin]:
    s = start_standin()
    delegate = Turn(text="delegating", tools=[ToolCall("Agent", {"subagent_type": "x", "prompt": "p"})],
                    usage=Usage(11, 12, 13, 14))  # fmt: skip
    s.plan(
        Script("main", [delegate, Turn(text="done")]),
        Script("x", [Turn(text="sub says ok", usage=Usage(21, 22, 23, 24))], sub_agent=True, marker="MARK-X"),
    )
    yield s
    s.close()


def _post(s: Standin, body: dict[str, Any], headers: dict[str, str] | None = None) -> requests.Response:
    sent = {"x-api-key": "sk-ant-secret", "Authorization": "Bearer sk-x", **(headers or {})}
    return requests.post(f"{s.base_url}/v1/messages?beta=true", json=body, headers=sent, timeout=5)


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(lines["data"])
        assert lines["event"] == data["type"]
        out.append((lines["event"], data))
    return out


def test_stream_has_the_real_event_order_and_tool_input_as_json_deltas(standin: Standin) -> None:
    r = _post(standin, {"model": "m", "stream": True, "system": "main prompt",
                        "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = _sse(r.text)
    assert [e for e, _ in events] == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] == 11
    assert events[2][1]["content_block"] == {"type": "text", "text": ""}
    text = "".join(d["delta"]["text"] for e, d in events if d.get("delta", {}).get("type") == "text_delta")
    assert text == "delegating"
    tool = events[6][1]["content_block"]
    assert tool["type"] == "tool_use" and tool["name"] == "Agent" and tool["input"] == {}
    partial = "".join(d["delta"]["partial_json"] for e, d in events if d.get("delta", {}).get("type") ==
                      "input_json_delta")  # fmt: skip
    assert json.loads(partial) == {"subagent_type": "x", "prompt": "p"}
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {"input_tokens": 11, "output_tokens": 12, "cache_creation_input_tokens": 13,
                              "cache_read_input_tokens": 14}  # fmt: skip


def test_json_answer_turn_by_history_and_sub_agent_by_header_and_marker(standin: Standin) -> None:
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"},
               {"role": "user", "content": "again"}]  # fmt: skip
    main = _post(standin, {"model": "m", "messages": history}).json()
    assert main["type"] == "message" and main["stop_reason"] == "end_turn"
    assert main["content"] == [{"type": "text", "text": "done"}]
    sub = _post(standin, {"model": "m", "system": [{"type": "text", "text": "You are MARK-X."}], "messages": []},
                {"x-claude-code-agent-id": "a1"}).json()  # fmt: skip
    assert sub["content"][0]["text"] == "sub says ok" and sub["usage"]["cache_read_input_tokens"] == 24
    other = _post(standin, {"model": "m", "system": "no marker", "messages": []},
                  {"x-claude-code-agent-id": "a2"}).json()  # fmt: skip
    assert other["content"][0]["text"] == "ok"  # the fallback
    assert [(c.actor, c.turn, c.agent_id) for c in standin.messages_calls()] == [
        ("main", 1, None), ("x", 0, "a1"), (None, None, "a2")]  # fmt: skip
    recorded = json.dumps([c.headers for c in standin.calls])
    assert "sk-ant-secret" not in recorded and "sk-x" not in recorded and "<redacted>" in recorded


def test_offered_agents_parses_the_agent_listing(standin: Standin) -> None:
    listing = ("Available agent types for the Agent tool:\n- Explore: Read-only search. (Tools: All tools except Agent)"
               "\n- probe-reader: Reads one file. (Tools: Read, Bash)\n\nThe following skills are available:\n"
               "- deep-research: not an agent")  # fmt: skip
    _post(standin, {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"},
                                                                {"role": "system", "content": listing}]})  # fmt: skip
    assert standin.calls[-1].offered_agents == {"Explore": "Read-only search.", "probe-reader": "Reads one file."}


def test_count_tokens_and_models(standin: Standin) -> None:
    r = requests.post(f"{standin.base_url}/v1/messages/count_tokens?beta=true", json={"messages": []}, timeout=5)
    assert r.status_code == 200 and r.json()["input_tokens"] >= 1
    models = requests.get(f"{standin.base_url}/v1/models", timeout=5).json()
    assert models["data"][0]["type"] == "model"
    assert requests.get(f"{standin.base_url}/v1/nothing", timeout=5).status_code == 404

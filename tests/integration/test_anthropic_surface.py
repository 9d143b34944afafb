# mypy: disable-error-code="call-overload,arg-type,list-item,union-attr,index,misc"
"""The Anthropic Messages surface (/anthropic/v1) over real HTTP, driven by the real `anthropic` and `openai` SDKs:
pass-through to an Anthropic-protocol upstream (the body as it came, the key PAS's own), translation to an
OpenAI-protocol one and back (tools and streaming both ways), receipts per Claude Code session and sub-agent,
per-agent budgets, and errors in Anthropic's shape. The upstreams are the local vendor stand-ins."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import requests

from config.settings import Settings
from tests.integration.conftest import Live, serve_live
from tests.integration.gateway_calls import jsonl
from tests.integration.hook_payloads import payload, send
from tests.support import port_offset_with_free_ports
from tests.vendor_standins import Standin, Step, start_standin

KEY_ENV, OAI_KEY_ENV = "PAS_PROVIDER_KEY_TEST_ANTHROPIC_SURFACE", "PAS_PROVIDER_KEY_TEST_OPENAI_SURFACE"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Surface:
    def __init__(self, live: Live, anth: Standin, oai: Standin) -> None:
        self.live, self.anth, self.oai = live, anth, oai
        self.tag = uuid.uuid4().hex[:6]
        self.anth_provider, self.oai_provider = f"anth-{self.tag}", f"oai-{self.tag}"

    @property
    def base(self) -> str:
        return self.live.url(None, "/anthropic")

    def sdk(self, **headers: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key="unused-without-a-token", base_url=self.base, max_retries=0,
                                   default_headers=headers or None)  # fmt: skip

    def receipts(self, session: str) -> list[dict[str, Any]]:
        return jsonl(self.live, session)


def _register(live: Live, name: str, model: str, endpoint: str, protocol: str, key_env: str) -> None:
    body = {"name": name, "model": model, "context_window": 200_000, "cost_per_input_token": 1e-6,
            "cost_per_output_token": 2e-6, "endpoint": endpoint, "protocol": protocol, "api_key_env": key_env,
            "capabilities": ["chat"]}  # fmt: skip
    r = requests.post(live.url("provider-router", "/register"), json=body, timeout=10)
    assert r.status_code in (200, 201), r.text
    assert r.json()["provider"]["protocol"] == protocol


@pytest.fixture(scope="module")
def surface(make_settings: Callable[..., Settings], artifacts: Path) -> Iterator[Surface]:
    anth, oai = start_standin("anthropic", "sk-ant-standin-key"), start_standin("openai", "sk-oai-standin-key")
    os.environ[KEY_ENV], os.environ[OAI_KEY_ENV] = anth.key, oai.key
    settings = make_settings(
        pas_port_offset=port_offset_with_free_ports(),
        pas_upstream_allowlist=f"127.0.0.1:{anth.port},127.0.0.1:{oai.port}",
        pas_gateway_retries=0,
    )
    try:
        with serve_live(settings, artifacts, worker_concurrency=1) as live:
            s = Surface(live, anth, oai)
            _register(live, s.anth_provider, "claude-standin-1", anth.base_url, "anthropic", KEY_ENV)
            _register(live, s.oai_provider, "gpt-standin-1", oai.base_url, "openai", OAI_KEY_ENV)
            yield s
    finally:
        os.environ.pop(KEY_ENV, None)
        os.environ.pop(OAI_KEY_ENV, None)
        anth.stop_server()
        oai.stop_server()


def _session() -> str:
    return str(uuid.uuid4())


# --- pass-through -------------------------------------------------------------------------------------------


def test_a_messages_call_passes_through_to_an_anthropic_upstream_as_it_came(surface: Surface) -> None:
    """Blocks PAS does not read (cache_control, thinking, an unknown field) reach the upstream as sent; only
    `model` is the provider's; the key is PAS's, the version and beta headers the caller's."""
    surface.anth.reset(Step(text="passed through", usage=(11, 7)))
    session = _session()
    body = {
        "model": surface.anth_provider,
        "max_tokens": 64,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "c2ln"},
                    {"type": "text", "text": "Hello."},
                ],
            },
            {"role": "user", "content": "and now?"},
        ],
        "context_management": {"edits": []},
    }
    raw = json.dumps(body, indent=1).encode()  # spacing the upstream must get unchanged
    r = requests.post(surface.base + "/v1/messages", data=raw, timeout=30, headers={
        "Content-Type": "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": "context-1m-x",
        "X-Claude-Code-Session-Id": session})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["content"] == [{"type": "text", "text": "passed through"}]
    [sent] = surface.anth.requests
    assert sent["path"] == "/v1/messages" and sent["key_ok"]
    assert sent["raw"] == raw.replace(f'"{surface.anth_provider}"'.encode(), b'"claude-standin-1"')
    assert sent["headers"] == {"anthropic-version": "2023-06-01", "anthropic-beta": "context-1m-x"}
    [receipt] = surface.receipts(session)
    assert (receipt["surface"], receipt["session_id"], receipt["agent_id"]) == ("anthropic", session, None)
    assert receipt["agent"] == f"session:{session}" and receipt["provider"] == surface.anth_provider
    assert (receipt["input_tokens"], receipt["output_tokens"], receipt["tokens_exact"]) == (11, 7, True)


def test_the_sdk_streams_through_pas_with_tools(surface: Surface) -> None:
    surface.anth.reset(Step(text="streamed words come through", usage=(21, 9)),
                       Step(tool=("get_weather", {"city": "Oslo"}), usage=(30, 12)))  # fmt: skip
    session = _session()
    client = surface.sdk(**{"X-Claude-Code-Session-Id": session})
    with client.messages.stream(model=surface.anth_provider, max_tokens=64,
                                messages=[{"role": "user", "content": "hi"}]) as stream:  # fmt: skip
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "streamed words come through" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 9
    msg = client.messages.create(model=surface.anth_provider, max_tokens=64, tools=[WEATHER],
                                 messages=[{"role": "user", "content": "weather in Oslo?"}])  # fmt: skip
    assert msg.stop_reason == "tool_use"
    [block] = msg.content
    assert block.type == "tool_use" and block.input == {"city": "Oslo"}
    first, second = surface.receipts(session)
    assert (first["stream"], first["input_tokens"], first["output_tokens"], first["status"]) == (True, 21, 9, "success")
    assert (second["stream"], second["input_tokens"], second["output_tokens"]) == (False, 30, 12)


# --- translation ----------------------------------------------------------------------------------------------


def test_a_messages_call_to_an_openai_upstream_is_translated_both_ways(surface: Surface) -> None:
    surface.oai.reset(Step(text="translated", usage=(13, 5)), Step(tool=("get_weather", {"city": "Rome"})))
    session = _session()
    client = surface.sdk(**{"X-Claude-Code-Session-Id": session})
    msg = client.messages.create(model=surface.oai_provider, max_tokens=50, system="Be brief.",
                                 messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert [b.type for b in msg.content] == ["text"] and msg.content[0].text == "translated"
    assert (msg.stop_reason, msg.usage.input_tokens, msg.usage.output_tokens) == ("end_turn", 13, 5)
    sent = surface.oai.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["key_ok"]
    assert sent["body"]["model"] == "gpt-standin-1" and sent["body"]["max_tokens"] == 50
    assert sent["body"]["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    tool_msg = client.messages.create(
        model=surface.oai_provider,
        max_tokens=50,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "weather?"}],
    )
    assert tool_msg.stop_reason == "tool_use"
    [call] = [b for b in tool_msg.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "Rome"}
    assert surface.oai.requests[1]["body"]["tools"][0]["function"]["name"] == "get_weather"
    # the tool's result goes back as an OpenAI tool message
    surface.oai.reset(Step(text="sunny"))
    client.messages.create(model=surface.oai_provider, max_tokens=50, tools=[WEATHER],
                           messages=[{"role": "user", "content": "weather?"},
                                     {"role": "assistant", "content": [call.model_dump()]},
                                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                                   "content": "sunny, 24C"}]}])  # fmt: skip
    history = surface.oai.requests[0]["body"]["messages"]
    assert history[1]["tool_calls"][0]["id"] == call.id
    assert history[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"}
    receipts = surface.receipts(session)
    assert [(r["provider"], r["input_tokens"], r["output_tokens"]) for r in receipts[:1]] == [
        (surface.oai_provider, 13, 5)
    ]


def test_a_streamed_messages_call_to_an_openai_upstream_arrives_as_anthropic_events(surface: Surface) -> None:
    surface.oai.reset(Step(text="one two three", usage=(8, 3)), Step(tool=("get_weather", {"city": "Lima"})))
    client = surface.sdk()
    events: list[str] = []
    with client.messages.stream(model=surface.oai_provider, max_tokens=50,
                                messages=[{"role": "user", "content": "count"}]) as stream:  # fmt: skip
        for event in stream:
            events.append(event.type)
        final = stream.get_final_message()
    assert final.content[0].text == "one two three"
    assert (final.stop_reason, final.usage.output_tokens) == ("end_turn", 3)
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_start" in events and "message_delta" in events
    with client.messages.stream(model=surface.oai_provider, max_tokens=50, tools=[WEATHER],
                                messages=[{"role": "user", "content": "weather?"}]) as stream:  # fmt: skip
        tool_final = stream.get_final_message()
    [call] = [b for b in tool_final.content if b.type == "tool_use"]
    assert call.input == {"city": "Lima"} and tool_final.stop_reason == "tool_use"
    assert surface.oai.requests[0]["body"]["stream_options"] == {"include_usage": True}


def test_the_openai_surface_reaches_an_anthropic_upstream_through_translation(surface: Surface) -> None:
    surface.anth.reset(Step(text="from anthropic", usage=(10, 4)), Step(tool=("get_weather", {"city": "Kyiv"})),
                       Step(text="streamed back", usage=(6, 2)))  # fmt: skip
    client = openai.OpenAI(api_key="unused", base_url=surface.live.url(None, "/v1"), max_retries=0)
    reply = client.chat.completions.create(model=surface.anth_provider, max_tokens=40,
                                           messages=[{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": "hi"}])  # fmt: skip
    assert reply.choices[0].message.content == "from anthropic" and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 4)
    sent = surface.anth.requests[0]
    assert sent["body"]["system"] == "Be brief." and sent["body"]["model"] == "claude-standin-1"
    assert sent["headers"]["anthropic-version"] == "2023-06-01" and sent["key_ok"]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["input_schema"]}}]
    tooled = client.chat.completions.create(model=surface.anth_provider, max_tokens=40, tools=tools,
                                            messages=[{"role": "user", "content": "weather?"}])  # fmt: skip
    [call] = tooled.choices[0].message.tool_calls or []
    assert tooled.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Kyiv"}
    chunks = list(client.chat.completions.create(model=surface.anth_provider, max_tokens=40, stream=True,
                                                 messages=[{"role": "user", "content": "hi"}]))  # fmt: skip
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "streamed back"
    assert [c.usage.completion_tokens for c in chunks if c.usage] == [2]


# --- attribution and budgets ------------------------------------------------------------------------------------


def test_a_sub_agents_calls_are_its_own_and_its_spent_budget_stops_it_alone(surface: Surface) -> None:
    """The sub-agent's id maps to its catalogue agent through SubagentStart; once its budget is spent, its next call
    is a 429 in Anthropic's shape that the SDK does not retry, while the session's main agent goes on."""
    session, run = _session(), f"a{uuid.uuid4().hex[:16]}"
    send(surface.live.url(None, ""), payload("SubagentStart", session, run=(run, "corpus-auditor")))
    agent = "corpus-auditor"
    r = requests.post(surface.live.url("gateway", "/budget"), params={"agent": agent, "budget_usd": 0.00003},
                      timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    surface.anth.reset(default=Step(text="ok", usage=(11, 7)))
    sub = surface.sdk(**{"X-Claude-Code-Session-Id": session, "x-claude-code-agent-id": run})
    ask = {"model": surface.anth_provider, "max_tokens": 5, "messages": [{"role": "user", "content": "go"}]}
    sub.messages.create(**ask)
    with pytest.raises(anthropic.RateLimitError) as refused:
        sub.messages.create(**ask)
    err = refused.value
    assert err.status_code == 429 and err.body["type"] == "error"
    assert err.body["error"]["type"] == "rate_limit_error" and "Budget exceeded" in err.body["error"]["message"]
    assert err.response.headers["x-should-retry"] == "false"
    main = surface.sdk(**{"X-Claude-Code-Session-Id": session})
    assert main.messages.create(**ask).content[0].text == "ok"
    receipts = surface.receipts(session)
    assert [(x["agent"], x["agent_id"], x["status"]) for x in receipts] == [
        (agent, run, "success"), (agent, run, "error"), (f"session:{session}", None, "success"),
    ]  # fmt: skip
    assert len(surface.anth.requests) == 2  # the refused call never reached the upstream
    # the token governor took the sub-agent's exact context (input + cache tokens) from its receipt
    status = requests.get(surface.live.url(None, "/api/token-governor/status"), params={"agent": agent, "run_id": run},
                          timeout=10).json()["agents"]  # fmt: skip
    assert [(a["ctx_used"], a["ctx_limit"]) for a in status] == [(11, 200_000)]


# --- the rest of the surface ---------------------------------------------------------------------------------------


def test_aliases_models_and_count_tokens(surface: Surface) -> None:
    client = surface.sdk()
    ids = [m.id for m in client.models.list()]
    assert {"opus", "sonnet", "haiku", surface.anth_provider, "claude-standin-1"} <= set(ids)
    counted = client.messages.count_tokens(model="claude-sonnet-4-5", messages=[{"role": "user", "content": "x" * 400}])
    assert 100 <= counted.input_tokens <= 120
    # an alias with no provider behind it (the shipped table names `anthropic`, not registered here) is a clean 4xx
    with pytest.raises(anthropic.APIStatusError) as failed:
        client.messages.create(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code in (404, 503) and failed.value.body["type"] == "error"


@pytest.mark.parametrize(
    ("raw", "status", "names"),
    [
        (b'{"model": "x", "max_tokens": 5, "messages": [', 400, "JSON"),
        (b'{"model": "x", "messages": [{"role": "user", "content": "hi"}]}', 422, "max_tokens"),
        (b'{"model": "x", "max_tokens": "5", "messages": [{"role": "user", "content": "hi"}]}', 422, "max_tokens"),
        (b'{"model": "x", "max_tokens": 5, "messages": [{"role": "robot", "content": "hi"}]}', 422, "role"),
        (
            b'{"model": "x", "max_tokens": 9007199254740993, "messages": [{"role": "user", "content": "hi"}]}',
            422,
            "max_tokens",
        ),
        (
            b'{"model": "nothing-routes-here", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}',
            404,
            "model",
        ),
    ],
)
def test_bad_input_is_an_anthropic_error_naming_the_field(surface: Surface, raw: bytes, status: int,
                                                          names: str) -> None:  # fmt: skip
    r = requests.post(surface.base + "/v1/messages", data=raw, headers={"Content-Type": "application/json"},
                      timeout=10)  # fmt: skip
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] in ("invalid_request_error", "not_found_error")
    assert names.lower() in body["error"]["message"].lower()


def test_a_bad_session_header_is_refused_naming_it(surface: Surface) -> None:
    r = requests.post(surface.base + "/v1/messages", json={"model": surface.anth_provider, "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]},
                      headers={"X-Claude-Code-Session-Id": "a b"}, timeout=10)  # fmt: skip
    assert r.status_code == 422 and "X-Claude-Code-Session-Id" in r.json()["error"]["message"]


def test_the_token_is_accepted_as_x_api_key(make_settings: Callable[..., Settings]) -> None:
    from app.factory import create_app

    app = create_app(make_settings(pas_api_token="tok-anthropic-surface"), serve_socketio=False)
    client = app.test_client()
    body = {"model": "nothing", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    denied = client.post("/anthropic/v1/messages", json=body)
    assert denied.status_code == 401 and denied.json["error"]["type"] == "authentication_error"
    assert client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": "wrong"}).status_code == 401
    assert (
        client.post("/anthropic/v1/messages", json=body, headers={"x-api-key": "tok-anthropic-surface"}).status_code
        == 404
    )
    assert client.post("/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "h"}]},
                       headers={"x-api-key": "tok-anthropic-surface"}).status_code == 401  # fmt: skip

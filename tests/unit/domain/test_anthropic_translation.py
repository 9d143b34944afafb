"""Anthropic Messages ⇄ OpenAI Chat Completions as pure functions: requests, answers and streams, on fixtures shaped
as the two APIs send them, read back by the vendors' own SDKs (their HTTP faked by a mock transport: no network)."""

from __future__ import annotations

import json
import random
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import message_create_params
from openai.types.chat import completion_create_params

from app.domain.gateway.anthropic_streams import AnthropicSseTally, AnthropicStreamFromOpenAI, OpenAIStreamFromAnthropic
from app.domain.gateway.anthropic_translation import (
    anthropic_message,
    anthropic_request,
    anthropic_usage,
    openai_completion,
    openai_request,
)

# ---- recorded shapes: Anthropic ------------------------------------------------------------------------------------

WEATHER_SCHEMA = {"type": "object", "properties": {"location": {"type": "string"},
                  "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location"]}  # fmt: skip

ANTHROPIC_REQUEST: dict[str, Any] = {  # as Claude Code sends one, every block kind in it
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 32000,
    "system": [
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
        {"type": "text", "text": "Work in /repo.", "cache_control": {"type": "ephemeral"}},
    ],
    "messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "<system-reminder>Be brief.</system-reminder>"},
            {"type": "text", "text": "What is the weather in Paris?", "cache_control": {"type": "ephemeral"}},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should call the tool.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
             "input": {"location": "Paris, FR", "unit": "celsius"}},
            {"type": "server_tool_use", "id": "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE", "name": "web_search",
             "input": {"query": "paris weather"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE", "content": [
                {"type": "web_search_result", "title": "Paris", "url": "https://meteo.example/paris",
                 "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1", "page_age": "April 30, 2025"}]},
            {"type": "tool_use", "id": "toolu_01B", "name": "screenshot", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees, sunny"},
            {"type": "tool_result", "tool_use_id": "toolu_01B", "is_error": True, "content": [
                {"type": "text", "text": "display not found"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            ]},
            {"type": "text", "text": "And a picture?"},
        ]},
        {"role": "assistant", "content": "Here is what I found."},
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
            {"type": "image", "source": {"type": "url", "url": "https://upload.wikimedia.org/cat.jpg"}},
            {"type": "document", "title": "notes",
             "source": {"type": "text", "media_type": "text/plain", "data": "Bring an umbrella."}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
            {"type": "text", "text": "Compare them."},
        ]},
    ],
    "tools": [
        {"name": "get_weather", "description": "Get the current weather", "input_schema": WEATHER_SCHEMA,
         "cache_control": {"type": "ephemeral"}},
        {"type": "custom", "name": "screenshot", "input_schema": {"type": "object", "properties": {}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "bash_20250124", "name": "bash"},
    ],
    "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    "metadata": {"user_id": "user_2f6c_account__session_9a1b"},
    "stop_sequences": ["\n\nHuman:"],
    "temperature": 0.7,
    "top_p": 0.9,
    "top_k": 40,
    "thinking": {"type": "enabled", "budget_tokens": 10000},
    "stream": True,
}  # fmt: skip

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "Need the weather.", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3h"},
        {"type": "text", "text": "I'll check "},
        {"type": "text", "text": "the weather.", "citations": None},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
         "input": {"location": "San Francisco, CA"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 2095, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1500,
              "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
              "output_tokens": 503, "service_tier": "standard"},
}  # fmt: skip

ANTHROPIC_SSE = (  # thinking, text and a tool call, as the Messages API streams them
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_01Vb2Ykt7hSpWL3B9pLwC2Dn","type":"message",'
    b'"role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":472,"cache_creation_input_tokens":1024,"cache_read_input_tokens":2048,'
    b'"cache_creation":{"ephemeral_5m_input_tokens":1024,"ephemeral_1h_input_tokens":0},"output_tokens":2,'
    b'"service_tier":"standard"}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}'
    b"\n\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Weather, so a tool."}}'
    b"\n\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta",'
    b'"signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Okay, let\'s check"}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":" the weather \xc3\xa0 SF."}}'
    b"\n\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":1}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use",'
    b'"id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta",'
    b'"partial_json":"{\\"location\\":"}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta",'
    b'"partial_json":" \\"San Francisco, CA\\"}"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":2}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
    b'"usage":{"output_tokens":89}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)

ANTHROPIC_SERVER_TOOL_SSE = (  # web search: a server tool's blocks and a citation, none of which OpenAI has
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_01Srv","type":"message","role":"assistant",'
    b'"model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":2679,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":3}}}'
    b"\n\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use",'
    b'"id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","name":"web_search","input":{}}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta",'
    b'"partial_json":"{\\"query\\": \\"weather NYC\\"}"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"web_search_tool_result",'
    b'"tool_use_id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","content":[{"type":"web_search_result",'
    b'"title":"NYC weather","url":"https://weather.example/nyc","encrypted_content":"Ev0DCioIAxgCIiQ3",'
    b'"page_age":null}]}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":1}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"citations_delta","citation":'
    b'{"type":"web_search_result_location","cited_text":"Sunny","url":"https://weather.example/nyc",'
    b'"title":"NYC weather","encrypted_index":"Eo8BCioIAhgB"}}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"It is sunny."}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":2}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":'
    b'{"input_tokens":2679,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":510,'
    b'"server_tool_use":{"web_search_requests":1}}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)

ANTHROPIC_OVERLOADED_SSE = (
    ANTHROPIC_SSE.split(b"event: content_block_start")[0]
    + b"event: error\n"
    + b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011C"}\n\n'
)

# ---- recorded shapes: OpenAI ---------------------------------------------------------------------------------------

OPENAI_REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "You are terse."},
        {"role": "system", "content": [{"type": "text", "text": "Answer in English."}]},
        {"role": "user", "content": [
            {"type": "text", "text": "What's in this image, and the weather?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQ="}},
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        ]},
        {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
            {"id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "content": "15C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "14:00"}]},
        {"role": "user", "content": "Thanks. Summarise."},
        {"role": "assistant", "content": "Sunny, 15C, 14:00."},
        {"role": "user", "content": "One more time."},
    ],
    "tools": [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA,
                                          "strict": True}},
        {"type": "function", "function": {"name": "get_time"}},
    ],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "parallel_tool_calls": False,
    "max_completion_tokens": 1024,
    "stop": "END",
    "temperature": 1.5,
    "top_p": 0.8,
    "n": 1,
    "presence_penalty": 0.1,
    "seed": 7,
    "user": "u-42",
    "response_format": {"type": "text"},
    "stream": True,
    "stream_options": {"include_usage": True},
}  # fmt: skip

OPENAI_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-BPxG9nL3kRk6TzPfmZ0yQ2wH1aJcE",
    "object": "chat.completion",
    "created": 1745000000,
    "model": "gpt-4o-2024-08-06",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Let me check that.", "refusal": None, "annotations": [],
                    "tool_calls": [{"id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
                                    "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}}]},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 48, "total_tokens": 1248,
              "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
              "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                            "rejected_prediction_tokens": 0}},
    "service_tier": "default",
    "system_fingerprint": "fp_f5bdcc3276",
}  # fmt: skip

_HEAD = (b'data: {"id":"chatcmpl-BPxG9nL3kRk6TzPfmZ0yQ2wH1aJcE","object":"chat.completion.chunk",'
         b'"created":1745000000,"model":"gpt-4o-2024-08-06","service_tier":"default",'
         b'"system_fingerprint":"fp_f5bdcc3276","choices":')  # fmt: skip
OPENAI_SSE = (  # text, two tool calls, then (include_usage) the usage chunk after the finish
    _HEAD + b'[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,'
    b'"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"content":"Let me check"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"content":" that \xe2\x80\x94 ok."},"logprobs":null,"finish_reason":null}],'
    b'"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function",'
    b'"function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"location\\""}}]},'
    b'"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\\"Paris\\"}"}}]},'
    b'"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function",'
    b'"function":{"name":"get_time","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\\"tz\\":\\"CET\\"}"}}]},'
    b'"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    + _HEAD + b'[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}\n\n'
    + _HEAD + b'[],"usage":{"prompt_tokens":1200,"completion_tokens":48,"total_tokens":1248,'
    b'"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":'
    b'{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n'
    b"data: [DONE]\n\n"
)  # fmt: skip
OPENAI_TEXT = "Let me check that \u2014 ok."
OPENAI_ARGS = ['{"location"', ':"Paris"}', '{"tz":"CET"}']
OPENAI_ERROR_CHUNK = (b'data: {"error":{"message":"The server had an error while processing your request.",'
                      b'"type":"server_error","param":null,"code":null}}\n\n')  # fmt: skip


# ---- helpers -------------------------------------------------------------------------------------------------------


def anthropic_events(raw: bytes) -> list[dict[str, Any]]:
    """Our Anthropic SSE, checked to be exactly `event: T\\ndata: {"type":"T",…}\\n\\n` per event."""
    assert raw.endswith(b"\n\n") or not raw
    events = []
    for frame in raw.decode().split("\n\n")[:-1]:
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        events.append(event)
    return events


def openai_chunks(raw: bytes) -> list[Any]:
    """Our OpenAI SSE: `data: {…}\\n\\n` frames, "[DONE]" as the string."""
    frames = raw.decode().split("\n\n")
    assert frames[-1] == ""
    return [
        f.removeprefix("data: ") if f == "data: [DONE]" else json.loads(f.removeprefix("data: ")) for f in frames[:-1]
    ]


def pieces(raw: bytes, seed: int) -> list[bytes]:
    rnd, out, i = random.Random(seed), [], 0
    while i < len(raw):
        n = rnd.choice([1, 2, 3, 7, 50, 400])
        out.append(raw[i : i + n])
        i += n
    return out


def run(stream: Any, chunks: list[bytes]) -> bytes:
    return b"".join(stream.feed(c) for c in chunks) + stream.close()


def transport(body: bytes, *, sse: bool, seen: list[dict[str, Any]] | None = None) -> httpx2.Client:
    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(json.loads(request.content))
        kind = "text/event-stream" if sse else "application/json"
        return httpx2.Response(200, headers={"content-type": kind}, content=body)

    return httpx2.Client(transport=httpx2.MockTransport(handle))


def anthropic_sdk(body: bytes, *, sse: bool, seen: list[dict[str, Any]] | None = None) -> anthropic.Anthropic:
    client = transport(body, sse=sse, seen=seen)
    return anthropic.Anthropic(
        api_key="sk-ant-test", base_url="http://upstream.test", max_retries=0, http_client=client
    )


def openai_sdk(body: bytes, *, sse: bool, seen: list[dict[str, Any]] | None = None) -> openai.OpenAI:
    client = transport(body, sse=sse, seen=seen)
    return openai.OpenAI(api_key="sk-test", base_url="http://upstream.test/v1", max_retries=0, http_client=client)


HI: list[Any] = [{"role": "user", "content": "hi"}]


# ---- Anthropic → OpenAI: the request -------------------------------------------------------------------------------


def test_an_anthropic_request_becomes_an_openai_payload() -> None:
    assert openai_request(ANTHROPIC_REQUEST) == {
        "model": "claude-sonnet-4-5-20250929",
        "messages": [
            {"role": "system",
             "content": "You are Claude Code, Anthropic's official CLI for Claude.\n\nWork in /repo."},
            {"role": "user",
             "content": "<system-reminder>Be brief.</system-reminder>\n\nWhat is the weather in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [  # thinking and the server tool dropped
                {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"location":"Paris, FR","unit":"celsius"}'}},
                {"id": "toolu_01B", "type": "function", "function": {"name": "screenshot", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "toolu_01A09q90qw90lq917835lq9", "content": "15 degrees, sunny"},
            {"role": "tool", "tool_call_id": "toolu_01B", "content": "Error: display not found"},
            {"role": "user", "content": [  # the tool result's image, then the user's text
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                {"type": "text", "text": "And a picture?"},
            ]},
            {"role": "assistant", "content": "Here is what I found."},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
                {"type": "image_url", "image_url": {"url": "https://upload.wikimedia.org/cat.jpg"}},
                {"type": "text", "text": "Bring an umbrella."},  # the text document; the PDF is dropped
                {"type": "text", "text": "Compare them."},
            ]},
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather",
                                              "parameters": WEATHER_SCHEMA}},
            {"type": "function",
             "function": {"name": "screenshot", "parameters": {"type": "object", "properties": {}}}},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "max_tokens": 32000,
        "stop": ["\n\nHuman:"],
        "temperature": 0.7,
        "top_p": 0.9,
        "user": "user_2f6c_account__session_9a1b",
        "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip


def test_the_translated_payload_is_one_the_openai_sdk_sends() -> None:
    payload = openai_request(ANTHROPIC_REQUEST)
    pydantic.TypeAdapter(completion_create_params.CompletionCreateParamsStreaming).validate_python(payload)
    seen: list[dict[str, Any]] = []
    for _ in openai_sdk(OPENAI_SSE, sse=True, seen=seen).chat.completions.create(**payload):
        pass
    assert seen == [payload]  # every key a parameter of create(), sent as it was


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        ({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
         {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": False}),
        (None, {}),
    ],
)  # fmt: skip
def test_tool_choice(choice: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    req = {"model": "m", "max_tokens": 10, "messages": HI, "tools": ANTHROPIC_REQUEST["tools"]}
    out = openai_request(req if choice is None else {**req, "tool_choice": choice})
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == expected


def test_a_plain_request_and_one_with_only_server_tools() -> None:
    req = {"model": "m", "max_tokens": 10, "system": "Be kind.", "messages": HI, "metadata": {"foo": "bar"},
           "tools": [{"type": "web_search_20250305", "name": "web_search"}],
           "tool_choice": {"type": "any"}}  # fmt: skip
    assert openai_request(req) == {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}],
    }  # no tools left, so no tool_choice; no stream, so no stream_options
    texts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    results_only = [{"type": "tool_result", "tool_use_id": "t1", "content": texts}]
    assert openai_request({"messages": [{"role": "user", "content": results_only}]})["messages"] == [
        {"role": "tool", "tool_call_id": "t1", "content": "a\nb"}
    ]  # no empty user message after the tool messages


# ---- OpenAI → Anthropic: the answer --------------------------------------------------------------------------------


def test_an_openai_completion_becomes_an_anthropic_message() -> None:
    assert anthropic_message(OPENAI_COMPLETION, "claude-sonnet-4-5") == {
        "id": "msg_BPxG9nL3kRk6TzPfmZ0yQ2wH1aJcE",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "Let me check that."},
            {"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather",
             "input": {"location": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 176, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1024,
                  "output_tokens": 48},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
     ("content_filter", "refusal"), (None, "end_turn"), ("weird", "end_turn")],
)  # fmt: skip
def test_finish_reasons(finish: str | None, stop: str) -> None:
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": finish}]}
    assert anthropic_message(body, "m")["stop_reason"] == stop


def test_odd_completions() -> None:
    msg = anthropic_message({"choices": [{"message": {"content": None}}]}, "m")
    assert msg["content"] == [{"type": "text", "text": ""}]
    assert msg["id"].startswith("msg_") and len(msg["id"]) == 36  # a uuid when the completion has no id
    assert msg["usage"] == {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                            "output_tokens": 0}  # fmt: skip
    calls = [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{not json"}},
             {"type": "function", "function": {"name": "b", "arguments": "[1, 2]"}},
             {"id": "c3", "type": "function", "function": {"name": "c", "arguments": ""}}]  # fmt: skip
    body = {"choices": [{"message": {"content": "", "tool_calls": calls}, "finish_reason": "stop"}]}
    msg = anthropic_message(body, "m")
    assert [b["input"] for b in msg["content"]] == [{"arguments": "{not json"}, {"arguments": "[1, 2]"}, {}]
    assert msg["content"][1]["id"].startswith("toolu_")
    assert msg["stop_reason"] == "tool_use"  # "stop" after tool calls (llama.cpp, Ollama) still means tool use
    legacy = {"choices": [{"message": {"function_call": {"name": "f", "arguments": '{"a":1}'}}}]}
    assert anthropic_message(legacy, "m")["content"][0] | {"id": ""} == {
        "type": "tool_use", "id": "", "name": "f", "input": {"a": 1}}  # fmt: skip


def test_anthropic_usage() -> None:
    assert anthropic_usage(ANTHROPIC_MESSAGE) == (2095, 503, 1500, 100)
    u = {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": None}
    assert anthropic_usage({"usage": u}) == (3, 4, 0, 0)
    assert anthropic_usage({}) is None
    assert anthropic_usage({"usage": {"input_tokens": 3}}) is None
    assert anthropic_usage({"usage": "lots"}) is None


def test_the_sdks_read_the_translated_messages() -> None:
    body = anthropic_message(OPENAI_COMPLETION, "claude-sonnet-4-5")
    anthropic.types.Message.model_validate(body)  # strict: every required field, every type
    msg = anthropic_sdk(json.dumps(body).encode(), sse=False).messages.create(
        model="claude-sonnet-4-5", max_tokens=10, messages=HI
    )
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    assert msg.content[1].input == {"location": "Paris"}
    assert msg.usage.cache_read_input_tokens == 1024
    completion = openai_completion(ANTHROPIC_MESSAGE, "gpt-4o")
    openai.types.chat.ChatCompletion.model_validate(completion)
    got = openai_sdk(json.dumps(completion).encode(), sse=False).chat.completions.create(model="gpt-4o", messages=HI)
    assert got.choices[0].message.tool_calls[0].function.arguments == '{"location":"San Francisco, CA"}'
    assert got.usage.prompt_tokens_details.cached_tokens == 1500


# ---- OpenAI → Anthropic: the request -------------------------------------------------------------------------------


def test_an_openai_payload_becomes_an_anthropic_request() -> None:
    assert anthropic_request(OPENAI_REQUEST) == {
        "model": "gpt-4o",
        "max_tokens": 1024,
        "system": "You are terse.\n\nAnswer in English.",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What's in this image, and the weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "document",
                 "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQ="}},
            ]},  # the audio dropped
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather",
                 "input": {"location": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {"tz": "CET"}},
            ]},
            {"role": "user", "content": [  # both results and the next user text: one turn
                {"type": "tool_result", "tool_use_id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "content": "15C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "14:00"},
                {"type": "text", "text": "Thanks. Summarise."},
            ]},
            {"role": "assistant", "content": "Sunny, 15C, 14:00."},
            {"role": "user", "content": "One more time."},
        ],
        "tools": [
            {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA},
            {"name": "get_time", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],  # temperature and top_p dropped: current models reject them
        "metadata": {"user_id": "u-42"},
        "stream": True,
    }  # fmt: skip


def test_the_translated_request_is_one_the_anthropic_sdk_sends() -> None:
    req = anthropic_request(OPENAI_REQUEST)
    pydantic.TypeAdapter(message_create_params.MessageCreateParamsStreaming).validate_python(req)
    seen: list[dict[str, Any]] = []
    params = {k: v for k, v in req.items() if k != "stream"}  # stream() sends it
    with anthropic_sdk(ANTHROPIC_SSE, sse=True, seen=seen).messages.stream(**params) as stream:
        stream.get_final_message()
    assert seen == [req]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ({}, None),
    ],
)
def test_openai_tool_choice(extra: dict[str, Any], expected: dict[str, Any] | None) -> None:
    out = anthropic_request({"model": "m", "messages": HI, "tools": OPENAI_REQUEST["tools"], **extra})
    assert out.get("tool_choice") == expected
    assert out["max_tokens"] == 4096 and out["messages"] == HI


def test_a_conversation_goes_there_and_back() -> None:
    conversation: dict[str, Any] = {
        "model": "m",
        "max_tokens": 100,
        "system": "Be kind.",
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Looking."},
                                              {"type": "tool_use", "id": "t1", "name": "w", "input": {"q": "x"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"},
                                         {"type": "text", "text": "And?"}]},
            {"role": "assistant", "content": "Sunny."},
        ],
        "tools": [{"name": "w", "description": "weather", "input_schema": WEATHER_SCHEMA}],
        "tool_choice": {"type": "any"},
        "stop_sequences": ["X"],
    }  # fmt: skip
    assert anthropic_request(openai_request(conversation)) == conversation
    completion = openai_completion(ANTHROPIC_MESSAGE, "m")
    back = anthropic_message(completion, "claude")
    assert back["content"] == [{"type": "text", "text": "I'll check the weather."}, ANTHROPIC_MESSAGE["content"][3]]
    assert anthropic_usage(back) == (2095 + 100, 503, 1500, 0)  # OpenAI has no count of cache writes


# ---- Anthropic → OpenAI: the answer --------------------------------------------------------------------------------


def test_an_anthropic_message_becomes_an_openai_completion() -> None:
    completion = openai_completion(ANTHROPIC_MESSAGE, "gpt-4o")
    assert isinstance(completion.pop("created"), int)
    assert completion == {
        "id": "chatcmpl-msg_01Aq9w938a90dw8q",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "I'll check the weather.", "refusal": None, "tool_calls": [
                {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"location":"San Francisco, CA"}'}}]},
            "logprobs": None,
            "finish_reason": "tool_calls",
        }],
        "usage": {"prompt_tokens": 3695, "completion_tokens": 503, "total_tokens": 4198,
                  "prompt_tokens_details": {"cached_tokens": 1500}},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("stop", "finish"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"), ("max_tokens", "length"),
     ("tool_use", "tool_calls"), ("refusal", "content_filter"), (None, "stop")],
)  # fmt: skip
def test_stop_reasons(stop: str | None, finish: str) -> None:
    body = {"id": "msg_1", "content": [{"type": "text", "text": "x"}], "stop_reason": stop}
    assert openai_completion(body, "m")["choices"][0]["finish_reason"] == finish


def test_a_message_of_only_tool_calls_has_null_content() -> None:
    body = {"id": "msg_1", "content": [ANTHROPIC_MESSAGE["content"][0], ANTHROPIC_MESSAGE["content"][3]]}
    message = openai_completion(body, "m")["choices"][0]["message"]
    assert message["content"] is None and len(message["tool_calls"]) == 1
    assert openai_completion({"content": []}, "m")["choices"][0]["message"]["content"] == ""


# ---- OpenAI SSE → Anthropic SSE ------------------------------------------------------------------------------------


def test_an_openai_stream_becomes_anthropic_events() -> None:
    s = AnthropicStreamFromOpenAI("claude-sonnet-4-5", input_tokens_estimate=1180)
    events = anthropic_events(run(s, [OPENAI_SSE]))
    tool = {"type": "tool_use", "input": {}}

    def json_delta(partial: str) -> dict[str, str]:
        return {"type": "input_json_delta", "partial_json": partial}

    assert events == [
        {"type": "message_start", "message": {
            "id": "msg_BPxG9nL3kRk6TzPfmZ0yQ2wH1aJcE", "type": "message", "role": "assistant", "content": [],
            "model": "claude-sonnet-4-5", "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 1180, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                      "output_tokens": 1}}},
        {"type": "ping"},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me check"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " that \u2014 ok."}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1,
         "content_block": tool | {"id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather"}},
        {"type": "content_block_delta", "index": 1, "delta": json_delta(OPENAI_ARGS[0])},
        {"type": "content_block_delta", "index": 1, "delta": json_delta(OPENAI_ARGS[1])},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": tool | {"id": "call_2", "name": "get_time"}},
        {"type": "content_block_delta", "index": 2, "delta": json_delta(OPENAI_ARGS[2])},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"input_tokens": 176, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1024,
                   "output_tokens": 48}},
        {"type": "message_stop"},
    ]  # fmt: skip
    assert s.done and s.usage == (176, 48, 1024, 0)
    assert s.chars == len(OPENAI_TEXT) + sum(map(len, OPENAI_ARGS))


def test_any_cut_any_line_end_and_comments_give_the_same_events() -> None:
    whole = run(AnthropicStreamFromOpenAI("m"), [OPENAI_SSE])
    crlf = b": keepalive\r\n\r\n" + OPENAI_SSE.replace(b"\n", b"\r\n").replace(
        b"\r\n\r\ndata", b"\r\n\r\n: ping\r\ndata"
    )
    for seed in range(20):
        assert run(AnthropicStreamFromOpenAI("m"), pieces(OPENAI_SSE, seed)) == whole
        assert run(AnthropicStreamFromOpenAI("m"), pieces(crlf, seed)) == whole
        assert run(AnthropicStreamFromOpenAI("m"), pieces(OPENAI_SSE.replace(b"\n", b"\r"), seed)) == whole
    assert run(AnthropicStreamFromOpenAI("m"), [bytes([b]) for b in OPENAI_SSE]) == whole


def test_the_end_waits_for_the_usage_chunk() -> None:
    frames = [f + b"\n\n" for f in OPENAI_SSE.split(b"\n\n")[:-1]]
    s = AnthropicStreamFromOpenAI("m")
    before = b"".join(s.feed(f) for f in frames[:-2])  # up to the finish_reason chunk
    assert [e["type"] for e in anthropic_events(before)][-1] == "content_block_stop"
    assert s.usage is None and not s.done
    after = anthropic_events(s.feed(frames[-2]))  # the usage chunk
    assert [e["type"] for e in after] == ["message_delta", "message_stop"]
    assert after[0]["usage"]["output_tokens"] == 48
    assert s.feed(frames[-1]) == b"" and s.done and s.close() == b""


def test_without_usage_the_end_comes_at_done_with_estimates() -> None:
    frames = [f + b"\n\n" for f in OPENAI_SSE.split(b"\n\n")[:-1]]
    s = AnthropicStreamFromOpenAI("m", input_tokens_estimate=900)
    out = anthropic_events(b"".join(s.feed(f) for f in frames[:-2] + frames[-1:]) + s.close())
    chars = len(OPENAI_TEXT) + sum(map(len, OPENAI_ARGS))
    assert out[-2]["usage"] == {"input_tokens": 900, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                                "output_tokens": -(-chars // 4)}  # fmt: skip
    assert s.usage is None and s.done and s.chars == chars


def test_close_ends_a_finished_stream_only() -> None:
    frames = [f + b"\n\n" for f in OPENAI_SSE.split(b"\n\n")[:-1]]
    s = AnthropicStreamFromOpenAI("m")
    b"".join(s.feed(f) for f in frames[:-2])  # finish_reason seen, then EOF: no usage, no [DONE]
    assert [e["type"] for e in anthropic_events(s.close())] == ["message_delta", "message_stop"]
    assert not s.done and s.close() == b""  # not a proper end (the relay calls it broken); nothing sent twice
    s = AnthropicStreamFromOpenAI("m")
    s.feed(b"".join(frames[:3]))  # cut off mid-answer
    assert s.close() == b"" and not s.done
    s = AnthropicStreamFromOpenAI("m")
    s.feed(frames[0] + frames[-3] + frames[-2][:-2])  # the usage chunk without its blank line: read at close
    assert [e["type"] for e in anthropic_events(s.close())] == ["message_delta", "message_stop"]
    assert s.usage == (176, 48, 1024, 0)


def test_done_alone_is_an_empty_message() -> None:
    s = AnthropicStreamFromOpenAI("m", 5)
    events = anthropic_events(s.feed(b"data: [DONE]\n\n"))
    assert [e["type"] for e in events] == ["message_start", "ping", "message_delta", "message_stop"]
    assert events[2]["delta"]["stop_reason"] == "end_turn" and s.done


def test_an_openai_error_chunk_becomes_an_error_event() -> None:
    frames = [f + b"\n\n" for f in OPENAI_SSE.split(b"\n\n")[:-1]]
    s = AnthropicStreamFromOpenAI("m")
    head = s.feed(b"".join(frames[:2]))
    error = s.feed(OPENAI_ERROR_CHUNK)
    message = "The server had an error while processing your request."
    assert anthropic_events(error) == [{"type": "error", "error": {"type": "api_error", "message": message}}]
    assert s.error == "api_error"
    assert s.feed(b"".join(frames[2:])) == b"" and s.close() == b""  # nothing after an error
    with pytest.raises(anthropic.APIStatusError, match="server had an error"):
        for _ in anthropic_sdk(head + error, sse=True).messages.create(
            model="m", max_tokens=1, messages=HI, stream=True
        ):
            pass
    assert anthropic_events(AnthropicStreamFromOpenAI("m").feed(b'data: {"error":"rate limited"}\n\n')) == [
        {"type": "error", "error": {"type": "api_error", "message": "rate limited"}}
    ]
    vllm = b'data: {"object":"error","message":"max_tokens is too large","type":"BadRequestError","code":400}\n\n'
    assert (
        anthropic_events(AnthropicStreamFromOpenAI("m").feed(vllm))[0]["error"]["message"] == "max_tokens is too large"
    )


def test_tool_calls_without_an_index_and_interleaved() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return (
            b"data: "
            + json.dumps({"id": "x", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}).encode()
            + b"\n\n"
        )

    gemini = [  # Gemini's compatibility layer: whole calls, no index
        chunk({"role": "assistant", "tool_calls": [{"id": "a", "type": "function",
                                                    "function": {"name": "f", "arguments": '{"x":1}'}}]}),
        chunk({"tool_calls": [{"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}),
        chunk({}, "stop"),
    ]  # fmt: skip
    events = anthropic_events(run(AnthropicStreamFromOpenAI("m"), [*gemini, b"data: [DONE]\n\n"]))
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [(b["id"], b["name"]) for b in starts] == [("a", "f"), ("b", "g")]
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    interleaved = [
        chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"y":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "2}"}}]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    ]
    raw = run(AnthropicStreamFromOpenAI("m"), interleaved)
    deltas = [
        (e["index"], e["delta"]["partial_json"]) for e in anthropic_events(raw) if e["type"] == "content_block_delta"
    ]
    assert deltas == [(0, '{"x":'), (1, '{"y":'), (0, "1}"), (1, "2}")]  # each piece to its own block
    with anthropic_sdk(raw, sse=True).messages.stream(model="m", max_tokens=1, messages=HI) as stream:
        assert [b.input for b in stream.get_final_message().content] == [{"x": 1}, {"y": 2}]


def test_the_anthropic_sdk_reads_the_translated_stream() -> None:
    raw = run(AnthropicStreamFromOpenAI("claude-sonnet-4-5", 1180), pieces(OPENAI_SSE, 1))
    with anthropic_sdk(raw, sse=True).messages.stream(model="claude-sonnet-4-5", max_tokens=1, messages=HI) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == OPENAI_TEXT
    assert [(b.type, getattr(b, "input", None)) for b in final.content] == [
        ("text", None), ("tool_use", {"location": "Paris"}), ("tool_use", {"tz": "CET"})]  # fmt: skip
    assert final.id == "msg_BPxG9nL3kRk6TzPfmZ0yQ2wH1aJcE" and final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (176, 48, 1024)
    events = anthropic_sdk(raw, sse=True).messages.create(model="m", max_tokens=1, messages=HI, stream=True)
    assert [type(e).__name__ for e in events][:2] == ["RawMessageStartEvent", "RawContentBlockStartEvent"]


# ---- Anthropic SSE → OpenAI SSE ------------------------------------------------------------------------------------


def test_an_anthropic_stream_becomes_openai_chunks() -> None:
    s = OpenAIStreamFromAnthropic("gpt-4o")
    chunks = openai_chunks(run(s, [ANTHROPIC_SSE]))
    assert chunks[-1] == "[DONE]"
    created = chunks[0]["created"]
    head = {"id": "chatcmpl-msg_01Vb2Ykt7hSpWL3B9pLwC2Dn", "object": "chat.completion.chunk", "created": created,
            "model": "gpt-4o"}  # fmt: skip

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return head | {"choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    call = {"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}  # fmt: skip
    assert chunks[:-1] == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Okay, let's check"}),  # the thinking block and its signature: nothing
        chunk({"content": " the weather \u00e0 SF."}),
        chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "San Francisco, CA"}'}}]}),
        chunk({}, "tool_calls"),
        head | {"choices": [], "usage": {"prompt_tokens": 472 + 2048 + 1024, "completion_tokens": 89,
                                         "total_tokens": 3633, "prompt_tokens_details": {"cached_tokens": 2048}}},
    ]  # fmt: skip
    assert s.done and s.usage == (472, 89, 2048, 1024)
    thinking, text, args = (
        "Weather, so a tool.",
        "Okay, let's check the weather \u00e0 SF.",
        '{"location": "San Francisco, CA"}',
    )
    assert s.chars == len(thinking) + len(text) + len(args)  # thinking is not relayed but is billed as output
    for seed in range(20):
        again = run(OpenAIStreamFromAnthropic("gpt-4o"), pieces(ANTHROPIC_SSE.replace(b"\n", b"\r\n"), seed))
        assert [c if c == "[DONE]" else c | {"created": created} for c in openai_chunks(again)] == chunks


def test_server_tools_and_citations_have_no_openai_counterpart() -> None:
    s = OpenAIStreamFromAnthropic("m")
    chunks = openai_chunks(run(s, pieces(ANTHROPIC_SERVER_TOOL_SSE, 3)))
    deltas = [c["choices"][0]["delta"] for c in chunks[:-2]]
    assert deltas == [{"role": "assistant", "content": ""}, {"content": "It is sunny."}, {}]
    assert chunks[-3]["choices"][0]["finish_reason"] == "stop" and chunks[-2]["usage"]["prompt_tokens"] == 2679
    assert s.usage == (2679, 510, 0, 0)


def test_an_anthropic_error_event_becomes_an_openai_error() -> None:
    s = OpenAIStreamFromAnthropic("m")
    raw = run(s, pieces(ANTHROPIC_OVERLOADED_SSE + ANTHROPIC_SSE, 5))  # nothing is sent after the error
    assert openai_chunks(raw)[1:] == [{"error": {"message": "Overloaded", "type": "overloaded_error"}}]
    assert s.error == "overloaded_error" and not s.done and s.usage is None
    with pytest.raises(openai.APIError, match="Overloaded"):
        for _ in openai_sdk(raw, sse=True).chat.completions.create(model="m", messages=HI, stream=True):
            pass


def test_close_finishes_a_stream_cut_after_its_message_delta() -> None:
    s = OpenAIStreamFromAnthropic("m")
    s.feed(ANTHROPIC_SSE.split(b"event: message_stop")[0])
    end = openai_chunks(s.close())
    assert end[0]["choices"] == [] and end[0]["usage"]["completion_tokens"] == 89 and end[1] == "[DONE]"
    assert not s.done and s.close() == b""
    s = OpenAIStreamFromAnthropic("m")
    s.feed(ANTHROPIC_SSE.split(b"event: content_block_stop")[0])
    assert s.close() == b"" and not s.done and s.usage is None


def test_the_openai_sdk_reads_the_translated_stream() -> None:
    raw = run(OpenAIStreamFromAnthropic("gpt-4o"), pieces(ANTHROPIC_SSE, 2))
    with openai_sdk(raw, sse=True).chat.completions.stream(model="gpt-4o", messages=HI) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Okay, let's check the weather \u00e0 SF."
    assert message.tool_calls[0].id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert json.loads(message.tool_calls[0].function.arguments) == {"location": "San Francisco, CA"}
    assert final.choices[0].finish_reason == "tool_calls" and final.id == "chatcmpl-msg_01Vb2Ykt7hSpWL3B9pLwC2Dn"
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (3544, 89)
    chunks = list(openai_sdk(raw, sse=True).chat.completions.create(model="gpt-4o", messages=HI, stream=True))
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 3633


# ---- the tally of a pass-through stream ----------------------------------------------------------------------------


def test_the_tally_reads_an_anthropic_stream() -> None:
    t, cut = AnthropicSseTally(), ANTHROPIC_SSE.index(b"event: message_delta")
    for piece in pieces(ANTHROPIC_SSE[:cut], 4):
        t.feed(piece)
    assert t.usage is None and not t.done and t.tokens == [472, 2, 2048, 1024]  # message_start's, so far
    t.feed(ANTHROPIC_SSE[cut:])
    assert t.done and t.bytes == len(ANTHROPIC_SSE) and t.error is None
    assert t.usage == (472, 89, 2048, 1024)  # input and cache from message_start, output from message_delta
    assert t.chars == len("Weather, so a tool.") + len("Okay, let's check the weather \u00e0 SF.") + 33
    t = AnthropicSseTally()
    t.feed(
        ANTHROPIC_SERVER_TOOL_SSE.replace(
            b'"input_tokens":2679,"cache_creation', b'"input_tokens":2600,"cache_creation', 1
        )
    )
    assert t.usage == (2679, 510, 0, 0)  # message_delta's own input count overrides message_start's
    t = AnthropicSseTally()
    t.feed(ANTHROPIC_OVERLOADED_SSE)
    assert t.error == "overloaded_error" and not t.done and t.usage is None


# ---- malformed upstream input: skipped, never raised ---------------------------------------------------------------

GARBAGE = [
    b"data: {not json\n\n", b"data: [1, 2]\n\n", b'data: "text"\n\n', b"data: null\n\n", b"data:\n\n",
    b"retry: 100\nid: 7\n\n", b"\xff\xfe\x00\n\n", b"data: " + b"[" * 5000 + b"\n\n",
    b'data: {"choices": "x", "usage": {"prompt_tokens": "many"}}\n\n',
    b'data: {"choices": [null, {"delta": "x"}, {"delta": {"content": 5, "tool_calls": [null, {"index": [1]}]}}]}\n\n',
    b'data: {"choices": [{"delta": {"tool_calls": [{"index": 0, "id": 5, "function": "x"}]}, "finish_reason": 3}]}\n\n',
    b'event: message_start\ndata: {"type":"message_start","message":null}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":[0],"content_block":5}\n\n',
    b'data: {"type":"content_block_start","index":9,"content_block":{"type":"tool_use","input":"x"}}\n\n',
    b'data: {"type":"content_block_delta","index":{},"delta":{"type":"text_delta","text":7}}\n\n',
    b'data: {"type":"content_block_delta","index":9,"delta":{"type":"input_json_delta","partial_json":[]}}\n\n',
    b'data: {"type":"message_delta","delta":[],"usage":{"output_tokens":-3,"input_tokens":true}}\n\n',
    b'event: error\ndata: {"type":"error","error":"boom"}\n\n',
]  # fmt: skip


def test_malformed_input_is_skipped_and_never_raises() -> None:
    rnd = random.Random(0)
    for n in range(300):
        raw = bytearray(OPENAI_SSE if n % 2 else ANTHROPIC_SSE)
        for _ in range(rnd.randint(1, 8)):  # flip, drop and insert bytes
            i = rnd.randrange(len(raw))
            raw[i : i + rnd.randint(0, 3)] = rnd.choice(
                [b"", b"\n", b"\n\n", b'"', b"{", b"\r", b":", bytes([rnd.randrange(256)])]
            )
        chunks = pieces(bytes(raw), n) + rnd.sample(GARBAGE, 4)
        for stream in (AnthropicStreamFromOpenAI("m"), OpenAIStreamFromAnthropic("m")):
            out = run(stream, chunks)
            assert out == b"" or out.endswith(b"\n\n")
        tally = AnthropicSseTally()
        for c in chunks:
            tally.feed(c)
    for stream in (AnthropicStreamFromOpenAI("m"), OpenAIStreamFromAnthropic("m")):
        run(stream, GARBAGE)

"""A local stand-in for the Anthropic Messages API on 127.0.0.1, for running the real Claude Code CLI offline.

It answers `POST /v1/messages` (with or without `?beta=true`) as streaming SSE or as one JSON message, in the
event shapes the real API sends (message_start, content_block_start/delta/stop, message_delta with usage,
message_stop; tool_use blocks streamed as input_json_delta), `POST /v1/messages/count_tokens`, and `GET /v1/models`.

It is scripted per actor. An actor is the main agent (a request without the `x-claude-code-agent-id` header) or a
sub-agent (one with it), told apart from each other by a marker in the system prompt (`Script.marker`, e.g. a phrase
from the agent file's body). An actor's next answer is its `turns[k]`, where k is the number of assistant messages
already in the request's history: stateless, so a retried request gets the same answer. Requests that match no
script (Claude Code's own side calls, if any) get `fallback`.

Every request is recorded (`Call`): path, query, headers with API keys and bearer tokens redacted, the model, whether
it streamed, the system prompt text, the tool names offered, and the agents the Agent tool offers (its description
lists every accepted agent file as `- <name>: <description>`). Nothing is printed."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET_HEADERS = {"x-api-key", "authorization", "proxy-authorization", "cookie"}
AGENT_LINE = re.compile(r"^- ([A-Za-z0-9_.:-]+): (.*?)(?: \(Tools: [^)]*\))?$", re.M)
AGENT_LIST_HEAD = "Available agent types for the Agent tool:"


@dataclass
class Usage:
    input_tokens: int = 10
    output_tokens: int = 5
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def wire(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": self.output_tokens,
            "service_tier": "standard",
        }


@dataclass
class ToolCall:
    name: str
    input: dict[str, Any]
    id: str = ""  # filled in when sent: toolu_standin_<n>


@dataclass
class Turn:
    """One assistant answer: optional text, then tool calls (stop_reason tool_use), else end_turn."""

    text: str = ""
    tools: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    delay_s: float = 0.0


@dataclass
class Script:
    name: str  # "main" or the sub-agent's name, as recorded in Call.actor
    turns: list[Turn]
    sub_agent: bool = False  # True: only requests with x-claude-code-agent-id
    marker: str | None = None  # a substring of the system prompt that picks this script


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names, secrets redacted
    body: dict[str, Any]
    actor: str | None = None  # the script that answered, or None (fallback / not a messages call)
    turn: int | None = None
    at: float = 0.0

    @property
    def agent_id(self) -> str | None:
        return self.headers.get("x-claude-code-agent-id")

    @property
    def session_id(self) -> str | None:
        return self.headers.get("x-claude-code-session-id")

    @property
    def system(self) -> str:
        return system_text(self.body)

    @property
    def tool_names(self) -> list[str]:
        return [t.get("name", "") for t in self.body.get("tools") or []]

    @property
    def offered_agents(self) -> dict[str, str]:
        """{name: description} of the agents offered to the Agent tool. Claude Code 2.1.197 lists them in a
        mid-conversation `system` message, "Available agent types for the Agent tool:" then one `- <name>:
        <description> (Tools: …)` line per agent, up to a blank line."""
        for text in message_texts(self.body):
            at = text.find(AGENT_LIST_HEAD)
            if at >= 0:
                block = text[at + len(AGENT_LIST_HEAD) :].lstrip("\n").split("\n\n", 1)[0]
                return dict(AGENT_LINE.findall(block))
        return {}


def system_text(body: dict[str, Any]) -> str:
    system = body.get("system")
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
    return ""


def message_texts(body: dict[str, Any]) -> list[str]:
    """The text of every message, string content or text blocks alike."""
    out: list[str] = []
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return out


def redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k in SECRET_HEADERS else v) for k, v in headers.items()}


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _message(model: str, turn: Turn, ids: Iterator[int]) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    content: list[dict[str, Any]] = []
    if turn.text:
        content.append({"type": "text", "text": turn.text})
    for call in turn.tools:
        call.id = call.id or f"toolu_standin_{next(ids):04d}"
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.input})
    stop = "tool_use" if turn.tools else "end_turn"
    msg = {
        "id": f"msg_standin_{next(ids):04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": turn.usage.wire(),
    }
    return msg, content, stop


def _events(model: str, turn: Turn, ids: Iterator[int]) -> list[bytes]:
    """The SSE events of the real API for one message: text streamed as text_delta in two pieces, tool input as
    input_json_delta in two pieces."""
    msg, content, stop = _message(model, turn, ids)
    start_usage = {**turn.usage.wire(), "output_tokens": 1}
    out = [_sse("message_start", {"type": "message_start", "message": {**msg, "content": [], "stop_reason": None,
                                                                         "usage": start_usage}})]  # fmt: skip
    out.append(_sse("ping", {"type": "ping"}))
    for i, block in enumerate(content):
        if block["type"] == "text":
            text = block["text"]
            cut = max(1, len(text) // 2)
            out.append(_sse("content_block_start", {"type": "content_block_start", "index": i,
                                                    "content_block": {"type": "text", "text": ""}}))  # fmt: skip
            for part in (text[:cut], text[cut:]):
                if part:
                    delta = {"type": "text_delta", "text": part}
                    out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
        else:
            raw = json.dumps(block["input"])
            cut = max(1, len(raw) // 2)
            out.append(_sse("content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))  # fmt: skip
            for part in (raw[:cut], raw[cut:]):
                out.append(_sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                        "delta": {"type": "input_json_delta",
                                                                  "partial_json": part}}))  # fmt: skip
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    u = turn.usage.wire()
    out.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {k: u[k] for k in ("input_tokens", "cache_creation_input_tokens",
                                                                  "cache_read_input_tokens",
                                                                  "output_tokens")}}))  # fmt: skip
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


@dataclass
class Standin:
    server: ThreadingHTTPServer
    port: int
    scripts: list[Script] = field(default_factory=list)
    fallback: Turn = field(default_factory=lambda: Turn(text="ok", usage=Usage(1, 1)))
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))  # tool_use and message ids, per plan

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def plan(self, *scripts: Script, fallback: Turn | None = None) -> None:
        with self.lock:
            self.scripts = list(scripts)
            self.fallback = fallback or Turn(text="ok", usage=Usage(1, 1))
            self.calls.clear()
            self.ids = itertools.count(1)

    def messages_calls(self, actor: str | None = None) -> list[Call]:
        with self.lock:
            calls = [c for c in self.calls if c.path == "/v1/messages"]
        return [c for c in calls if actor is None or c.actor == actor]

    def pick(self, call: Call) -> Turn:
        sub = call.agent_id is not None
        system = call.system
        turn_no = sum(1 for m in call.body.get("messages") or [] if m.get("role") == "assistant")
        for script in self.scripts:
            if script.sub_agent != sub or (script.marker is not None and script.marker not in system):
                continue
            call.actor, call.turn = script.name, turn_no
            return script.turns[min(turn_no, len(script.turns) - 1)]
        return self.fallback

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_standin() -> Standin:
    holder: dict[str, Standin] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _record(self, body: dict[str, Any]) -> Call:
            url = urlsplit(self.path)
            call = Call(self.command, url.path, parse_qs(url.query),
                        redact({k.lower(): v for k, v in self.headers.items()}), body, at=time.monotonic())  # fmt: skip
            with holder["s"].lock:
                holder["s"].calls.append(call)
            return call

        def _json(self, status: int, obj: Any) -> None:
            raw = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("request-id", f"req_standin_{next(holder['s'].ids):04d}")
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            call = self._record({})
            if call.path.startswith("/v1/models"):
                model = {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5",
                         "created_at": "2025-09-29T00:00:00Z"}  # fmt: skip
                self._json(200, {"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]})
                return
            self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "not in the stand-in"}})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {}
            call = self._record(body if isinstance(body, dict) else {})
            if call.path == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": max(1, len(raw) // 4)})
                return
            if call.path != "/v1/messages":
                self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": call.path}})
                return
            turn = holder["s"].pick(call)
            if turn.delay_s:
                time.sleep(turn.delay_s)
            model = str(call.body.get("model") or "claude-sonnet-4-5")
            if not call.body.get("stream"):
                self._json(200, _message(model, turn, holder["s"].ids)[0])
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("request-id", f"req_standin_{next(holder['s'].ids):04d}")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in _events(model, turn, holder["s"].ids):
                self.wfile.write(event)
                self.wfile.flush()
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    standin = Standin(server, server.server_address[1])
    holder["s"] = standin
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin

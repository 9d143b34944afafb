"""An OpenAI-protocol face on the scripted Anthropic stand-in (tests/anthropic_standin.py): the same scripts answer
`POST /v1/chat/completions`, as JSON or as SSE chunks with a usage chunk and [DONE], tool calls as `tool_calls`.
It is the OpenAI-protocol upstream behind PAS when PAS translates Claude Code's Messages calls.

A request is recorded on the stand-in as a messages call (so `messages_calls()` sees it) with an Anthropic-like body
read straight from the OpenAI one — the system messages' text as `system`, the rest as `messages`, the tool names —
without PAS's translation code, so a translation bug cannot cancel itself out here."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.anthropic_standin import Call, Standin, Turn, _message, redact


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _as_messages_body(body: dict[str, Any]) -> dict[str, Any]:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    return {
        "model": body.get("model"),
        "stream": bool(body.get("stream")),
        "system": "\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system"),
        "messages": [m for m in messages if m.get("role") != "system"],
        "tools": [{"name": (t.get("function") or {}).get("name", "")} for t in body.get("tools") or []],
    }


def _completion(model: str, turn: Turn, standin: Standin) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    msg, content, stop = _message(model, turn, standin.ids)
    text = "".join(b["text"] for b in content if b["type"] == "text")
    calls = [{"id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
             for b in content if b["type"] == "tool_use"]  # fmt: skip
    u = turn.usage
    cached = u.cache_read_input_tokens
    usage: dict[str, Any] = {"prompt_tokens": u.input_tokens + cached + u.cache_creation_input_tokens,
             "completion_tokens": u.output_tokens, "prompt_tokens_details": {"cached_tokens": cached}}  # fmt: skip
    usage["total_tokens"] = usage["prompt_tokens"] + u.output_tokens
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    reason = "tool_calls" if stop == "tool_use" else "stop"
    out = {"id": "chatcmpl-" + msg["id"], "object": "chat.completion", "created": int(time.time()), "model": model,
           "choices": [{"index": 0, "message": message, "finish_reason": reason}], "usage": usage}  # fmt: skip
    return out, calls, text


def _chunks(whole: dict[str, Any], calls: list[dict[str, Any]], text: str) -> list[bytes]:
    base = {"id": whole["id"], "object": "chat.completion.chunk", "created": whole["created"], "model": whole["model"]}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}

    out = [chunk({"role": "assistant", "content": ""})]
    cut = max(1, len(text) // 2)
    out += [chunk({"content": part}) for part in (text[:cut], text[cut:]) if part]
    for i, c in enumerate(calls):
        out.append(chunk({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                          "function": {"name": c["function"]["name"], "arguments": ""}}]}))  # fmt: skip
        args = c["function"]["arguments"]
        half = max(1, len(args) // 2)
        pieces = (args[:half], args[half:])
        out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}) for part in pieces]
    out.append(chunk({}, whole["choices"][0]["finish_reason"]))
    out.append({**base, "choices": [], "usage": whole["usage"]})
    return [f"data: {json.dumps(c, separators=(',', ':'))}\n\n".encode() for c in out] + [b"data: [DONE]\n\n"]


def start_openai_face(standin: Standin) -> tuple[ThreadingHTTPServer, str]:
    """The face's server and its OpenAI base URL (…/v1)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {}
            if urlsplit(self.path).path != "/v1/chat/completions" or not isinstance(body, dict):
                return self._json(404, {"error": {"message": self.path, "type": "not_found"}})
            call = Call("POST", "/v1/messages", {}, redact({k.lower(): v for k, v in self.headers.items()}),
                        _as_messages_body(body), at=time.monotonic())  # fmt: skip
            with standin.lock:
                standin.calls.append(call)
            turn = standin.pick(call)
            if turn.delay_s:
                time.sleep(turn.delay_s)
            whole, calls, text = _completion(str(body.get("model") or "standin"), turn, standin)
            if not body.get("stream"):
                return self._json(200, whole)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in _chunks(whole, calls, text):
                self.wfile.write(event)
                self.wfile.flush()
            self.close_connection = True

        def _json(self, status: int, obj: Any) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"

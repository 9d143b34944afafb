# mypy: disable-error-code="call-overload,arg-type,dict-item"
"""Local stand-ins for the four vendors' wire protocols on 127.0.0.1, driven through the real SDKs by base URL:
OpenAI (and Grok: the same protocol) `POST /v1/chat/completions` (JSON or SSE chunks with a usage chunk),
Anthropic `POST /v1/messages` (JSON or its SSE events), Gemini `POST /v1beta/models/<m>:generateContent` and
`:streamGenerateContent?alt=sse`.

Each request takes the next `Step` of the script (then `default`): an answer (text, or a tool call, with a stop
reason and exact usage), an HTTP error (with Retry-After, or a Location: a
redirect), or a delay. A request whose key is not `key` gets the
vendor's 401, quoting the key back as OpenAI does. Requests are recorded (body and its raw bytes, path, the
anthropic-version/-beta headers; `key_ok` instead of the key)."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Kind = Literal["openai", "anthropic", "gemini"]


@dataclass
class Step:
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0  # before the answer (a slow vendor: the adapter's timeout)
    text: str = "hello from the stand-in"
    tool: tuple[str, dict[str, Any]] | None = None  # (function name, arguments): answer with a tool call
    stop: str | None = None  # the vendor's own stop reason; None: its "natural end" (or "tool use")
    usage: tuple[int, int] = (11, 7)  # (input, output) tokens, exactly as the vendor reports them
    chunk_delay_s: float = 0.0
    location: str | None = None  # a Location header on an error status (a redirect: status=302)


@dataclass
class Standin:
    kind: Kind
    key: str
    server: ThreadingHTTPServer | None = None
    port: int = 0
    script: list[Step] = field(default_factory=list)
    default: Step = field(default_factory=Step)
    requests: list[dict[str, Any]] = field(default_factory=list)
    aborted: int = 0  # streams the client closed before their end (a cancel reached the vendor)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root + "/v1" if self.kind == "openai" else root

    def reset(self, *steps: Step, default: Step | None = None) -> None:
        with self.lock:
            self.script, self.default = list(steps), default or Step()
            self.requests.clear()
            self.aborted = 0

    def take(self, record: dict[str, Any]) -> Step:
        with self.lock:
            self.requests.append(record)
            return self.script.pop(0) if self.script else self.default

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _openai(step: Step, body: dict[str, Any], stream: bool) -> tuple[dict[str, Any] | None, list[str]]:
    model, (pin, pout) = body.get("model", "m"), step.usage
    base = {"id": "chatcmpl-standin", "created": int(time.time()), "model": model}
    usage = {"prompt_tokens": pin, "completion_tokens": pout, "total_tokens": pin + pout}
    if step.tool:
        name, args = step.tool
        call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        reason = step.stop or "tool_calls"
    else:
        message, reason = {"role": "assistant", "content": step.text}, step.stop or "stop"
    if not stream:
        return {**base, "object": "chat.completion", "usage": usage,
                "choices": [{"index": 0, "message": message, "finish_reason": reason}]}, []  # fmt: skip
    chunk = {**base, "object": "chat.completion.chunk"}
    out = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
    if step.tool:
        c = message["tool_calls"][0]
        out.append(
            {
                **chunk,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": None,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": c["id"],
                                    "type": "function",
                                    "function": {"name": c["function"]["name"], "arguments": ""},
                                }
                            ]
                        },
                    }
                ],
            }
        )
        out.append({**chunk, "choices": [{"index": 0, "finish_reason": None, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": c["function"]["arguments"]}}]}}]})  # fmt: skip
    else:
        for word in re.findall(r"\S+\s*", step.text):
            out.append({**chunk, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]})
    out.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    out.append({**chunk, "choices": [], "usage": usage})
    return None, [f"data: {json.dumps(c)}\n\n" for c in out] + ["data: [DONE]\n\n"]


def _anthropic(step: Step, body: dict[str, Any], stream: bool) -> tuple[dict[str, Any] | None, list[str]]:
    model, (pin, pout) = body.get("model", "m"), step.usage
    if step.tool:
        name, args = step.tool
        block: dict[str, Any] = {"type": "tool_use", "id": "toolu_1", "name": name, "input": args}
        reason = step.stop or "tool_use"
    else:
        block, reason = {"type": "text", "text": step.text}, step.stop or "end_turn"
    message = {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block],
        "stop_reason": reason,
        "stop_sequence": None,
        "usage": {"input_tokens": pin, "output_tokens": pout},
    }
    if not stream:
        return message, []
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                                "usage": {"input_tokens": pin, "output_tokens": 1}}}),
    ]  # fmt: skip
    if step.tool:
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {**block, "input": {}}},
            )
        )
        raw = json.dumps(block["input"])
        for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
            events.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            )
    else:
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for word in re.findall(r"\S+\s*", step.text):
            events.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}},
                )
            )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": pout},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))  # fmt: skip
    return None, [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]


def _gemini(step: Step, model: str, stream: bool) -> tuple[dict[str, Any] | None, list[str]]:
    pin, pout = step.usage
    usage = {"promptTokenCount": pin, "candidatesTokenCount": pout, "totalTokenCount": pin + pout}
    reason = step.stop or "STOP"
    if step.tool:
        parts_list = [[{"functionCall": {"name": step.tool[0], "args": step.tool[1]}}]]
    else:
        parts_list = [[{"text": w}] for w in re.findall(r"\S+\s*", step.text)] or [[{"text": ""}]]
    chunks = []
    for i, parts in enumerate(parts_list):
        last = i == len(parts_list) - 1
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if last:
            cand["finishReason"] = reason
        chunks.append({"candidates": [cand], "modelVersion": model, **({"usageMetadata": usage} if last else {})})
    if not stream:
        parts = [p for ps in parts_list for p in ps]
        return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": reason, "index": 0}],
                "usageMetadata": usage, "modelVersion": model}, []  # fmt: skip
    return None, [f"data: {json.dumps(c)}\r\n\r\n" for c in chunks]


def _error(kind: Kind, status: int, key: str) -> dict[str, Any]:
    if kind == "anthropic":
        return {"type": "error", "error": {"type": "api_error", "message": f"status {status} for key {key}"}}
    if kind == "gemini":
        return {"error": {"code": status, "message": f"API key not valid: {key}", "status": "UNAUTHENTICATED"}}
    return {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}  # fmt: skip


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer (a timeout or a cancel under test) is expected


def start_standin(kind: Kind, key: str) -> Standin:
    standin = Standin(kind, key)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # small writes go out at once (no 40 ms delayed-ACK stalls in the figures)

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw or b"{}")
            got = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            got = got or self.headers.get("x-api-key") or self.headers.get("x-goog-api-key") or ""
            path = self.path.split("?")[0]
            stream = bool(body.get("stream")) or ":streamGenerateContent" in path
            versions = {h: self.headers[h] for h in ("anthropic-version", "anthropic-beta") if h in self.headers}
            step = standin.take({"path": path, "body": body, "key_ok": got == key, "stream": stream, "raw": raw,
                                 "headers": versions})  # fmt: skip
            time.sleep(step.delay_s)
            status = step.status if got == key else 401
            if status != 200:
                return self._send(status, json.dumps(_error(kind, status, got)).encode(), step.retry_after,
                                  step.location)  # fmt: skip
            if kind == "openai":
                whole, events = _openai(step, body, stream)
            elif kind == "anthropic":
                whole, events = _anthropic(step, body, stream)
            else:
                whole, events = _gemini(step, path.split("/")[-1].split(":")[0], stream)
            if whole is not None:
                return self._send(200, json.dumps(whole).encode())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for event in events:
                    time.sleep(step.chunk_delay_s)
                    data = event.encode()
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                with standin.lock:
                    standin.aborted += 1

        def _send(self, status: int, data: bytes, retry_after: str | None = None, location: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            if location is not None:
                self.send_header("Location", location)
            if status == 401:  # the key it was sent, quoted back in a header too
                quoted = json.dumps(json.loads(data))
                self.send_header("WWW-Authenticate", f'Bearer error="invalid_token", error_description={quoted}')
            self.end_headers()
            self.wfile.write(data)

    server = _Quiet(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    standin.server, standin.port = server, server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin

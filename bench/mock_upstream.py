#!/usr/bin/env python3
# The fast mock OpenAI upstream the LiteLLM reference figures were taken against (lint-fixed), kept here so
# the gateway bench runs from a clone alone.
"""Minimal, fast OpenAI-compatible mock upstream for gateway benchmarks.

A raw asyncio.Protocol HTTP/1.1 server (keep-alive, Content-Length and chunked
request bodies, Expect: 100-continue). No framework, so it costs far less CPU
per request than any gateway put in front of it; it is the "floor".

Routes
  POST /v1/chat/completions  fixed, valid chat.completion JSON with a usage block
                             ("stream": true -> the same answer as SSE chunks)
  POST /v1/messages          Anthropic's Messages API: a fixed message with usage ("stream": true -> its SSE
                             events: message_start, ping, content_block_*, message_delta, message_stop)
  GET  /v1/models            one model list
  GET  /health               {"status":"ok","requests":N}

Environment
  MOCK_HOST      default 127.0.0.1 (refuses anything but a loopback address)
  MOCK_PORT      default 18081
  MOCK_DELAY_MS  default 0: fixed delay before each answer (simulated model time)
  MOCK_UVLOOP    default 1: use uvloop when importable
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import sys
import time
from typing import Any

HOST = os.environ.get("MOCK_HOST", "127.0.0.1")
PORT = int(os.environ.get("MOCK_PORT", "18081"))
DELAY_S = float(os.environ.get("MOCK_DELAY_MS", "0")) / 1000.0
MAX_HEADER = 64 * 1024
MAX_BODY = 8 * 1024 * 1024

REPLY_TEXT = "Hello from the mock upstream."
USAGE = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
STATS = {"requests": 0}

_REASONS = {
    200: "OK",
    100: "Continue",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
}


def _response(status: int, body: bytes, ctype: bytes = b"application/json", keep_alive: bool = True) -> bytes:
    head = b"HTTP/1.1 %d %s\r\nServer: mock-upstream\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status,
        _REASONS.get(status, "Unknown").encode(),
        ctype,
        len(body),
    )
    if not keep_alive:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


def _error(status: int, message: str, keep_alive: bool = True) -> bytes:
    body = json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}
    ).encode()
    return _response(status, body, keep_alive=keep_alive)


def chat_completion(req: dict) -> bytes:
    n = STATS["requests"]
    model = req.get("model") if isinstance(req.get("model"), str) else "mock-gpt"
    created = int(time.time())
    cid = f"chatcmpl-mock-{os.getpid()}-{n}"
    if req.get("stream") is True:

        def chunk(delta: dict, finish: str | None, usage: dict | None = None) -> bytes:
            obj = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if usage is not None:
                obj["choices"] = []
                obj["usage"] = usage
            return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

        parts = [chunk({"role": "assistant", "content": ""}, None)]
        for word in REPLY_TEXT.split(" "):
            parts.append(chunk({"content": word + " "}, None))
        parts.append(chunk({}, "stop"))
        opts = req.get("stream_options") or {}
        if isinstance(opts, dict) and opts.get("include_usage"):
            parts.append(chunk({}, None, USAGE))
        parts.append(b"data: [DONE]\n\n")
        return _response(200, b"".join(parts), ctype=b"text/event-stream")
    body = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": REPLY_TEXT, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
    }
    return _response(200, json.dumps(body, separators=(",", ":")).encode())


def anthropic_message(req: dict) -> bytes:
    n = STATS["requests"]
    model = req.get("model") if isinstance(req.get("model"), str) else "mock-claude"
    mid = f"msg_mock_{os.getpid()}_{n}"
    usage = {"input_tokens": 12, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 7}
    message = {"id": mid, "type": "message", "role": "assistant", "model": model,
               "content": [{"type": "text", "text": REPLY_TEXT}], "stop_reason": "end_turn", "stop_sequence": None,
               "usage": usage}  # fmt: skip
    if req.get("stream") is not True:
        return _response(200, json.dumps(message, separators=(",", ":")).encode())

    def event(kind: str, data: dict) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"

    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    parts = [event("message_start", {"type": "message_start", "message": start}), event("ping", {"type": "ping"}),
             event("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}})]  # fmt: skip
    for word in REPLY_TEXT.split(" "):
        parts.append(event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": word + " "}}))  # fmt: skip
    parts.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    parts.append(event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                         "stop_sequence": None}, "usage": {"output_tokens": 7}}))  # fmt: skip
    parts.append(event("message_stop", {"type": "message_stop"}))
    return _response(200, b"".join(parts), ctype=b"text/event-stream")


MODELS = json.dumps(
    {"object": "list", "data": [{"id": "mock-gpt", "object": "model", "created": 0, "owned_by": "mock"}]}
).encode()


def route(method: str, path: str, body: bytes) -> bytes:
    path = path.split("?", 1)[0]
    if path in ("/v1/chat/completions", "/chat/completions"):
        if method != "POST":
            return _error(405, "use POST")
        STATS["requests"] += 1
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "body is not valid JSON")
        if not isinstance(req, dict):
            return _error(400, "body must be a JSON object")
        return chat_completion(req)
    if path == "/v1/messages":
        if method != "POST":
            return _error(405, "use POST")
        STATS["requests"] += 1
        try:
            req = json.loads(body) if body else {}
        except ValueError:
            return _error(400, "body is not valid JSON")
        return anthropic_message(req) if isinstance(req, dict) else _error(400, "body must be a JSON object")
    if path == "/health":
        return _response(200, json.dumps({"status": "ok", "requests": STATS["requests"]}).encode())
    if path in ("/v1/models", "/models"):
        return _response(200, MODELS)
    return _error(404, f"no route {method} {path}")


class HTTPProtocol(asyncio.Protocol):
    __slots__ = ("buf", "busy", "closing", "sent_continue", "transport")

    def __init__(self) -> None:
        self.transport: Any = None
        self.buf = bytearray()
        self.busy = False
        self.closing = False
        self.sent_continue = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closing = True

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self.process()

    def _fail(self, status: int, msg: str) -> None:
        self.transport.write(_error(status, msg, keep_alive=False))
        self.transport.close()
        self.closing = True

    def process(self) -> None:
        while not self.closing:
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER:
                    self._fail(431, "headers too large")
                return
            lines = bytes(buf[:end]).split(b"\r\n")
            try:
                method, target, version = lines[0].decode("latin-1").split(" ", 2)
            except ValueError:
                self._fail(400, "bad request line")
                return
            headers = {}
            for line in lines[1:]:
                k, sep, v = line.partition(b":")
                if sep:
                    headers[k.strip().lower()] = v.strip()
            start = end + 4
            te = headers.get(b"transfer-encoding", b"").lower()
            if b"chunked" in te:
                parsed = self._parse_chunked(start)
                if parsed is None:
                    self._maybe_continue(headers)
                    return
                if parsed == -1:
                    return
                body, consumed = parsed
            else:
                try:
                    length = int(headers.get(b"content-length", b"0"))
                except ValueError:
                    self._fail(400, "bad content-length")
                    return
                if length > MAX_BODY:
                    self._fail(413, "body too large")
                    return
                if len(buf) < start + length:
                    self._maybe_continue(headers)
                    return
                body = bytes(buf[start : start + length])
                consumed = start + length
            del buf[:consumed]
            self.sent_continue = False
            conn = headers.get(b"connection", b"").lower()
            keep_alive = b"keep-alive" in conn if version == "HTTP/1.0" else b"close" not in conn
            resp = route(method, target, body)
            if not keep_alive:
                resp = resp.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
            if DELAY_S > 0:
                self.busy = True
                asyncio.get_running_loop().call_later(DELAY_S, self._send_later, resp, keep_alive)
                return
            self.transport.write(resp)
            if not keep_alive:
                self.transport.close()
                self.closing = True
                return

    def _send_later(self, resp: bytes, keep_alive: bool) -> None:
        self.busy = False
        if self.closing:
            return
        self.transport.write(resp)
        if not keep_alive:
            self.transport.close()
            self.closing = True
            return
        if self.buf:
            self.process()

    def _maybe_continue(self, headers: dict) -> None:
        if not self.sent_continue and headers.get(b"expect", b"").lower() == b"100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.sent_continue = True

    def _parse_chunked(self, pos: int):
        """Returns (body, consumed), None if incomplete, -1 after a fatal error."""
        buf = self.buf
        out = bytearray()
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            try:
                size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
            except ValueError:
                self._fail(400, "bad chunk size")
                return -1
            pos = eol + 2
            if size == 0:
                # skip trailers up to the blank line
                end = buf.find(b"\r\n", pos)
                while end >= 0 and end != pos:
                    pos = end + 2
                    end = buf.find(b"\r\n", pos)
                if end < 0:
                    return None
                return bytes(out), end + 2
            if len(buf) < pos + size + 2:
                return None
            out += buf[pos : pos + size]
            if len(out) > MAX_BODY:
                self._fail(413, "body too large")
                return -1
            pos += size + 2


def main() -> None:
    if not ipaddress.ip_address(HOST).is_loopback:
        sys.exit(f"mock_upstream: refusing to bind non-loopback address {HOST}")
    if os.environ.get("MOCK_UVLOOP", "1") == "1":
        try:
            import uvloop  # type: ignore

            uvloop.install()
        except ImportError:
            pass
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(HTTPProtocol, HOST, PORT, backlog=1024, reuse_address=True))
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: None if stop.done() else stop.set_result(None))
    print(
        json.dumps(
            {
                "event": "listening",
                "host": HOST,
                "port": PORT,
                "delay_ms": DELAY_S * 1000,
                "loop": type(loop).__module__,
            }
        ),
        flush=True,
    )
    try:
        loop.run_until_complete(stop)
    finally:
        server.close()
        print(json.dumps({"event": "stopped", "requests": STATS["requests"]}), flush=True)


if __name__ == "__main__":
    main()

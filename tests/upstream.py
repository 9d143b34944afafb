"""A real OpenAI-compatible upstream on 127.0.0.1 for the gateway tests, scripted per test: each request takes
the next step of `script` (then `default`): ok, an HTTP error (with Retry-After), a delay, a stream that breaks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Step:
    status: int = 200
    delay_s: float = 0.0
    retry_after: str | None = None
    break_after_chunks: int | None = None  # streaming: drop the connection after this many chunks
    usage: bool = True
    content: str = "hello from the mock"
    chunk_delay_s: float = 0.0  # streaming: a pause before each chunk (a slow model)


@dataclass
class Upstream:
    server: ThreadingHTTPServer
    port: int
    script: list[Step] = field(default_factory=list)
    default: Step = field(default_factory=Step)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def next_step(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Step:
        with self.lock:
            self.requests.append(body)
            self.headers.append(headers or {})
            self.times.append(time.monotonic())
            return self.script.pop(0) if self.script else self.default

    def reset(self, *steps: Step, default: Step | None = None) -> None:
        with self.lock:
            self.script = list(steps)
            self.default = default or Step()
            self.requests.clear()
            self.headers.clear()
            self.times.clear()


def _completion(model: str, step: Step, prompt_tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": step.content}, "finish_reason": "stop"}],
    }
    if step.usage:
        out["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": 7, "total_tokens": prompt_tokens + 7}
    return out


def start_upstream() -> Upstream:
    holder: dict[str, Upstream] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(200, b'{"object":"list","data":[]}')

        def do_POST(self) -> None:
            up = holder["u"]
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            step = up.next_step(body, {k.lower(): v for k, v in self.headers.items()})
            if step.delay_s:
                time.sleep(step.delay_s)
            if step.status != 200:
                headers = {"Retry-After": step.retry_after} if step.retry_after else {}
                err = {"error": {"message": f"mock error {step.status}", "type": "mock"}}
                self._send(step.status, json.dumps(err).encode(), headers)
                return
            prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
            if not body.get("stream"):
                self._send(200, json.dumps(_completion(body.get("model", "?"), step, prompt)).encode())
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            words = step.content.split(" ")
            for i, word in enumerate(words):
                if step.chunk_delay_s:
                    time.sleep(step.chunk_delay_s)
                if step.break_after_chunks is not None and i >= step.break_after_chunks:
                    self.wfile.flush()
                    self.connection.shutdown(2)  # mid-stream: no terminator, no [DONE]
                    return
                chunk = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0,
                         "model": body.get("model"), "choices": [{"index": 0, "delta": {"content": word + " "},
                                                                  "finish_reason": None}]}  # fmt: skip
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
            if step.usage and (body.get("stream_options") or {}).get("include_usage"):
                usage = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "choices": [],
                         "model": body.get("model"),
                         "usage": {"prompt_tokens": prompt, "completion_tokens": len(words),
                                   "total_tokens": prompt + len(words)}}  # fmt: skip
                self.wfile.write(b"data: " + json.dumps(usage).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    up = Upstream(server, server.server_address[1])
    holder["u"] = up
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return up

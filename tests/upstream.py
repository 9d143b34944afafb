"""A real OpenAI-compatible upstream on 127.0.0.1 for the gateway tests, scripted per test: each request takes
the next step of `script` (then `default`): ok, an HTTP error (with Retry-After), a delay, a stream that breaks,
an answer that echoes the Authorization header it received (as careless vendors do), a redirect, or a forward
to another URL."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote


@dataclass
class Step:
    status: int = 200
    delay_s: float = 0.0
    retry_after: str | None = None
    break_after_chunks: int | None = None  # streaming: drop the connection after this many chunks
    usage: bool = True
    content: str = "hello from the mock"
    chunk_delay_s: float = 0.0  # streaming: a pause before each chunk (a slow model)
    # Echo the Authorization header received: raw, URL-encoded and JSON-escaped in an error body (and a header),
    # in the content of a 200, and in an SSE error event split across two writes.
    echo_auth: bool = False
    forward_to: str | None = None  # a proxy: POST the request body (and its X-PAS-* headers) there, relay the answer
    location: str | None = None  # a Location header on an error status (a redirect: status=302)


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


def _echo(auth: str) -> str:
    key = auth.removeprefix("Bearer ")
    return f"Incorrect API key provided: {auth}. See https://vendor.example/v1/keys?key={quote(key, safe='')}"


def _forward(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
    import urllib.error
    import urllib.request

    hdrs = {"Content-Type": "application/json", **{k: v for k, v in headers.items() if k.startswith("x-pas-")}}
    req = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers.get("Content-Type", "application/json")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "application/json")


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
            raw = self.rfile.read(length)
            body = json.loads(raw or b"{}")
            received = {k.lower(): v for k, v in self.headers.items()}
            step = up.next_step(body, received)
            if step.delay_s:
                time.sleep(step.delay_s)
            if step.forward_to is not None:
                status, answer, ctype = _forward(step.forward_to, raw, received)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                return
            auth = received.get("authorization", "")
            if step.status != 200:
                headers = {"Retry-After": step.retry_after} if step.retry_after else {}
                if step.location:
                    headers["Location"] = step.location
                message = f"mock error {step.status}"
                if step.echo_auth:
                    message = _echo(auth)
                    headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{auth}"'
                err = json.dumps({"error": {"message": message, "type": "mock"}})
                if step.echo_auth:  # once more, JSON-escaped the way some encoders write "/"
                    err = err[:-2] + ', "received": ' + json.dumps(auth).replace("/", "\\/") + "}}"
                self._send(step.status, err.encode(), headers)
                return
            if step.echo_auth:
                step = Step(content=f"you sent {auth}", usage=step.usage, echo_auth=True)
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
            if step.echo_auth:  # a vendor's mid-stream error event, torn across two writes
                event = b"data: " + json.dumps({"error": {"message": _echo(auth)}}).encode() + b"\n\n"
                cut = event.index(b"Bearer ") + 12
                for part in (event[:cut], event[cut:]):
                    self.wfile.write(part)
                    self.wfile.flush()
                    time.sleep(0.05)
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

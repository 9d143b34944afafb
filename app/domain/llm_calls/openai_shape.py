"""A model call's events in OpenAI's chat-completions shapes: one body, or server-sent chunks. Local models and
vendor adapters answer alike, so the gateway and the openai SDK read every one the same way."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


class CallFailed(Exception):
    def __init__(self, status: int, message: str, code: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after_s = retry_after_s


def failure(event: dict[str, Any]) -> CallFailed:
    status = event.get("status")
    return CallFailed(
        status if isinstance(status, int) and 400 <= status <= 599 else 502,
        str(event.get("message") or "the model failed"),
        str(event.get("code") or "model_error"),
        event.get("retry_after_s") if isinstance(event.get("retry_after_s"), int | float) else None,
    )


def _merge_tool_calls(into: list[dict[str, Any]], deltas: list[dict[str, Any]]) -> None:
    for d in deltas:
        index = int(d.get("index", len(into)))
        while len(into) <= index:
            into.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        slot = into[index]
        if d.get("id"):
            slot["id"] = d["id"]
        fn = d.get("function") or {}
        if fn.get("name"):
            slot["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            slot["function"]["arguments"] += fn["arguments"]


def completion(call_id: str, created: int, model: str, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The whole answer as one chat.completion body; CallFailed on an error event."""
    text: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("type")
        if kind == "delta":
            text.append(str(event.get("text") or ""))
            _merge_tool_calls(tool_calls, event.get("tool_calls") or [])
        elif kind == "end":
            message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
            if tool_calls:
                message["tool_calls"] = tool_calls
                if not message["content"]:
                    message["content"] = None
            body: dict[str, Any] = {
                "id": f"chatcmpl-{call_id}",
                "object": "chat.completion",
                "created": created,
                "model": str(event.get("model") or model),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": event.get("finish_reason", "stop"),
                        "logprobs": None,
                    }
                ],
                "usage": usage_of(event),
            }
            if event.get("system_fingerprint"):
                body["system_fingerprint"] = event["system_fingerprint"]
            return body
        elif kind == "error":
            raise failure(event)
    raise CallFailed(502, "the model worker ended the call without an answer", "model_error")


def usage_of(event: dict[str, Any]) -> dict[str, int]:
    u = event.get("usage") or {}
    prompt, done = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def sse_chunks(
    call_id: str, created: int, model: str, events: Iterable[dict[str, Any]], include_usage: bool = True
) -> Iterator[bytes]:
    """chat.completion.chunk events, then `data: [DONE]`. An error mid-stream is one `{"error": …}` event
    (what OpenAI sends), then the stream ends; the usage chunk (empty choices) comes last, as with
    stream_options.include_usage."""
    base = {"id": f"chatcmpl-{call_id}", "object": "chat.completion.chunk", "created": created, "model": model}
    yield _sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                     "finish_reason": None}]})  # fmt: skip
    for event in events:
        kind = event.get("type")
        if kind == "delta":
            delta: dict[str, Any] = {}
            if event.get("text"):
                delta["content"] = event["text"]
            if event.get("tool_calls"):
                delta["tool_calls"] = event["tool_calls"]
            if delta:
                yield _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        elif kind == "end":
            yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": event.get("finish_reason")}]})
            if include_usage:
                yield _sse({**base, "choices": [], "usage": usage_of(event)})
            yield b"data: [DONE]\n\n"
            return
        elif kind == "error":
            f = failure(event)
            yield _sse({"error": {"message": f.message, "type": "upstream_error", "code": f.code}})
            return

"""The streaming half of app/domain/gateway/anthropic_translation.py: server-sent events of one protocol fed in
pieces of any size, the other protocol's events out, counted as they pass (usage, characters); and the tally of an
Anthropic stream relayed unchanged. Malformed upstream data is skipped, never raised: what was relayed stands."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from app.domain.gateway.anthropic_translation import (
    _USAGE_KEYS,
    CHARS_PER_TOKEN,
    TO_ANTHROPIC_STOP,
    TO_OPENAI_STOP,
    Usage,
    _anthropic_usage,
    _count,
    _dumps,
    _from_openai_usage,
    _message_id,
    _obj,
    _openai_usage,
    _seq,
    _stop,
    _tool_id,
)

Event = tuple[str | None, str]  # (its `event:` name, its data lines joined)


class _SseReader:
    """Server-sent events out of bytes cut anywhere: lines end in \\n, \\r\\n or \\r; comments are skipped."""

    def __init__(self) -> None:
        self._buf = b""
        self._name: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        lines = (self._buf + chunk).splitlines(keepends=True)
        # the last line may be unfinished, or end in a \r whose \n is still to come
        self._buf = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""
        events: list[Event] = []
        for raw in lines:
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if not line:
                if self._data:
                    events.append((self._name, "\n".join(self._data)))
                self._name, self._data = None, []
            elif not line.startswith(":"):
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    self._name = value
                elif field == "data":
                    self._data.append(value)
        return events

    def flush(self) -> list[Event]:
        """At the end of the stream: the last event, even without its blank line."""
        return self.feed(b"\n\n")


def _objects(data: str) -> list[dict[str, Any]]:
    """The JSON objects of one event's data: the whole, or each line (a server that forgot the blank lines)."""
    for candidate in ([data], data.split("\n")):
        try:
            parsed = [json.loads(d) for d in candidate if d.strip()]
        except (ValueError, RecursionError):
            continue
        return [p for p in parsed if isinstance(p, dict)]
    return []


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {_dumps({'type': kind, **data})}\n\n".encode()


def _data(obj: dict[str, Any]) -> bytes:
    return f"data: {_dumps(obj)}\n\n".encode()


class AnthropicStreamFromOpenAI:
    """Feeds an OpenAI SSE byte stream (arbitrary chunk boundaries), yields Anthropic SSE bytes."""

    def __init__(self, model: str, input_tokens_estimate: int = 0) -> None:
        self.model = model
        self.input_tokens_estimate = input_tokens_estimate
        self.done = False  # [DONE] seen
        self.usage: Usage | None = None  # as the upstream reported it
        self.chars = 0  # of text and tool arguments relayed
        self.error: str | None = None  # the type of the error event sent; nothing follows it
        self._sse = _SseReader()
        self._started = self._ended = False
        self._finish: str | None = None
        self._blocks = 0  # content blocks begun
        self._open: int | None = None  # the block begun and not yet stopped
        self._text_open = False
        self._tools: dict[int | str, int] = {}  # an OpenAI tool call (its index, else its id) → its block
        self._last_tool: int | str = 0

    def feed(self, chunk: bytes) -> bytes:
        return self._relay(self._sse.feed(chunk))

    def close(self) -> bytes:
        out = self._relay(self._sse.flush())
        if (self.done or self._finish) and not self._ended and self.error is None:
            out += self._end()
        return out

    def _relay(self, events: list[Event]) -> bytes:
        out: list[bytes] = []
        for _, data in events:
            if data.strip() == "[DONE]":
                self.done = True
                out.append(b"" if self._ended or self.error else self._end())
            elif self.error is None:
                out += [self._chunk(obj) for obj in _objects(data)]
        return b"".join(out)

    def _chunk(self, obj: dict[str, Any]) -> bytes:
        if self.error is not None:
            return b""
        if (obj.get("error") or obj.get("object") == "error") and not obj.get("choices"):  # OpenAI's; vLLM's
            err = obj.get("error") or obj
            self.error = "api_error"
            message = str(_obj(err).get("message") or (err if isinstance(err, str) else "upstream error"))
            return _event("error", {"error": {"type": "api_error", "message": message}})
        if (usage := _from_openai_usage(_obj(obj.get("usage")))) is not None:
            self.usage = usage
        if self._ended:
            return b""
        out = [] if self._started else [self._start(obj.get("id"))]
        for choice in map(_obj, _seq(obj.get("choices"))):
            if choice.get("index", 0) != 0:  # n > 1: the first choice only
                continue
            delta = _obj(choice.get("delta"))
            if isinstance(text := delta.get("content"), str) and text:
                out.append(self._text(text))
            out += [self._tool(_obj(call)) for call in _seq(delta.get("tool_calls"))]
            if isinstance(reason := choice.get("finish_reason"), str) and reason:
                self._finish = reason
                out.append(self._stop_block())
        if self._finish and self.usage is not None:  # else the usage chunk, [DONE] or close() ends it
            out.append(self._end())
        return b"".join(out)

    def _start(self, completion_id: Any) -> bytes:
        self._started = True
        usage = _anthropic_usage((self.input_tokens_estimate, 1, 0, 0))
        message: dict[str, Any] = {"id": _message_id(completion_id), "type": "message", "role": "assistant",
                                   "content": [], "model": self.model, "stop_reason": None, "stop_sequence": None,
                                   "usage": usage}  # fmt: skip
        return _event("message_start", {"message": message}) + _event("ping", {})

    def _begin(self, block: dict[str, Any]) -> bytes:
        out = self._stop_block()
        self._open, self._blocks = self._blocks, self._blocks + 1
        return out + _event("content_block_start", {"index": self._open, "content_block": block})

    def _stop_block(self) -> bytes:
        index, self._open, self._text_open = self._open, None, False
        return b"" if index is None else _event("content_block_stop", {"index": index})

    def _text(self, text: str) -> bytes:
        out = b"" if self._text_open else self._begin({"type": "text", "text": ""})
        self._text_open = True
        self.chars += len(text)
        return out + _event("content_block_delta", {"index": self._open, "delta": {"type": "text_delta", "text": text}})

    def _tool(self, call: dict[str, Any]) -> bytes:
        fn, index, call_id = _obj(call.get("function")), call.get("index"), call.get("id")
        key = index if isinstance(index, int) else call_id if isinstance(call_id, str) and call_id else self._last_tool
        self._last_tool, out = key, b""
        if key not in self._tools:
            name = fn.get("name")
            block = {"type": "tool_use", "id": _tool_id(call_id), "name": name if isinstance(name, str) else ""}
            out = self._begin(block | {"input": {}})
            self._tools[key] = self._blocks - 1
        if isinstance(args := fn.get("arguments"), str) and args:  # to its own block, even if another began since
            self.chars += len(args)
            delta = {"type": "input_json_delta", "partial_json": args}
            out += _event("content_block_delta", {"index": self._tools[key], "delta": delta})
        return out

    def _end(self) -> bytes:
        out = (b"" if self._started else self._start(None)) + self._stop_block()
        self._ended = True
        stop = _stop(TO_ANTHROPIC_STOP, self._finish, "end_turn")
        if stop == "end_turn" and self._tools:  # servers that say "stop" after tool calls
            stop = "tool_use"
        usage = self.usage or (self.input_tokens_estimate, -(-self.chars // CHARS_PER_TOKEN), 0, 0)
        delta = {"delta": {"stop_reason": stop, "stop_sequence": None}, "usage": _anthropic_usage(usage)}
        return out + _event("message_delta", delta) + _event("message_stop", {})


class AnthropicSseTally:
    """Reads an Anthropic stream without changing it: whether it ended, its usage, its size, its error."""

    def __init__(self) -> None:
        self.bytes = 0
        self.chars = 0  # of text, tool input and thinking (all billed as output)
        self.done = False  # message_stop seen
        self.usage: Usage | None = None  # once message_delta reported it
        self.error: str | None = None  # the error type of an `event: error`
        self.tokens = [0, 0, 0, 0]  # (input, output, cache read, cache written) as reported so far
        self._sse = _SseReader()

    def feed(self, chunk: bytes) -> None:
        self.read(chunk)

    def read(self, chunk: bytes) -> list[dict[str, Any]]:
        """The events complete with `chunk`, counted."""
        self.bytes += len(chunk)
        return self._count(self._sse.feed(chunk))

    def flush(self) -> list[dict[str, Any]]:
        return self._count(self._sse.flush())

    def _count(self, events: list[Event]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for name, data in events:
            for e in _objects(data):
                kind = e.setdefault("type", name)
                if self.error is not None:  # nothing counts after an error: Anthropic sends nothing more
                    pass
                elif kind == "message_start":
                    self._take(_obj(_obj(e.get("message")).get("usage")))
                elif kind == "message_delta" and (usage := _obj(e.get("usage"))):
                    self._take(usage)
                    self.usage = (self.tokens[0], self.tokens[1], self.tokens[2], self.tokens[3])
                elif kind == "content_block_delta":
                    delta = _obj(e.get("delta"))
                    text = delta.get("text") or delta.get("partial_json") or delta.get("thinking")
                    self.chars += len(text) if isinstance(text, str) else 0
                elif kind == "message_stop":
                    self.done = True
                elif kind == "error":
                    self.error = str(_obj(e.get("error")).get("type") or "error")
                out.append(e)
        return out

    def _take(self, usage: dict[str, Any]) -> None:
        for i, key in enumerate(_USAGE_KEYS):
            if (n := _count(usage.get(key))) is not None:
                self.tokens[i] = n


class OpenAIStreamFromAnthropic:
    """Feeds Anthropic SSE bytes, yields OpenAI SSE bytes (`data: {...}\\n\\n` chunks, object chat.completion.chunk,
    then a final usage chunk with empty choices, then `data: [DONE]\\n\\n`)."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._tally = AnthropicSseTally()
        self._id = "chatcmpl-" + uuid.uuid4().hex  # until message_start names the message
        self._created = int(time.time())
        self._role_sent = self._ended = False
        self._finish: str | None = None
        self._tools: dict[int, int] = {}  # an Anthropic tool_use block's index → its OpenAI tool-call index

    @property
    def done(self) -> bool:  # message_stop seen
        return self._tally.done

    @property
    def usage(self) -> Usage | None:
        return self._tally.usage

    @property
    def chars(self) -> int:
        return self._tally.chars

    @property
    def error(self) -> str | None:  # the type of the upstream's error event; nothing follows it
        return self._tally.error

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._event(e) for e in self._tally.read(chunk))

    def close(self) -> bytes:
        out = b"".join(self._event(e) for e in self._tally.flush())
        return out + (self._end() if self._finish and not self._ended else b"")

    def _event(self, e: dict[str, Any]) -> bytes:
        kind, index = e.get("type"), e.get("index")
        if self._ended:
            return b""
        if kind == "error":
            self._ended = True
            err = _obj(e.get("error"))
            message, etype = str(err.get("message") or "upstream error"), str(err.get("type") or "api_error")
            return _data({"error": {"message": message, "type": etype}})
        if kind == "message_start":
            if isinstance(mid := _obj(e.get("message")).get("id"), str) and mid:
                self._id = "chatcmpl-" + mid
            return b"" if self._role_sent else self._chunk({"role": "assistant", "content": ""})
        if kind == "content_block_start":
            block = _obj(e.get("content_block"))
            if block.get("type") == "text" and isinstance(text := block.get("text"), str) and text:
                return self._chunk({"content": text})
            if block.get("type") == "tool_use" and isinstance(index, int):
                self._tools[index] = len(self._tools)
                args = _dumps(block["input"]) if _obj(block.get("input")) else ""  # Anthropic's own send {}
                fn = {"name": str(block.get("name") or ""), "arguments": args}
                tool_id = _tool_id(block.get("id"))
                call = {"index": self._tools[index], "id": tool_id, "type": "function", "function": fn}
                return self._chunk({"tool_calls": [call]})
        elif kind == "content_block_delta":
            delta = _obj(e.get("delta"))
            if delta.get("type") == "text_delta" and isinstance(piece := delta.get("text"), str):
                return self._chunk({"content": piece})
            partial = delta.get("partial_json") if delta.get("type") == "input_json_delta" else None
            if isinstance(partial, str) and partial and isinstance(index, int) and index in self._tools:
                call = {"index": self._tools[index], "function": {"arguments": partial}}
                return self._chunk({"tool_calls": [call]})
        elif kind == "message_delta":
            self._finish = _stop(TO_OPENAI_STOP, _obj(e.get("delta")).get("stop_reason"), "stop")
            return self._chunk({}, self._finish)
        elif kind == "message_stop":
            return self._end()
        return b""  # ping, content_block_stop, thinking and signature deltas, server tool blocks

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        out = b"" if self._role_sent or "role" in delta else self._chunk({"role": "assistant", "content": ""})
        self._role_sent = True
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return out + _data(self._head() | {"choices": [choice]})

    def _head(self) -> dict[str, Any]:
        return {"id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self.model}

    def _end(self) -> bytes:
        out = b"" if self._finish else self._chunk({}, "stop")
        self._ended = True
        t = self._tally.tokens
        usage = _openai_usage(self._tally.usage or (t[0], t[1], t[2], t[3]))
        return out + _data(self._head() | {"choices": [], "usage": usage}) + b"data: [DONE]\n\n"

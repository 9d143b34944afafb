"""Anthropic's Messages API through the `anthropic` SDK: an OpenAI chat request becomes a messages call (the
system prompt split out, tool calls and results as tool_use / tool_result blocks, stop sequences, max_tokens
required), and its stream events (message_start, content_block_*, message_delta) become vendor_call events."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import anthropic

from app.providers.vendor_call import (
    VendorFailure,
    VendorTarget,
    end,
    finish_reason,
    status_failure,
    stop_list,
    text_of,
)

DEFAULT_MAX_TOKENS = 4096  # Anthropic requires one; OpenAI's default is "up to the context"
VENDOR = "Anthropic"


@functools.lru_cache(maxsize=32)
def _client(api_key: str, base_url: str, timeout_s: float) -> anthropic.Anthropic:
    # Never follow a redirect (the SDK's default client does): RELIABILITY X3.
    return anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0,
                               http_client=anthropic.DefaultHttpxClient(follow_redirects=False))  # fmt: skip


def _tool(t: dict[str, Any]) -> dict[str, Any] | None:
    fn = t.get("function") if t.get("type", "function") == "function" else None
    if not isinstance(fn, dict) or not fn.get("name"):
        return None
    return {"name": fn["name"], "description": fn.get("description") or "",
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}  # fmt: skip


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": choice["function"].get("name", "")}
    return None


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {"arguments": raw}
    return raw or {}


def vendor_request(request: dict[str, Any]) -> dict[str, Any]:
    """The messages.create arguments for an OpenAI chat request (model and stream aside)."""
    system: list[str] = []
    messages: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if messages and messages[-1]["role"] == role:  # Anthropic wants user/assistant alternating
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for m in request["messages"]:
        role, text = m["role"], text_of(m.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
            for call in m.get("tool_calls") or []:
                fn = call.get("function") or {}
                blocks.append({"type": "tool_use", "id": call.get("id") or "", "name": fn.get("name", ""),
                               "input": _arguments(fn.get("arguments"))})  # fmt: skip
            add("assistant", blocks or [{"type": "text", "text": ""}])
        elif role in ("tool", "function"):
            add("user", [{"type": "tool_result", "tool_use_id": m.get("tool_call_id") or m.get("name") or "",
                          "content": text}])  # fmt: skip
        else:
            add("user", [{"type": "text", "text": text}])
    out: dict[str, Any] = {
        "messages": messages,
        "max_tokens": request.get("max_tokens") or request.get("max_completion_tokens") or DEFAULT_MAX_TOKENS,
    }
    if system:
        out["system"] = "\n\n".join(system)
    # Sampling goes in the body as the wire has it: this SDK's create() no longer names these parameters.
    sampling = {k: request[k] for k in ("temperature", "top_p") if request.get(k) is not None}
    if sampling:
        out["extra_body"] = sampling
    if (stops := stop_list(request.get("stop"))) is not None:
        out["stop_sequences"] = stops
    tools = [t for t in (_tool(t) for t in request.get("tools") or []) if t]
    if tools:
        out["tools"] = tools
        if (choice := _tool_choice(request.get("tool_choice"))) is not None:
            out["tool_choice"] = choice
    return out


def stream_chat(target: VendorTarget, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    client = _client(target.api_key, target.base_url, target.timeout_s)
    try:
        stream = client.messages.create(model=target.model, stream=True, **vendor_request(request))
    except anthropic.APIStatusError as exc:
        raise status_failure(VENDOR, exc.status_code, exc.response.headers) from None
    except anthropic.APITimeoutError:
        raise VendorFailure("timeout", f"{VENDOR} did not answer in {target.timeout_s:g} s") from None
    except anthropic.APIConnectionError:
        raise VendorFailure("connect", f"{VENDOR} is unreachable") from None
    reason, prompt, done, model = "stop", 0, 0, target.model
    tool_index: dict[int, int] = {}  # Anthropic's content block index → OpenAI's tool-call index
    try:
        with stream:
            for event in stream:
                kind = event.type
                if kind == "message_start":
                    model = event.message.model or model
                    prompt = event.message.usage.input_tokens or 0
                    done = event.message.usage.output_tokens or 0
                elif kind == "content_block_start" and event.content_block.type == "tool_use":
                    slot = tool_index[event.index] = len(tool_index)
                    block = event.content_block
                    yield {"type": "delta", "text": "", "tool_calls": [
                        {"index": slot, "id": block.id, "type": "function",
                         "function": {"name": block.name, "arguments": ""}}]}  # fmt: skip
                elif kind == "content_block_delta":
                    d = event.delta
                    if d.type == "text_delta" and d.text:
                        yield {"type": "delta", "text": d.text}
                    elif d.type == "input_json_delta" and event.index in tool_index and d.partial_json:
                        yield {"type": "delta", "text": "", "tool_calls": [
                            {"index": tool_index[event.index], "function": {"arguments": d.partial_json}}]}  # fmt: skip
                elif kind == "message_delta":
                    if event.delta.stop_reason:
                        reason = finish_reason(event.delta.stop_reason)
                    if event.usage is not None and event.usage.output_tokens is not None:
                        done = event.usage.output_tokens
                    if event.usage is not None and getattr(event.usage, "input_tokens", None):
                        prompt = event.usage.input_tokens
    except anthropic.APIStatusError as exc:  # an `error` event inside the stream (overloaded_error …)
        raise status_failure(VENDOR, exc.status_code, exc.response.headers) from None
    except anthropic.APITimeoutError:
        raise VendorFailure("timeout", f"{VENDOR} stopped answering for {target.timeout_s:g} s") from None
    except anthropic.APIError:
        raise VendorFailure("server", f"{VENDOR}'s stream broke") from None
    yield end(reason, prompt, done, model)

"""Translation between Anthropic's Messages API and OpenAI's Chat Completions API, both ways: request bodies,
whole answers and server-sent-event streams, as pure functions (no I/O).

What has no counterpart, and what becomes of it:
- towards OpenAI: `thinking` and `redacted_thinking` blocks (and thinking deltas) are dropped, as are
  `cache_control` marks, server tools (`web_search_…`, `bash_…`) with their `server_tool_use` and result blocks,
  `top_k`, `thinking` and `metadata` other than `user_id`; a `document` survives only as its text; images go as
  data URLs (or their URL), those inside a tool result as parts of the user message after the tool messages.
- towards Anthropic: `temperature` and `top_p` are dropped (current Claude models answer a sampling parameter with
  a 400, and the Anthropic SDK 2.x has none), as are `n`, penalties, `seed`, `logprobs`, `response_format`,
  `reasoning_effort` and `stream_options`; audio and non-data-URL file parts are dropped; system and developer
  messages anywhere become the one `system`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

Usage = tuple[int, int, int, int]  # (input without cache, output, cache read, cache written)
CHARS_PER_TOKEN = 4  # output tokens estimated from characters when a stream never reports usage
TO_ANTHROPIC_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                     "function_call": "tool_use", "content_filter": "refusal"}  # fmt: skip
TO_OPENAI_STOP = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop", "max_tokens": "length",
                  "model_context_window_exceeded": "length", "tool_use": "tool_calls",
                  "refusal": "content_filter"}  # fmt: skip
_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _text(content: Any, sep: str) -> str:
    """A string content as it is; the texts of a list of text blocks (or parts), joined."""
    if isinstance(content, str):
        return content
    return sep.join(
        b["text"] for b in _seq(content) if _obj(b).get("type") == "text" and isinstance(b.get("text"), str)
    )


def _stop(table: dict[str, str], reason: Any, default: str) -> str:
    return table.get(reason, default) if isinstance(reason, str) else default


def _message_id(completion_id: Any) -> str:
    cid = completion_id.removeprefix("chatcmpl-") if isinstance(completion_id, str) else ""
    return "msg_" + (cid or uuid.uuid4().hex)


def _tool_id(call_id: Any) -> str:
    return call_id if isinstance(call_id, str) and call_id else "toolu_" + uuid.uuid4().hex


def _tool_input(arguments: Any) -> dict[str, Any]:
    """OpenAI's arguments (JSON text) as Anthropic's input object; text that is no object is kept under `arguments`."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        parsed = None
    return parsed if isinstance(parsed, dict) else {"arguments": arguments}


def _tool_calls(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": _tool_id(b.get("id")), "type": "function",
             "function": {"name": str(b.get("name") or ""), "arguments": _arguments(b.get("input"))}}
            for b in blocks if b.get("type") == "tool_use"]  # fmt: skip


def _arguments(tool_input: Any) -> str:
    return json.dumps(_obj(tool_input), separators=(",", ":"))


def _tool_uses(message: dict[str, Any]) -> list[dict[str, Any]]:
    calls = _seq(message.get("tool_calls")) or (
        [{"function": message["function_call"]}] if _obj(message.get("function_call")) else []
    )
    return [{"type": "tool_use", "id": _tool_id(_obj(c).get("id")), "name": str(fn.get("name") or ""),
             "input": _tool_input(fn.get("arguments"))}
            for c in calls if (fn := _obj(_obj(c).get("function")))]  # fmt: skip


def _from_openai_usage(usage: dict[str, Any]) -> Usage | None:
    prompt = _count(usage.get("prompt_tokens"))
    if prompt is None:
        return None
    cached = min(_count(_obj(usage.get("prompt_tokens_details")).get("cached_tokens")) or 0, prompt)
    return prompt - cached, _count(usage.get("completion_tokens")) or 0, cached, 0


def _openai_usage(usage: Usage) -> dict[str, Any]:
    prompt = usage[0] + usage[2] + usage[3]
    return {"prompt_tokens": prompt, "completion_tokens": usage[1], "total_tokens": prompt + usage[1],
            "prompt_tokens_details": {"cached_tokens": usage[2]}}  # fmt: skip


def _anthropic_usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage[0], "cache_creation_input_tokens": usage[3], "cache_read_input_tokens": usage[2],
            "output_tokens": usage[1]}  # fmt: skip


# Anthropic → OpenAI: the request


def openai_request(req: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request body → an OpenAI chat-completions payload (`model` kept as given)."""
    messages: list[dict[str, Any]] = []
    if system := _text(req.get("system"), "\n\n"):
        messages.append({"role": "system", "content": system})
    for m in map(_obj, _seq(req.get("messages"))):
        content, role = m.get("content"), m.get("role")
        if role == "system":  # a mid-conversation system message (Claude Code sends them): OpenAI keeps it in place
            messages.append({"role": "system", "content": _text(content, "\n\n")})
            continue
        messages.extend([_openai_assistant(content)] if role == "assistant" else _openai_user(content))
    out: dict[str, Any] = {"model": req["model"]} if "model" in req else {}
    out["messages"] = messages
    tools = [
        _openai_tool(t) for t in _seq(req.get("tools")) if isinstance(t, dict) and t.get("type") in (None, "custom")
    ]
    if tools:
        out["tools"] = tools
        choice = _obj(req.get("tool_choice"))
        kind = choice.get("type")
        if kind in ("auto", "any", "none"):
            out["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
        elif kind == "tool":
            out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    for src, dst in (("max_tokens", "max_tokens"), ("stop_sequences", "stop"), ("temperature", "temperature"),
                     ("top_p", "top_p")):  # fmt: skip
        if req.get(src) is not None:
            out[dst] = req[src]
    if user := _obj(req.get("metadata")).get("user_id"):
        out["user"] = user
    if req.get("stream"):
        out.update(stream=True, stream_options={"include_usage": True})
    return out


def _openai_user(content: Any) -> list[dict[str, Any]]:
    """Each tool result its own `tool` message first (OpenAI wants them right after the calls), then the rest."""
    if not isinstance(content, list):
        return [{"role": "user", "content": content if isinstance(content, str) else ""}]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for b in map(_obj, content):
        kind = b.get("type")
        if kind == "tool_result":
            text = _text(b.get("content"), "\n")
            tools.append({"role": "tool", "tool_call_id": b.get("tool_use_id"),
                          "content": "Error: " + text if b.get("is_error") else text})  # fmt: skip
            parts += [p for i in _seq(b.get("content")) if (p := _openai_part(_obj(i))) and p["type"] == "image_url"]
        elif p := _openai_part(b):
            parts.append(p)
    if not parts and tools:
        return tools
    if all(p["type"] == "text" for p in parts):
        return [*tools, {"role": "user", "content": "\n\n".join(p["text"] for p in parts)}]
    return [*tools, {"role": "user", "content": parts}]


def _openai_part(block: dict[str, Any]) -> dict[str, Any] | None:
    kind, source = block.get("type"), _obj(block.get("source"))
    if kind == "text" and isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    if kind == "image" and source.get("type") == "base64":
        return {
            "type": "image_url",
            "image_url": {"url": f"data:{source.get('media_type')};base64,{source.get('data')}"},
        }
    if kind == "image" and source.get("type") == "url":
        return {"type": "image_url", "image_url": {"url": source.get("url")}}
    if kind == "document" and source.get("type") == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if kind == "document" and source.get("type") == "content" and (text := _text(source.get("content"), "\n")):
        return {"type": "text", "text": text}
    return None


def _openai_assistant(content: Any) -> dict[str, Any]:
    if not isinstance(content, list):
        return {"role": "assistant", "content": content if isinstance(content, str) else ""}
    calls = _tool_calls([_obj(b) for b in content])
    message: dict[str, Any] = {"role": "assistant", "content": _text(content, "") or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool.get("name")}
    if tool.get("description"):
        fn["description"] = tool["description"]
    fn["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return {"type": "function", "function": fn}


# OpenAI → Anthropic: the answer


def anthropic_message(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An OpenAI chat completion → an Anthropic message (type "message")."""
    choice = _obj(next(iter(_seq(body.get("choices"))), None))
    message = _obj(choice.get("message"))
    content: list[dict[str, Any]] = [{"type": "text", "text": t}] if (t := _text(message.get("content"), "")) else []
    content += _tool_uses(message)
    stop = _stop(TO_ANTHROPIC_STOP, choice.get("finish_reason"), "end_turn")
    if stop == "end_turn" and any(b["type"] == "tool_use" for b in content):  # servers that say "stop" after calls
        stop = "tool_use"
    usage = _from_openai_usage(_obj(body.get("usage"))) or (0, 0, 0, 0)
    return {"id": _message_id(body.get("id")), "type": "message", "role": "assistant", "model": model,
            "content": content or [{"type": "text", "text": ""}], "stop_reason": stop, "stop_sequence": None,
            "usage": _anthropic_usage(usage)}  # fmt: skip


def anthropic_usage(body: dict[str, Any]) -> Usage | None:
    """An Anthropic message's usage: (input, output, cache read, cache written); None without its two counts."""
    u = _obj(body.get("usage"))
    inp, out = _count(u.get("input_tokens")), _count(u.get("output_tokens"))
    if inp is None or out is None:
        return None
    return inp, out, _count(u.get("cache_read_input_tokens")) or 0, _count(u.get("cache_creation_input_tokens")) or 0


# OpenAI → Anthropic: the request


def anthropic_request(payload: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat payload → an Anthropic Messages request body (model kept; max_tokens defaulted to 4096)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for m in map(_obj, _seq(payload.get("messages"))):
        role = m.get("role")
        if role in ("system", "developer"):
            system += [t] if (t := _text(m.get("content"), "\n\n")) else []
            continue
        if role == "assistant":
            blocks = ([{"type": "text", "text": t}] if (t := _text(m.get("content"), "")) else []) + _tool_uses(m)
        elif role == "tool":
            blocks = [
                {"type": "tool_result", "tool_use_id": m.get("tool_call_id"), "content": _text(m.get("content"), "\n")}
            ]
        else:
            blocks = _anthropic_user(m.get("content"))
        role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:  # Anthropic alternates: one turn of the tool results and what follows
            turns[-1]["content"] += blocks
        elif blocks or role == "user":
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")  # results first, right after the calls
        if len(turn["content"]) == 1 and turn["content"][0]["type"] == "text":
            turn["content"] = turn["content"][0]["text"]
    out: dict[str, Any] = {"model": payload["model"]} if "model" in payload else {}
    limit = _count(payload.get("max_completion_tokens")) or _count(payload.get("max_tokens"))
    out.update(max_tokens=limit or 4096, messages=turns)
    if system:
        out["system"] = "\n\n".join(system)
    if tools := [
        _anthropic_tool(_obj(_obj(t).get("function")))
        for t in _seq(payload.get("tools"))
        if _obj(t).get("type", "function") == "function"
    ]:
        out["tools"] = tools
        choice = payload.get("tool_choice")
        named = _obj(_obj(choice).get("function")).get("name")
        tc = {"type": "tool", "name": named} if named else {"auto": {"type": "auto"}, "required": {"type": "any"},
                                                            "none": {"type": "none"}}.get(str(choice))  # fmt: skip
        if payload.get("parallel_tool_calls") is False and (tc or {}).get("type") != "none":
            tc = {**(tc or {"type": "auto"}), "disable_parallel_tool_use": True}
        if tc:
            out["tool_choice"] = tc
    stop = payload.get("stop")
    if stops := [s for s in ([stop] if isinstance(stop, str) else _seq(stop)) if isinstance(s, str) and s]:
        out["stop_sequences"] = stops
    if isinstance(user := payload.get("user"), str) and user:
        out["metadata"] = {"user_id": user}
    if payload.get("stream"):
        out["stream"] = True
    return out


def _anthropic_user(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for p in map(_obj, _seq(content)):
        url = _obj(p.get("image_url")).get("url") or p.get("image_url")
        data = _obj(p.get("file")).get("file_data")
        if p.get("type") == "text" and isinstance(p.get("text"), str) and p["text"]:
            blocks.append({"type": "text", "text": p["text"]})
        elif p.get("type") == "image_url" and isinstance(url, str) and url:
            blocks.append({"type": "image", "source": _source(url)})
        elif p.get("type") == "file" and isinstance(data, str) and data.startswith("data:"):
            blocks.append({"type": "document", "source": _source(data)})
    return blocks


def _source(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media_type, "data": data}
    return {"type": "url", "url": url}


def _anthropic_tool(fn: dict[str, Any]) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": fn.get("name")}
    if fn.get("description"):
        tool["description"] = fn["description"]
    tool["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    return tool


# Anthropic → OpenAI: the answer


def openai_completion(body: dict[str, Any], model: str) -> dict[str, Any]:
    """An Anthropic message → an OpenAI chat completion (object "chat.completion")."""
    blocks = [_obj(b) for b in _seq(body.get("content"))]
    calls = _tool_calls(blocks)
    message: dict[str, Any] = {"role": "assistant", "content": _text(blocks, "") or (None if calls else ""),
                               "refusal": None}  # fmt: skip
    if calls:
        message["tool_calls"] = calls
    mid = body.get("id")
    return {"id": "chatcmpl-" + (mid if isinstance(mid, str) and mid else uuid.uuid4().hex),
            "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": _stop(TO_OPENAI_STOP, body.get("stop_reason"), "stop")}],
            "usage": _openai_usage(anthropic_usage(body) or (0, 0, 0, 0))}  # fmt: skip

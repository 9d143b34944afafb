"""Gemini through the `google-genai` SDK: an OpenAI chat request becomes streamGenerateContent (system
instruction split out, assistant turns as role "model", tool calls as functionCall / functionResponse parts), and
its chunks become vendor_call events. `base_url` reaches any compatible endpoint (a stand-in in the tests)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

from google import genai
from google.genai import errors, types

from app.providers.vendor_call import (
    VendorFailure,
    VendorTarget,
    end,
    finish_reason,
    status_failure,
    stop_list,
    text_of,
)

VENDOR = "Gemini"
CONFIG_FIELDS = {"temperature": "temperature", "top_p": "top_p", "seed": "seed",
                 "presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}  # fmt: skip


@functools.lru_cache(maxsize=32)
def _client(api_key: str, base_url: str, timeout_s: float) -> genai.Client:
    # attempts=1: no SDK retries (the gateway is the retry loop); timeout in milliseconds; no redirects followed
    # (the SDK's client follows them by default: RELIABILITY X3)
    options = types.HttpOptions(base_url=base_url, timeout=int(timeout_s * 1000),
                                retry_options=types.HttpRetryOptions(attempts=1),
                                client_args={"follow_redirects": False})  # fmt: skip
    return genai.Client(api_key=api_key, http_options=options)


def _json_object(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {"content": raw}
    return raw if isinstance(raw, dict) else {"content": raw}


def vendor_request(request: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(contents, config) for generate_content_stream."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_call_id → function name (functionResponse wants the name)
    for m in request["messages"]:
        role, text = m["role"], text_of(m.get("content"))
        if role in ("system", "developer"):
            system.append(text)
            continue
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        if role == "assistant":
            for call in m.get("tool_calls") or []:
                fn = call.get("function") or {}
                names[call.get("id") or ""] = fn.get("name", "")
                parts.append({"function_call": {"name": fn.get("name", ""), "args": _json_object(fn.get("arguments"))}})
            turn = "model"
        elif role in ("tool", "function"):
            name = names.get(m.get("tool_call_id") or "", m.get("name") or "tool")
            parts = [{"function_response": {"name": name, "response": _json_object(m.get("content"))}}]
            turn = "user"
        else:
            turn = "user"
        contents.append({"role": turn, "parts": parts or [{"text": ""}]})
    config: dict[str, Any] = {theirs: request[ours] for ours, theirs in CONFIG_FIELDS.items()
                              if request.get(ours) is not None}  # fmt: skip
    if system:
        config["system_instruction"] = "\n\n".join(system)
    if (limit := request.get("max_tokens") or request.get("max_completion_tokens")) is not None:
        config["max_output_tokens"] = limit
    if (stops := stop_list(request.get("stop"))) is not None:
        config["stop_sequences"] = stops
    declarations = [
        {"name": t["function"]["name"], "description": t["function"].get("description") or "",
         "parameters_json_schema": t["function"].get("parameters") or {"type": "object", "properties": {}}}
        for t in request.get("tools") or [] if isinstance(t.get("function"), dict) and t["function"].get("name")
    ]  # fmt: skip
    if declarations:
        config["tools"] = [{"function_declarations": declarations}]
    return contents, config


def _failure(exc: Exception, timeout_s: float) -> VendorFailure:
    if isinstance(exc, errors.APIError):
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return status_failure(VENDOR, int(exc.code or 502), headers)
    if "timeout" in type(exc).__name__.lower():
        return VendorFailure("timeout", f"{VENDOR} did not answer in {timeout_s:g} s")
    if "connect" in type(exc).__name__.lower():
        return VendorFailure("connect", f"{VENDOR} is unreachable")
    return VendorFailure("server", f"{VENDOR}'s answer broke ({type(exc).__name__})")


def stream_chat(target: VendorTarget, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    client = _client(target.api_key, target.base_url, target.timeout_s)
    contents, config = vendor_request(request)
    reason, prompt, done, model = "stop", 0, 0, target.model
    calls = 0
    try:
        for chunk in client.models.generate_content_stream(model=target.model, contents=contents, config=config):  # type: ignore[arg-type]
            model = chunk.model_version or model
            if chunk.usage_metadata is not None:
                prompt = chunk.usage_metadata.prompt_token_count or prompt
                done = chunk.usage_metadata.candidates_token_count or done
            candidate = chunk.candidates[0] if chunk.candidates else None
            if candidate is None:
                continue
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.text and not part.thought:
                    yield {"type": "delta", "text": part.text}
                elif part.function_call is not None:
                    fc = part.function_call
                    yield {"type": "delta", "text": "", "tool_calls": [
                        {"index": calls, "id": fc.id or f"call_{calls}", "type": "function",
                         "function": {"name": fc.name or "", "arguments": json.dumps(fc.args or {})}}]}  # fmt: skip
                    calls += 1
            if candidate.finish_reason is not None:
                reason = "tool_calls" if calls else finish_reason(candidate.finish_reason)
    except VendorFailure:
        raise
    except Exception as exc:  # the SDK's errors and httpx's, raised while the stream opens or runs
        raise _failure(exc, target.timeout_s) from None
    yield end(reason, prompt, done, model)

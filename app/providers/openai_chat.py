"""OpenAI chat completions through the `openai` SDK: the OpenAI adapter, and Grok (xAI's API is
OpenAI-compatible). The request passes through nearly as is; the stream comes back as vendor_call events."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import openai

from app.providers.vendor_call import VendorFailure, VendorTarget, end, finish_reason, status_failure

# What the vendor is sent besides model/messages/stream (the adapter picks the model; n>1 is not relayed).
PASSED = ("temperature", "top_p", "stop", "max_tokens", "max_completion_tokens", "presence_penalty",
          "frequency_penalty", "logit_bias", "seed", "tools", "tool_choice", "parallel_tool_calls",
          "response_format", "user", "reasoning_effort")  # fmt: skip


@functools.lru_cache(maxsize=32)
def _client(api_key: str, base_url: str, timeout_s: float) -> openai.OpenAI:
    # One pooled client per key and endpoint; max_retries=0: the gateway is the retry loop. The SDK's default
    # client follows redirects: a vendor URL bouncing us to Redis or a metadata service would be obeyed (X3).
    return openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=0,
                         http_client=openai.DefaultHttpxClient(follow_redirects=False))  # fmt: skip


def vendor_request(request: dict[str, Any]) -> dict[str, Any]:
    params = {k: request[k] for k in PASSED if request.get(k) is not None}
    messages = []
    for m in request["messages"]:
        messages.append({k: v for k, v in m.items() if v is not None})
    return {"messages": messages, **params}


def stream_chat(target: VendorTarget, request: dict[str, Any], vendor: str = "OpenAI") -> Iterator[dict[str, Any]]:
    client = _client(target.api_key, target.base_url, target.timeout_s)
    try:
        stream = client.chat.completions.create(
            model=target.model, stream=True, stream_options={"include_usage": True}, **vendor_request(request)
        )
    except openai.APIStatusError as exc:
        raise status_failure(vendor, exc.status_code, exc.response.headers) from None
    except openai.APITimeoutError:
        raise VendorFailure("timeout", f"{vendor} did not answer in {target.timeout_s:g} s") from None
    except openai.APIConnectionError:
        raise VendorFailure("connect", f"{vendor} is unreachable") from None
    reason, prompt, done, model = "stop", 0, 0, target.model
    try:
        with stream:
            for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    prompt, done = chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    d = choice.delta
                    calls = [c.model_dump(exclude_none=True) for c in d.tool_calls] if d and d.tool_calls else None
                    if d is not None and (d.content or calls):
                        yield {"type": "delta", "text": d.content or "", **({"tool_calls": calls} if calls else {})}
                    if choice.finish_reason:
                        reason = finish_reason(choice.finish_reason)
    except openai.APIStatusError as exc:  # an error event inside the stream
        raise status_failure(vendor, exc.status_code, exc.response.headers) from None
    except openai.APITimeoutError:
        raise VendorFailure("timeout", f"{vendor} stopped answering for {target.timeout_s:g} s") from None
    except (openai.APIConnectionError, openai.APIError):
        raise VendorFailure("server", f"{vendor}'s stream broke") from None
    yield end(reason, prompt, done, model)

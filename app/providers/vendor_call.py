"""What the vendor clients (openai_chat, anthropic_messages, gemini_content) share: the call's target, the
events they yield, and the one failure type every SDK error becomes.

A client is a generator `stream_chat(target, request) -> Iterator[event]` over an OpenAI chat request (a dict, as
contracts.models.ModelChatRequest dumps it). Events:
- {"type": "delta", "text": str, "tool_calls": [OpenAI tool-call deltas]?}
- {"type": "end", "finish_reason": stop|length|content_filter|tool_calls, "usage": {prompt_tokens,
  completion_tokens}, "model": str}  (last)
Closing the generator closes the vendor's stream. No retries here: the gateway is the one retry loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_RETRY_AFTER_S = 300.0
FailureKind = Literal["auth", "rate_limited", "server", "timeout", "connect", "bad_request"]


@dataclass(frozen=True)
class VendorTarget:
    model: str
    api_key: str
    base_url: str
    timeout_s: float

    def __repr__(self) -> str:  # never the key, whoever prints a target
        return f"VendorTarget(model={self.model!r}, base_url={self.base_url!r})"


class VendorFailure(Exception):
    """A vendor call that failed. `message` is PAS's own words (never the vendor's text: vendors quote the key
    back in their 401 bodies)."""

    def __init__(
        self, kind: FailureKind, message: str, vendor_status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.vendor_status = vendor_status
        self.retry_after_s = retry_after_s


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After in seconds (a number; an HTTP date is ignored), bounded."""
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def status_failure(vendor: str, status: int, headers: Mapping[str, str] | None = None) -> VendorFailure:
    if 300 <= status < 400:  # never followed (an allowlisted host could bounce us inside: RELIABILITY X3)
        return VendorFailure("server", f"{vendor} answered with a redirect (HTTP {status}), not followed", status)
    if status in (401, 403):
        return VendorFailure("auth", f"{vendor} rejected the API key (HTTP {status})", status)
    if status == 429:
        return VendorFailure("rate_limited", f"{vendor} rate-limited the call (HTTP 429)", status, retry_after(headers))
    if status in {408, 504}:
        return VendorFailure("timeout", f"{vendor} timed out (HTTP {status})", status)
    if status >= 500:
        return VendorFailure("server", f"{vendor} failed (HTTP {status})", status, retry_after(headers))
    return VendorFailure("bad_request", f"{vendor} refused the request (HTTP {status})", status)


FINISH = {
    # OpenAI / Grok
    "stop": "stop", "length": "length", "content_filter": "content_filter", "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    # Anthropic
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
    "pause_turn": "stop", "refusal": "content_filter",
    # Gemini
    "STOP": "stop", "MAX_TOKENS": "length", "SAFETY": "content_filter", "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter", "PROHIBITED_CONTENT": "content_filter", "SPII": "content_filter",
}  # fmt: skip


def finish_reason(vendor_reason: Any) -> str:
    """A vendor's stop reason as one of OpenAI's four (unknown: stop)."""
    key = getattr(vendor_reason, "value", vendor_reason)
    return FINISH.get(str(key), "stop") if key is not None else "stop"


def end(reason: str, prompt_tokens: int, completion_tokens: int, model: str) -> dict[str, Any]:
    return {"type": "end", "finish_reason": reason, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}  # fmt: skip


def text_of(content: Any) -> str:
    """An OpenAI message content (a string or a list of parts) as plain text."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def stop_list(stop: Any) -> list[str] | None:
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else [str(s) for s in stop]

"""How one call travels to one provider and back: the path, the body and the headers the provider's protocol wants,
and how its answer reaches the caller — as it came when the caller speaks the provider's protocol (pass-through),
translated when not (app/domain/gateway/anthropic_translation.py). The caller speaks `openai` (/v1) or `anthropic`
(/anthropic/v1); a provider speaks `openai` (/chat/completions) or `anthropic` (/v1/messages)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.gateway.anthropic_streams import AnthropicSseTally, AnthropicStreamFromOpenAI, OpenAIStreamFromAnthropic
from app.domain.gateway.anthropic_translation import (
    anthropic_message,
    anthropic_request,
    anthropic_usage,
    openai_completion,
    openai_request,
)
from app.domain.gateway.pricing import estimate_prompt_tokens
from app.domain.gateway.relay import SseTally, cached_tokens, estimate_completion
from app.domain.provider_router.routing import Provider
from app.domain.token_governor.tokens import CHARS_PER_TOKEN

# (input without cache, output, cache read, cache written): what a receipt counts of one call
Usage = tuple[int, int, int, int]
ANTHROPIC_VERSION = "2023-06-01"
# Headers of the caller's an Anthropic-protocol upstream needs as they came (the version and beta features the
# body relies on); never its credentials, which are PAS's to choose.
ANTHROPIC_FORWARD = ("anthropic-version", "anthropic-beta")
# Claude Code's own headers name the session and sub-agent: every upstream gets them (its logs join PAS's, as
# with X-PAS-Receipt-Id); they are ids, not secrets.
CLAUDE_CODE_FORWARD = ("x-claude-code-session-id", "x-claude-code-agent-id")
FORWARDED = ANTHROPIC_FORWARD + CLAUDE_CODE_FORWARD
OPENAI_BROKEN = b'data: {"error":{"message":"upstream stream broke","type":"upstream_error"}}\n\n'
ANTHROPIC_BROKEN = (
    b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"upstream stream broke"}}\n\n'
)


class Relay(Protocol):
    """A stream on its way from the provider to the caller: what to send on now, and what it counted."""

    broken: bytes  # what the caller gets when the upstream breaks off

    @property
    def done(self) -> bool:  # the stream ended as its protocol ends one (a bare EOF is a broken stream)
        ...

    @property
    def usage(self) -> Usage | None: ...

    @property
    def chars(self) -> int: ...

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...


class OpenAIPass:
    """An OpenAI stream to an OpenAI caller: relayed as it came, counted on the way."""

    broken = OPENAI_BROKEN

    def __init__(self) -> None:
        self._tally = SseTally()

    @property
    def done(self) -> bool:
        return self._tally.done

    @property
    def chars(self) -> int:
        return self._tally.chars

    @property
    def usage(self) -> Usage | None:
        u, cached = self._tally.usage, self._tally.cached
        return None if u is None else (max(0, u[0] - cached), u[1], min(cached, u[0]), 0)

    def feed(self, chunk: bytes) -> bytes:
        self._tally.feed(chunk)
        return chunk

    def close(self) -> bytes:
        return b""


class AnthropicPass:
    """An Anthropic stream to an Anthropic caller: relayed as it came (pass-through), counted on the way."""

    broken = ANTHROPIC_BROKEN

    def __init__(self) -> None:
        self._tally = AnthropicSseTally()

    @property
    def done(self) -> bool:  # an `error` event ends an Anthropic stream too
        return self._tally.done or self._tally.error is not None

    @property
    def chars(self) -> int:
        return self._tally.chars

    @property
    def usage(self) -> Usage | None:
        return self._tally.usage

    def feed(self, chunk: bytes) -> bytes:
        self._tally.feed(chunk)
        return chunk

    def close(self) -> bytes:
        return b""


class Translated:
    """A relay through one of the translating stream classes (they count as they go)."""

    def __init__(self, inner: AnthropicStreamFromOpenAI | OpenAIStreamFromAnthropic, broken: bytes) -> None:
        self._inner = inner
        self.broken = broken

    @property
    def done(self) -> bool:  # an error event the translation relayed ends the stream: nothing more to add
        return bool(self._inner.done) or self._inner.error is not None

    @property
    def chars(self) -> int:
        return int(self._inner.chars)

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    def feed(self, chunk: bytes) -> bytes:
        return self._inner.feed(chunk)

    def close(self) -> bytes:
        return self._inner.close()


@dataclass(frozen=True)
class Wire:
    path: str
    body: bytes
    headers: dict[str, str]
    answer: Callable[[bytes], bytes]  # the provider's body → the caller's
    usage: Callable[[bytes], Usage | None]  # read from the provider's body
    completion_estimate: Callable[[bytes], int]  # output tokens when the provider reports none
    relay: Callable[[], Relay]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def openai_usage(body: bytes) -> Usage | None:
    """(prompt - cached, completion, cached, 0): OpenAI's prompt tokens include those read from its cache."""
    try:
        u = json.loads(body).get("usage")
        prompt, cached = int(u["prompt_tokens"]), cached_tokens(u)
        return max(0, prompt - cached), int(u["completion_tokens"]), min(cached, prompt), 0
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _anthropic_body_usage(body: bytes) -> Usage | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return anthropic_usage(parsed) if isinstance(parsed, dict) else None


def _anthropic_chars(body: bytes) -> int:
    try:
        blocks = json.loads(body).get("content") or []
        text = sum(len(str(b.get("text") or "")) for b in blocks if isinstance(b, dict))
    except (ValueError, AttributeError, TypeError):
        return 0
    return -(-text // CHARS_PER_TOKEN)


def with_model(raw: bytes, model: str) -> bytes:
    """The body with its top-level `model` set, every other byte as it came: pass-through re-serialises nothing.
    (A body PAS cannot splice — the key absent — gets `model` added in front.)"""
    text = raw.decode("utf-8")
    decoder = json.JSONDecoder()
    i = _ws(text, 0)
    if text[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = _ws(text, i + 1)
    while text[i : i + 1] == '"':
        key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
        i = _ws(text, i)
        if text[i : i + 1] != ":":
            raise ValueError("not a JSON object")
        start = _ws(text, i + 1)
        _, end = decoder.raw_decode(text, start)
        if key == "model":
            return (text[:start] + json.dumps(model) + text[end:]).encode()
        i = _ws(text, end)
        if text[i : i + 1] != ",":
            break
        i = _ws(text, i + 1)
    head = _ws(text, 0) + 1
    return (text[:head] + f'"model":{json.dumps(model)},' + text[head:]).encode()


def _ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def wire(
    surface: str, provider: Provider, payload: dict[str, Any], raw: bytes | None, caller_headers: dict[str, str]
) -> Wire:
    """How `payload` (as the caller sent it: `raw`, parsed) reaches `provider`, and its answer the caller."""
    model = provider.model
    ids = {k: v for k, v in caller_headers.items() if k.lower() in CLAUDE_CODE_FORWARD}
    if provider.protocol == "anthropic":
        headers = {"anthropic-version": ANTHROPIC_VERSION, **ids}
        headers.update({k: v for k, v in caller_headers.items() if k.lower() in ANTHROPIC_FORWARD})
        if surface == "anthropic":
            body = with_model(raw, model) if raw is not None else _dumps({**payload, "model": model})
            return Wire("/v1/messages", body, headers, lambda b: b, _anthropic_body_usage, _anthropic_chars,
                        AnthropicPass)  # fmt: skip
        requested = str(payload.get("model") or model)
        out = {**anthropic_request(payload), "model": model}
        if payload.get("stream"):
            out["stream"] = True
        return Wire(
            "/v1/messages", _dumps(out), headers,
            lambda b: _dumps(openai_completion(json.loads(b), requested)), _anthropic_body_usage, _anthropic_chars,
            lambda: Translated(OpenAIStreamFromAnthropic(requested), OPENAI_BROKEN),
        )  # fmt: skip
    if surface == "anthropic":
        requested = str(payload.get("model") or model)
        translated = {**openai_request(payload), "model": model}
        estimate = estimate_prompt_tokens(translated)
        return Wire(
            "/chat/completions", _dumps(translated), ids,
            lambda b: _dumps(anthropic_message(json.loads(b), requested)), openai_usage, estimate_completion,
            lambda: Translated(AnthropicStreamFromOpenAI(requested, estimate), ANTHROPIC_BROKEN),
        )  # fmt: skip
    return Wire("/chat/completions", _dumps({**payload, "model": model}), ids, lambda b: b, openai_usage,
                estimate_completion, OpenAIPass)  # fmt: skip


def openai_shaped(surface: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The call as an OpenAI chat request, for the estimates a budget hold is made of."""
    return openai_request(payload) if surface == "anthropic" else payload

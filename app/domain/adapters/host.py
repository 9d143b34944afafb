"""The worker side of the vendor adapters: one AdapterHost per adapter worker process runs each call (the vendor's
SDK, streamed into the call's sink), maps the vendor's failures onto the statuses the gateway retries and falls
back on, and keeps each adapter's state: healthy, or degraded with a reason (no key, the key rejected, rate-limited,
cooling down after consecutive failures). The registry heartbeats and the host's live facts carry that state."""

from __future__ import annotations

import functools
import logging
import os
import socket
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.domain.adapters.config import Lookup, api_key, base_url
from app.providers import anthropic_messages, gemini_content, openai_chat
from app.providers.vendor_call import VendorFailure, VendorTarget
from contracts.models import AdapterConfig

log = logging.getLogger("pas.adapters")

VendorClient = Callable[[VendorTarget, dict[str, Any]], Iterator[dict[str, Any]]]
CLIENTS: dict[str, VendorClient] = {
    "openai": openai_chat.stream_chat,
    "anthropic": anthropic_messages.stream_chat,
    "gemini": gemini_content.stream_chat,
    "grok": functools.partial(openai_chat.stream_chat, vendor="Grok"),  # xAI's API is OpenAI's protocol
}

# A vendor failure as the adapter answers it: (HTTP status, code). 503/502/504/429 are what the gateway retries
# and falls back on; a request the vendor refused (4xx) would be refused by the next vendor too.
ANSWER = {
    "auth": (503, "auth_failed"),
    "rate_limited": (429, "rate_limited"),
    "server": (502, "vendor_error"),
    "connect": (502, "vendor_unreachable"),
    "timeout": (504, "timeout"),
    "bad_request": (400, "vendor_rejected"),
}


class Sink(Protocol):
    cancelled: bool

    def delta(self, text: str = "", tool_calls: list[dict[str, Any]] | None = None) -> None: ...
    def end(self, finish_reason: str, usage: dict[str, Any], model: str, **extra: Any) -> None: ...
    def error(self, status: int, message: str, code: str = ..., retry_after_s: float | None = None) -> None: ...


@dataclass(frozen=True)
class HostConfig:
    timeout_s: float = 60.0
    trip_after: int = 3
    cooldown_s: float = 30.0
    auth_retry_s: float = 300.0


@dataclass
class _State:
    failures: int = 0  # consecutive 5xx / timeouts / unreachable
    cooldown_until: float = 0.0
    cooldown_reason: str = ""
    auth_failed_until: float = 0.0
    requests: int = 0
    last_request_ms: float | None = None
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    first_token_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    tokens_per_s: deque[float] = field(default_factory=lambda: deque(maxlen=200))


class AdapterHost:
    def __init__(
        self,
        adapters: tuple[AdapterConfig, ...],
        lookup: Lookup,
        config: HostConfig,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapters: dict[str, AdapterConfig] = {a.provider: a for a in adapters}
        self._lookup = lookup
        self.config = config
        self._on_change = on_change  # a state change: heartbeat now, not at the next interval
        self._clock = clock
        self._state: dict[str, _State] = {a.provider: _State() for a in adapters}
        self._lock = threading.Lock()
        self.started_at = time.time()

    # state

    def key_present(self, provider: str) -> bool:
        return api_key(self.adapters[provider], self._lookup) is not None

    def status(self, provider: str) -> tuple[str, str | None]:
        """("healthy", None) or ("degraded", why)."""
        adapter, s, now = self.adapters[provider], self._state[provider], self._clock()
        if not self.key_present(provider):
            return "degraded", f"no API key: set {' or '.join(adapter.key_env)} (environment or .env)"
        if s.auth_failed_until > now:
            left = s.auth_failed_until - now
            return "degraded", f"{provider} rejected the API key; trying it again in {left:.0f} s"
        if s.cooldown_until > now:
            return "degraded", f"cooling down for {s.cooldown_until - now:.0f} s after {s.cooldown_reason}"
        return "healthy", None

    def next_change_s(self) -> float | None:
        """Seconds until a cooldown or an auth hold ends (the heartbeat comes then, not an interval later)."""
        now = self._clock()
        ends = [t - now for s in self._state.values() for t in (s.cooldown_until, s.auth_failed_until) if t > now]
        return min(ends) + 0.01 if ends else None

    def facts(self) -> dict[str, Any]:
        """What the web side's /health and /info show (no key, ever: only whether one is set)."""
        out: dict[str, Any] = {}
        for provider, s in self._state.items():
            status, reason = self.status(provider)
            with self._lock:
                lat, ft, tps = list(s.latencies_ms), list(s.first_token_ms), list(s.tokens_per_s)
            out[provider] = {
                "status": status,
                "reason": reason,
                "api_key_present": self.key_present(provider),
                "last_request_ms": s.last_request_ms,
                "performance": {
                    "requests": s.requests,
                    "latency_ms_p50": round(statistics.median(lat), 3) if lat else None,
                    "first_token_ms": round(statistics.median(ft), 3) if ft else None,
                    "tokens_per_second": round(statistics.median(tps), 3) if tps else None,
                },
            }
        return {"pid": os.getpid(), "hostname": socket.gethostname(), "started_at": self.started_at,
                "ts": time.time(), "adapters": out}  # fmt: skip

    def _succeeded(self, provider: str, ms: float, first_ms: float | None, tokens: int) -> None:
        s = self._state[provider]
        changed = s.failures > 0 or s.auth_failed_until > 0 or s.cooldown_until > 0
        with self._lock:
            s.requests += 1
            s.failures, s.auth_failed_until, s.cooldown_until = 0, 0.0, 0.0
            s.last_request_ms = round(ms, 3)
            s.latencies_ms.append(ms)
            if first_ms is not None:
                s.first_token_ms.append(first_ms)
                if tokens and ms > first_ms:
                    s.tokens_per_s.append(tokens / ((ms - first_ms) / 1000))
        if changed:
            self._on_change()

    def _failed(self, provider: str, failure: VendorFailure, ms: float) -> None:
        s, now = self._state[provider], self._clock()
        with self._lock:
            s.requests += 1
            s.last_request_ms = round(ms, 3)
            if failure.kind == "auth":
                s.auth_failed_until = now + self.config.auth_retry_s
            elif failure.kind == "rate_limited":
                s.cooldown_until = now + (failure.retry_after_s or self.config.cooldown_s)
                s.cooldown_reason = "a rate limit (HTTP 429)"
            elif failure.kind in ("server", "timeout", "connect"):
                s.failures += 1
                if s.failures >= self.config.trip_after:
                    s.cooldown_until = now + self.config.cooldown_s
                    s.cooldown_reason = f"{s.failures} vendor failures in a row ({failure.kind})"
        self._on_change()

    # calls

    def run(self, provider: str, request: dict[str, Any], sink: Sink) -> None:
        """One call: the vendor's stream into the sink, to its end or error; stops when the client has gone."""
        adapter = self.adapters.get(provider)
        if adapter is None:
            sink.error(404, f"no adapter {provider!r} here", "not_found")
            return
        key = api_key(adapter, self._lookup)
        if key is None:
            sink.error(503, f"{provider} adapter has no API key ({' or '.join(adapter.key_env)})", "no_api_key")
            return
        if sink.cancelled:  # the client went away while the call was queued
            sink.error(499, "the client went away", "cancelled")
            return
        target = VendorTarget(adapter.model, key, base_url(adapter, self._lookup), self.config.timeout_s)
        t0, first = self._clock(), None
        events = CLIENTS[provider](target, request)
        try:
            for event in events:
                if sink.cancelled:
                    log.info("adapter_call_cancelled", extra={"provider": provider})
                    sink.error(499, "the client went away", "cancelled")  # ends the sink; nobody reads it
                    return
                if event["type"] == "delta":
                    first = first if first is not None else self._clock()
                    sink.delta(event.get("text") or "", event.get("tool_calls"))
                elif event["type"] == "end":
                    ms = (self._clock() - t0) * 1000
                    first_ms = (first - t0) * 1000 if first is not None else None
                    self._succeeded(provider, ms, first_ms, int(event["usage"].get("completion_tokens") or 0))
                    sink.end(event["finish_reason"], event["usage"], event["model"], provider=provider)
                    return
        except VendorFailure as failure:
            self._failed(provider, failure, (self._clock() - t0) * 1000)
            status, code = ANSWER[failure.kind]
            if failure.kind == "bad_request" and failure.vendor_status is not None:
                status = failure.vendor_status
            log.info("adapter_call_failed", extra={"provider": provider, "kind": failure.kind,
                                                   "vendor_status": failure.vendor_status})  # fmt: skip
            sink.error(status, failure.message, code, failure.retry_after_s)
            return
        except Exception as exc:  # a bug or an SDK surprise: its text may quote the vendor, so only its type
            log.error("adapter_call_broke", extra={"provider": provider, "error": type(exc).__name__})
            sink.error(502, f"the {provider} adapter failed ({type(exc).__name__})", "adapter_error")
            return
        finally:
            events.close()  # type: ignore[attr-defined]
        sink.error(502, f"{provider} ended its answer without finishing it", "vendor_error")

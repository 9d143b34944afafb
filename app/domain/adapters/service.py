"""The web side of the vendor adapters: /health, /info and GET / from the adapter workers' live facts (no live
worker → degraded, and chat answers 503), and /chat/completions as a call on the `adapters` queue whose events
come back as one OpenAI body or as server-sent chunks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from app.domain.adapters.config import ENDPOINTS, QUEUE, TASK, Lookup, api_key
from app.domain.errors import ModelUnavailable, NotFound
from app.domain.llm_calls import answers
from app.domain.llm_calls.channel import CallStream
from app.domain.llm_calls.client import ModelCalls
from contracts.models import (
    AdapterConfig,
    AdapterEndpoints,
    AdapterIndex,
    AdapterInfo,
    AdapterModelFacts,
    ModelChatRequest,
    ModelHealth,
    Performance,
)

NO_WORKER = "no adapter worker running (pas up starts one; elsewhere: pas worker --adapters)"
NOT_SENT = {"model", "stream", "stream_options"}  # the port picks the model; the worker always streams


class Adapters:
    def __init__(
        self,
        adapters: tuple[AdapterConfig, ...],
        lookup: Lookup,
        calls: ModelCalls,
        host_facts: Callable[[], dict[str, Any] | None],
        version: str,
    ) -> None:
        self._adapters: dict[str, AdapterConfig] = {a.provider: a for a in adapters}
        self._lookup = lookup
        self._calls = calls
        self._host_facts = host_facts
        self._version = version

    def config(self, provider: str) -> AdapterConfig:
        adapter = self._adapters.get(provider)
        if adapter is None:
            raise NotFound(f"adapter {provider!r} is not configured (config/adapters.json)", field="provider")
        return adapter

    def _live(self, provider: str) -> dict[str, Any] | None:
        facts = self._host_facts()
        entry = (facts or {}).get("adapters", {}).get(provider)
        return {**entry, "started_at": facts.get("started_at")} if facts and isinstance(entry, dict) else None

    def health(self, provider: str, service: str, port: int) -> ModelHealth:
        adapter, live = self.config(provider), self._live(provider)
        reason: str | None
        if live is None:
            status, reason = "degraded", NO_WORKER
            key_present = api_key(adapter, self._lookup) is not None  # what this process sees
            uptime, last = 0.0, None
        else:
            status, reason = str(live.get("status") or "degraded"), str(live.get("reason") or "") or None
            key_present = bool(live.get("api_key_present"))
            started = live.get("started_at")
            uptime = round(time.time() - started, 3) if isinstance(started, int | float) else 0.0
            last = live.get("last_request_ms")
        return ModelHealth(
            status="healthy" if status == "healthy" else "degraded",
            service=service,
            port=port,
            model=adapter.model,
            model_loaded=live is not None and key_present,
            uptime_seconds=max(uptime, 0.0),
            last_request_ms=last if isinstance(last, int | float) else None,
            reason=reason if status != "healthy" else None,
            provider=provider,
            api_key_present=key_present,
        )

    def info(self, provider: str, service: str) -> AdapterInfo:
        adapter, live = self.config(provider), self._live(provider)
        perf = live.get("performance") if live else None
        return AdapterInfo(
            service_name=service,
            version=self._version,
            provider=provider,
            model=AdapterModelFacts(
                name=adapter.model,
                provider=provider,
                context_window=adapter.context_window,
                cost_per_input_token=adapter.cost_per_input_token,
                cost_per_output_token=adapter.cost_per_output_token,
                capabilities=adapter.capabilities,
            ),
            performance=Performance.model_validate(perf) if isinstance(perf, dict) else Performance(),
            endpoints=ENDPOINTS,
        )

    def index(self, provider: str, service: str, port: int, prefix: str) -> AdapterIndex:
        health = self.health(provider, service, port)
        return AdapterIndex(
            service=service,
            version=self._version,
            port=port,
            status=health.status,
            provider=provider,
            model=health.model,
            endpoints=AdapterEndpoints(
                chat=f"{prefix}/chat/completions",
                health=f"{prefix}/health",
                info=f"{prefix}/info",
                docs=f"{prefix}/docs",
            ),
            docs=f"{prefix}/docs",
        )

    # calls

    def _start(self, provider: str, req: ModelChatRequest) -> CallStream:
        adapter, live = self.config(provider), self._live(provider)
        if live is None:
            raise ModelUnavailable(f"{provider} adapter: {NO_WORKER}")
        if not live.get("api_key_present"):
            raise ModelUnavailable(f"{provider} adapter has no API key: set {' or '.join(adapter.key_env)}")
        request = req.model_dump(exclude_unset=True, exclude_none=True, exclude=NOT_SENT)
        return self._calls.start(QUEUE, TASK, {"provider": provider, "request": request})

    def complete(self, provider: str, req: ModelChatRequest) -> dict[str, Any]:
        """The whole answer as one chat.completion body."""
        return answers.complete(self._start(provider, req), self.config(provider).model, _who(provider))

    def stream(self, provider: str, req: ModelChatRequest) -> Iterator[bytes]:
        """Server-sent chunks (the first event awaited: llm_calls/answers.py)."""
        return answers.streamed(self._start(provider, req), self.config(provider).model, _who(provider))


def _who(provider: str) -> str:
    return f"the {provider} adapter worker"

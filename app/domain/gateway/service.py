"""The gateway: resolve through the router, call the upstream for real (retries, fallback, circuit breaker),
and leave a receipt for every call — pending before the upstream call, final after (RELIABILITY decision 5)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from app.domain.errors import (
    BudgetExceeded,
    LoopDetected,
    NoProvider,
    UpstreamError,
    UpstreamTimeout,
)
from app.domain.gateway.calls import Call, CallMeta, CallResult, GatewayConfig
from app.domain.gateway.pricing import cost_usd, estimate_prompt_tokens, max_out_tokens
from app.domain.gateway.receipt_log import ReceiptLog
from app.domain.gateway.relay import describe
from app.domain.gateway.reports import GatewayReports
from app.domain.gateway.shipping import idempotent, ship_receipts
from app.domain.gateway.upstream import HOPS_HEADER, RECEIPT_HEADER, ScrubbedStream, ScrubbingClient
from app.domain.gateway.wires import Relay, Usage, Wire, openai_shaped, wire
from app.domain.ids import new_id
from app.domain.provider_router.routing import Ask, Decision, Provider, Scored
from app.domain.provider_router.service import ProviderRouter, candidate
from app.domain.timefmt import iso
from app.domain.token_governor.tokens import CHARS_PER_TOKEN
from app.providers.openai_compat import OpenAICompatClient, UpstreamFailure
from models.gateway_store import AttemptRecord, FinishOutcome, GatewayStore, to_micro
from models.receipt_store import ReceiptStore

log = logging.getLogger("pas.gateway")

CLIENT_ERRORS = frozenset({400, 404, 413, 422})  # the request's fault: the client gets the upstream's answer


class Gateway(GatewayReports):
    def __init__(
        self,
        router: ProviderRouter,
        store: GatewayStore,
        receipts: ReceiptStore,
        client: OpenAICompatClient,
        emit: Callable[[list[str]], None],
        config: GatewayConfig,
        provider_headers: Callable[[Provider], dict[str, str]] = lambda p: {},
        sleep: Callable[[float], None] = time.sleep,
        secrets: Callable[[], Iterable[str]] = tuple,
        observe: Callable[[dict[str, Any], Provider | None], None] = lambda receipt, provider: None,
    ) -> None:
        self.router = router
        self._store = store
        self._receipts = receipts
        self._client = ScrubbingClient(client, secrets)  # every upstream byte comes in through the scrubber
        self._emit = emit
        self.config = config
        self._log = ReceiptLog(config.costs_dir)
        self._headers = provider_headers
        self._sleep = sleep
        self._observe = observe  # each closed receipt, once: the token governor takes a sub-agent's context

    @property
    def receipt_log(self) -> ReceiptLog:
        return self._log

    # --- the call -----------------------------------------------------------------------------------------

    def _start(self, ask: Ask, meta: CallMeta) -> Call:
        if meta.hops >= self.config.max_hops:
            log.warning("gateway_loop_refused", extra={"request_id": meta.request_id, "hops": meta.hops})
            raise LoopDetected(
                f"this call already passed through {meta.hops} PAS gateways ({HOPS_HEADER}): an upstream leads "
                "back to PAS", field=HOPS_HEADER, hops=meta.hops,
            )  # fmt: skip
        t0 = time.perf_counter()
        decision = self.router.decide(ask)
        return Call(meta, new_id(), t0, decision, (time.perf_counter() - t0) * 1000)

    def call(self, ask: Ask, payload: dict[str, Any] | None, meta: CallMeta, raw: bytes | None = None) -> CallResult:
        """Non-streaming. payload None = a dry run; `raw` = the body as the caller sent it (an Anthropic-protocol
        upstream gets it as it came). Raises NoProvider, BudgetExceeded, UpstreamError."""
        call = self._start(ask, meta)
        if call.decision.winner is None:
            self._close(call, None, "error", error="no provider meets the requirements")
            raise NoProvider("no provider meets the requirements", field="requirements",
                             rejected=[{"name": n, "reason": w} for n, w in call.decision.rejected])  # fmt: skip
        if payload is None:
            receipt = self._close(call, call.decision.winner.provider, "success", dry_run=True)
            return CallResult(receipt, None, call.decision)
        shaped = openai_shaped(meta.surface, payload)
        self._begin(call, shaped)
        failure: UpstreamFailure | None = None
        fallback_from: str | None = None
        for scored, way, reply_or_failure in self._attempts(call, payload, raw, stream=False):
            if isinstance(reply_or_failure, UpstreamFailure):
                failure = reply_or_failure
                continue
            body: bytes = reply_or_failure  # type: ignore[assignment]
            first = call.decision.ranked[0].provider.name
            fallback_from = first if scored.provider.name != first else None
            try:
                answer = way.answer(body)
            except (ValueError, TypeError, KeyError, AttributeError):  # not a body of the provider's protocol
                failure = UpstreamFailure("protocol_error", False, 502)
                break
            tokens = way.usage(body)
            exact = tokens is not None
            if tokens is None:
                tokens = (estimate_prompt_tokens(shaped), way.completion_estimate(body), 0, 0)
            receipt = self._close(call, scored.provider, "success", tokens=tokens, exact=exact,
                                  fallback_from=fallback_from)  # fmt: skip
            return CallResult(receipt, answer, call.decision)
        self._fail(call, failure)
        raise AssertionError("unreachable")

    def _fail(self, call: Call, failure: UpstreamFailure | None) -> None:
        timed_out = failure is None or failure.outcome == "timeout"
        status = "timeout" if timed_out else "error"
        message = "deadline passed before any upstream answered" if failure is None else describe(failure)
        last = call.records[-1].provider if call.records else None
        provider = self.router.provider(last) if last else None
        receipt = self._close(call, provider, status, error=message)
        if timed_out:
            raise UpstreamTimeout(message, status="timeout", receipt_id=receipt["receipt_id"])
        if failure is not None and failure.status == 508:  # a PAS further down refused a loop: say so, no retry
            raise LoopDetected(message, status="error", receipt_id=receipt["receipt_id"])
        exc = UpstreamError(message, status="error", receipt_id=receipt["receipt_id"])
        if failure is not None and failure.status in CLIENT_ERRORS:
            exc.upstream = (failure.status, failure.body)  # the OpenAI surface passes the client's error through
        raise exc

    def stream(self, ask: Ask, payload: dict[str, Any], meta: CallMeta, raw: bytes | None = None) -> Iterator[bytes]:
        """Streaming: retries and fallback only before the first byte; the receipt closes when the stream ends."""
        call = self._start(ask, meta)
        if call.decision.winner is None:
            self._close(call, None, "error", error="no provider meets the requirements")
            raise NoProvider("no provider meets the requirements", field="requirements")
        shaped = openai_shaped(meta.surface, payload)
        self._begin(call, shaped)
        failure: UpstreamFailure | None = None
        for scored, way, opened in self._attempts(call, payload, raw, stream=True):
            if isinstance(opened, UpstreamFailure):
                failure = opened
                continue
            assert isinstance(opened, ScrubbedStream)
            return self._relay(call, scored, way.relay(), opened, shaped)
        self._fail(call, failure)
        raise AssertionError("unreachable")

    def _relay(
        self, call: Call, scored: Scored, sse: Relay, upstream: ScrubbedStream, payload: dict[str, Any]
    ) -> Iterator[bytes]:
        first = call.decision.ranked[0].provider.name
        fallback_from = first if scored.provider.name != first else None
        status, error, relayed = "success", None, 0
        keep_ms = int(((call.meta.timeout_s or self.config.default_timeout_s) + self.config.interrupted_grace_s) * 1000)
        extended = time.monotonic()
        try:
            for chunk in upstream.chunks():
                relayed += len(chunk)
                out = sse.feed(chunk)
                if out:
                    yield out
                if time.monotonic() - extended > keep_ms / 4000:  # a long stream is alive: not the sweeper's
                    extended = time.monotonic()
                    self._store.extend_pending(call.receipt_id, keep_ms)
            rest = sse.close()
            if rest:
                yield rest
            if not sse.done:  # each protocol ends a stream in its own way; a bare EOF is a broken stream
                raise UpstreamFailure("stream_ended_early", False)
        except UpstreamFailure as exc:
            status, error = "partial", f"upstream stream broke after {relayed} bytes: {exc.outcome}"
            yield sse.broken
        except GeneratorExit:
            status, error = "partial", "client disconnected"
            raise
        finally:
            upstream.close()
            tokens = sse.usage
            exact = tokens is not None
            if tokens is None:
                tokens = (estimate_prompt_tokens(payload), -(-sse.chars // CHARS_PER_TOKEN), 0, 0)
            self._close(call, scored.provider, status, tokens=tokens, exact=exact, fallback_from=fallback_from,
                        error=error, stream=True)  # fmt: skip

    def _begin(self, call: Call, payload: dict[str, Any]) -> None:
        in_t, out_t = estimate_prompt_tokens(payload), max_out_tokens(payload)
        top = call.decision.ranked[: self.config.max_providers]
        call.estimate = max(to_micro(cost_usd(s.provider, in_t, out_t)) for s in top)
        meta = call.meta
        timeout = meta.timeout_s or self.config.default_timeout_s
        pending = {
            "receipt_id": call.receipt_id, "request_id": meta.request_id, "run_id": meta.run_id or "default",
            "agent": meta.agent, "provider": top[0].provider.name, "model": top[0].provider.model,
            "estimate": call.estimate, "started_ms": int(time.time() * 1000),
        }  # fmt: skip
        expire_ms = int((timeout + self.config.interrupted_grace_s) * 1000)
        outcome = self._store.begin(
            call.receipt_id, meta.run_id or "default", meta.agent, pending, call.estimate, expire_ms
        )
        if not outcome.granted:
            self._emit(outcome.events)
            pct = 100.0 * (outcome.spent + outcome.inflight) / outcome.budget if outcome.budget else 100.0
            scope = "run " + (meta.run_id or "default") if outcome.scope == "run" else "agent " + meta.agent
            detail = f"Budget exceeded: {pct:.1f}% used ({scope})"
            self._close(call, top[0].provider, "error", error=detail)
            raise BudgetExceeded(detail, field="budget", status="budget_exceeded", percent_used=round(pct, 2))
        call.pending = True

    def _attempts(
        self, call: Call, payload: dict[str, Any], raw: bytes | None, *, stream: bool
    ) -> Iterator[tuple[Scored, Wire, object]]:
        """Yields (candidate, its wire, body | UpstreamStream | UpstreamFailure) per attempt, in order, until one
        succeeds (the caller stops iterating), a non-retryable error, or the deadline."""
        timeout = call.meta.timeout_s or self.config.default_timeout_s
        deadline = call.t0 + timeout
        for scored in call.decision.ranked[: self.config.max_providers]:
            p = scored.provider
            way = wire(call.meta.surface, p, payload, raw, call.meta.forward_headers)
            body, url = way.body, p.endpoint + way.path
            headers = {**way.headers, **self._headers(p), HOPS_HEADER: str(call.meta.hops + 1),
                       RECEIPT_HEADER: call.receipt_id}  # fmt: skip
            for attempt in range(1 + self.config.retries):
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return
                t = time.perf_counter()
                try:
                    if stream:
                        result: object = self._client.stream(url, body, remaining, headers)
                    else:
                        result = self._client.chat(url, body, remaining, headers)
                except UpstreamFailure as failure:
                    ms = (time.perf_counter() - t) * 1000
                    call.records.append(AttemptRecord(p.name, False, ms))
                    call.attempts.append({"provider": p.name, "outcome": failure.outcome, "ms": round(ms, 3),
                                          "retryable": failure.retryable})  # fmt: skip
                    log.info(
                        "upstream_failed",
                        extra={
                            "provider": p.name,
                            "outcome": failure.outcome,
                            "attempt": attempt + 1,
                            "request_id": call.meta.request_id,
                        },
                    )
                    yield scored, way, failure
                    if not failure.retryable:
                        return  # a 4xx the next provider would answer the same way
                    if attempt < self.config.retries:
                        wait = failure.retry_after_s
                        if wait is None:
                            wait = min(self.config.backoff_s * (2**attempt), self.config.backoff_max_s)
                        if wait >= deadline - time.perf_counter():
                            break  # honouring Retry-After would pass the deadline: fail over now
                        self._sleep(wait)
                    continue
                ms = (time.perf_counter() - t) * 1000
                call.records.append(AttemptRecord(p.name, True, ms))
                call.attempts.append({"provider": p.name, "outcome": "ok", "ms": round(ms, 3), "retryable": False})
                yield scored, way, result
                return

    def _close(
        self,
        call: Call,
        provider: Provider | None,
        status: str,
        *,
        tokens: Usage = (0, 0, 0, 0),
        exact: bool = True,
        dry_run: bool = False,
        fallback_from: str | None = None,
        error: str | None = None,
        stream: bool = False,
        sweeper: bool = False,
    ) -> dict[str, Any]:
        meta = call.meta
        total_ms = (time.perf_counter() - call.t0) * 1000
        upstream_ms = sum(a["ms"] for a in call.attempts)
        in_tokens, out_tokens, cache_read, cache_written = tokens
        # Cache tokens are priced as input here (what a provider charges for them varies; PAS does not model it).
        cost = cost_usd(provider, in_tokens + cache_read + cache_written, out_tokens) if provider is not None else 0.0
        receipt: dict[str, Any] = {
            "receipt_id": call.receipt_id,
            "request_id": meta.request_id,
            "run_id": meta.run_id or "default",
            "agent": meta.agent,
            "timestamp": iso(int(time.time() * 1000)),
            "provider": provider.name if provider else None,
            "model": provider.model if provider else None,
            "input_tokens": in_tokens,
            "output_tokens": out_tokens,
            "cache_read_input_tokens": cache_read,
            "cache_creation_input_tokens": cache_written,
            "tokens_exact": exact,
            "cost_usd": cost,
            "latency_ms": round(total_ms, 3),
            "status": status,
            "dry_run": dry_run,
            "stream": stream,
            "error_message": error,
            "fallback_from": fallback_from,
            "resolved": {"service_id": provider.service_id, "name": provider.name, "url": provider.endpoint}
            if provider
            else None,
            "timings_ms": {
                "discovery": round(call.discovery_ms, 3),
                "upstream": round(upstream_ms, 3),
                "total": round(total_ms, 3),
            },
            "attempts": call.attempts,
            "candidates": [candidate(c) for c in call.decision.ranked[: self.config.max_providers + 2]],
            "selection_reason": call.decision.reason,
            "metadata": meta.metadata,
            "surface": meta.surface,
            "session_id": meta.session_id,
            "agent_id": meta.agent_id,
        }
        line = json.dumps(receipt, separators=(",", ":"))
        # A live call writes its JSONL line first: a process killed between the two steps leaves the line, and
        # the sweeper then completes the pending receipt from it instead of calling it interrupted. The sweeper
        # itself closes first and writes after, so a call that finished meanwhile is never logged twice.
        if not sweeper:
            self._log.append(meta.run_id, line)
        outcome = self._finish(call, line, to_micro(cost))
        if outcome.closed:
            if sweeper:
                self._log.append(meta.run_id, line)
            self._emit(outcome.events)
            self._observe(receipt, provider)
        elif not sweeper:  # the sweeper closed it first (this process stalled past the deadline): its line stands
            log.warning("receipt_already_closed", extra={"receipt_id": call.receipt_id, "status": status})
        for name in outcome.cooled:
            self.router.mark_cooldown(name, int(self.config.cooldown_s * 1000))
            log.warning("provider_cooldown", extra={"provider": name, "cooldown_s": self.config.cooldown_s})
        # The request line (app/http_hooks.py) already records each call; a failed one also gets its own line.
        (log.info if status != "success" else log.debug)("gateway_call", extra={
            "request_id": meta.request_id, "receipt_id": call.receipt_id, "status": status,
            "provider": receipt["provider"], "ms": receipt["latency_ms"], "attempts": len(call.attempts),
        })  # fmt: skip
        return receipt

    # --- idempotency (Idempotency-Key); beat: ship receipts to SQL; close receipts whose call never finished --

    def idempotent(self, key: str, body: bytes, run: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        """The first call with a key runs; later ones get its answer (same key, other body → 422)."""
        return idempotent(self._store, self.config.idempotency_ttl_s, key, body, run)

    def ship(self, batch: int = 1000) -> int:
        return ship_receipts(self._store, self._receipts, batch)

    def _finish(self, call: Call, line: str, actual: int) -> FinishOutcome:
        return self._store.finish(
            call.receipt_id, call.meta.run_id or "default", call.meta.agent, line,
            estimate=call.estimate, actual=actual, attempts=call.records, had_pending=call.pending,
            trip_after=self.config.trip_after, cooldown_ms=int(self.config.cooldown_s * 1000),
            window=self.config.window,
        )  # fmt: skip

    def close_interrupted(self, now_ms: int, batch: int = 500) -> int:
        """Pending receipts past their deadline: completed from their JSONL line when the call had finished
        (its process died before the last step), otherwise closed as `interrupted`."""
        closed = 0
        for receipt_id, pending in self._store.pending_due(now_ms, batch):
            meta = CallMeta(pending["request_id"], pending["run_id"], pending["agent"])
            call = Call(meta, receipt_id, time.perf_counter(), Decision([]), 0.0, int(pending["estimate"]), True)
            line = self._log.find(meta.run_id, receipt_id)
            try:
                cost = float(json.loads(line).get("cost_usd") or 0.0) if line is not None else None
            except (ValueError, AttributeError, TypeError):  # a torn line (killed mid-write): not a receipt
                line, cost = None, None
            if line is not None and cost is not None:
                outcome = self._finish(call, line, to_micro(cost))
                if outcome.closed:
                    self._emit(outcome.events)
                    log.info("receipt_recovered", extra={"receipt_id": receipt_id, "request_id": meta.request_id})
            else:
                self._close(
                    call,
                    self.router.provider(pending["provider"]),
                    "interrupted",
                    error="the call never finished (its web process died or hung); closed by the sweeper",
                    sweeper=True,
                )
            closed += 1
        return closed

"""A model call as a stream of events between the web process (the client side) and the Celery worker that
runs it (the worker side), through models/llm_call_store.py.

Events, JSON objects in order:
- {"type": "delta", "text": str} and/or "tool_calls": [OpenAI tool-call deltas]: output as it is produced;
- {"type": "end", "finish_reason": stop|length|content_filter|tool_calls, "usage": {...}, "model": str}: last;
- {"type": "error", "status": int, "message": str, "code": str, "retry_after_s": float|None}: last.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

log = logging.getLogger("pas.llm_calls")

FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls"})
# After a flush the next one waits this long (the call's end does not): tokens produced meanwhile go in one stream
# entry. At 20 tokens/s nothing changes; at 200 the chain (XADD, the web side's XREAD and SSE chunk, the client's
# parse) runs ~5x less often, CPU the generation needs on a busy host. The first token never waits.
FLUSH_WINDOW_S = 0.02


class CallStore(Protocol):
    def emit(self, call_id: str, events: list[dict[str, Any]]) -> bool: ...
    def renew(self, call_id: str) -> bool: ...
    def release(self, call_id: str) -> None: ...
    def claimed(self, call_id: str) -> bool: ...
    def read(self, call_id: str, after: str, block_ms: int) -> list[tuple[str, dict[str, Any]]]: ...
    def cancel(self, call_id: str) -> None: ...
    def finish(self, call_id: str) -> None: ...


class CallSink:
    """The worker side of one call. Generation never waits on Redis: events are queued and a flusher thread
    writes whatever has gathered in one round trip (the first token goes at once), which also tells it whether
    the client has gone (`cancelled`)."""

    def __init__(self, store: CallStore, call_id: str) -> None:
        self._store = store
        self.call_id = call_id
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._done = threading.Event()
        self._closed = False
        self.cancelled = store.renew(call_id)  # claimed; cancelled while queued: the task does nothing
        self._flusher = threading.Thread(target=self._run, name=f"sink-{call_id[:8]}", daemon=True)
        self._flusher.start()

    def _put(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(event)
        self._wake.set()

    def delta(self, text: str = "", tool_calls: list[dict[str, Any]] | None = None) -> None:
        event: dict[str, Any] = {"type": "delta", "text": text}
        if tool_calls:
            event["tool_calls"] = tool_calls
        self._put(event)

    def end(self, finish_reason: str, usage: dict[str, Any], model: str, **extra: Any) -> None:
        reason = finish_reason if finish_reason in FINISH_REASONS else "stop"
        self._close({"type": "end", "finish_reason": reason, "usage": usage, "model": model, **extra})

    def error(self, status: int, message: str, code: str = "model_error", retry_after_s: float | None = None) -> None:
        self._close({"type": "error", "status": status, "message": message, "code": code,
                     "retry_after_s": retry_after_s})  # fmt: skip

    def _close(self, event: dict[str, Any] | None) -> None:
        if self._closed:
            return
        if event is not None:
            self._put(event)
        self._closed = True
        self._done.set()
        self._wake.set()
        self._flusher.join(timeout=10)

    def close(self) -> None:
        """Ends the flusher without a last event (a call skipped, or one whose end was already sent): the task
        calls it always, so no call leaves a thread behind."""
        self._close(None)

    def _run(self) -> None:
        while True:
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            with self._lock:
                batch, self._pending = self._pending, []
            done = self._closed
            if batch:
                batch = _coalesce(batch)
                try:
                    if self._store.emit(self.call_id, batch):
                        self.cancelled = True
                except Exception:  # the store is away: the client side times out; generation stops
                    log.exception("llm_call_emit_failed", extra={"call_id": self.call_id})
                    self.cancelled = True
                if not done:
                    self._done.wait(FLUSH_WINDOW_S)
            elif not done:
                try:
                    self.cancelled = self._store.renew(self.call_id) or self.cancelled
                except Exception:
                    self.cancelled = True
            if done:
                with self._lock:
                    if not self._pending:
                        self._release()
                        return

    def _release(self) -> None:
        try:
            self._store.release(self.call_id)
        except Exception:  # it expires by itself; the client side has its last event (or its timeout) anyway
            log.warning("llm_call_release_failed", extra={"call_id": self.call_id})


def _coalesce(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent text-only deltas become one (fewer stream entries; the client sees the same text)."""
    out: list[dict[str, Any]] = []
    for event in batch:
        prev = out[-1] if out else None
        if (
            prev is not None
            and event["type"] == prev["type"] == "delta"
            and "tool_calls" not in event
            and "tool_calls" not in prev
        ):
            prev["text"] += event["text"]
        else:
            out.append(dict(event))
    return out


class CallTimeout(Exception):
    pass


class CallLost(CallTimeout):
    """The worker that took the call died before its end (its claim lapsed)."""


class CallStream:
    """The client side of one call: iterate for its events; close() always (it cancels an unfinished call,
    so a client that goes away stops its generation, and removes the call's stream)."""

    def __init__(self, store: CallStore, call_id: str, first_timeout_s: float, idle_timeout_s: float) -> None:
        self._store = store
        self.call_id = call_id
        self._first = first_timeout_s
        self._idle = idle_timeout_s
        self.finished = False
        self._closed = False
        self.first_event_at: float | None = None

    def events(self, until: float | None = None) -> Iterator[dict[str, Any]]:
        """`until` (time.monotonic()) bounds the whole call, beside the first-event and idle timeouts."""
        after = "0"
        deadline = time.monotonic() + self._first
        claim_seen = False
        while True:
            left_ms = int(((deadline if until is None else min(deadline, until)) - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise CallTimeout("no answer from the model worker in time")
            got = self._store.read(self.call_id, after, min(left_ms, 1000))
            if not got:
                # A quiet second: is a worker still on it? Once one has claimed the call, a lapsed claim means it
                # died (tasks are acknowledged early: nobody else will run it). Its last events may have landed
                # just before: read once more before saying so.
                if self._store.claimed(self.call_id):
                    claim_seen = True
                elif claim_seen and not (got := self._store.read(self.call_id, after, 1)):
                    log.warning("llm_call_lost", extra={"call_id": self.call_id})
                    raise CallLost("the model worker running the call stopped")
                if not got:
                    continue
            if self.first_event_at is None:
                self.first_event_at = time.monotonic()
            for entry_id, event in got:
                after = entry_id
                yield event
                if event.get("type") in ("end", "error"):
                    self.finished = True
                    return
            deadline = time.monotonic() + self._idle

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.finished:
                self._store.finish(self.call_id)
            else:
                self._store.cancel(self.call_id)
                log.info("llm_call_cancelled", extra={"call_id": self.call_id})
        except Exception:  # the stream expires by itself
            log.warning("llm_call_close_failed", extra={"call_id": self.call_id})


Submit = Callable[[str, str, str, dict[str, Any]], None]  # (queue, task name, call id, payload)

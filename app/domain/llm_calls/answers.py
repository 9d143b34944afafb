"""A model call's answer as the web side gives it, for local models and vendor adapters alike: one OpenAI body,
server-sent chunks (the first event awaited, so a call that fails before its first token is an HTTP error the
gateway can retry or fall back on, not a 200 with an error inside), or a result carried by the end event. Every
one closes its stream: a client that goes away cancels the call."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from typing import Any

from app.domain.errors import ModelCallFailed, UpstreamTimeout
from app.domain.llm_calls.channel import CallLost, CallStream, CallTimeout
from app.domain.llm_calls.openai_shape import CallFailed, completion, failure, sse_chunks


def as_error(exc: CallFailed) -> ModelCallFailed:
    return ModelCallFailed(exc.message, status=exc.status, code=exc.code, retry_after_s=exc.retry_after_s)


def _late(who: str, exc: CallTimeout) -> UpstreamTimeout | ModelCallFailed:
    if isinstance(exc, CallLost):  # a 502 the gateway may retry or fall back on: nothing reached the client yet
        return ModelCallFailed(f"{who} stopped while running the call", status=502, code="worker_lost")
    return UpstreamTimeout(f"{who} did not answer in time", field="model")


def complete(stream: CallStream, model: str, who: str) -> dict[str, Any]:
    """The whole answer as one chat.completion body. `who` names the worker in errors."""
    try:
        return completion(stream.call_id, int(time.time()), model, stream.events())
    except CallFailed as exc:
        raise as_error(exc) from None
    except CallTimeout as exc:
        raise _late(who, exc) from None
    finally:
        stream.close()


def first_then_rest(stream: CallStream, who: str) -> Generator[dict[str, Any], None, None]:
    """The call's events, the first awaited now (errors before it raise here); a timeout later is an error event.
    Closing the iterator closes the stream."""
    events = stream.events()
    try:
        first = next(events)
    except CallTimeout as exc:
        stream.close()
        raise _late(who, exc) from None
    except BaseException:
        stream.close()
        raise
    if first.get("type") == "error":
        stream.close()
        raise as_error(failure(first))

    def chained() -> Generator[dict[str, Any], None, None]:
        try:
            yield first
            yield from events
        except CallLost:
            yield {"type": "error", "status": 502, "message": f"{who} stopped while running the call",
                   "code": "worker_lost"}  # fmt: skip
        except CallTimeout:
            yield {"type": "error", "status": 504, "message": f"{who} stopped answering", "code": "timeout"}
        finally:
            stream.close()

    return chained()


def streamed(stream: CallStream, model: str, who: str, include_usage: bool = True) -> Iterator[bytes]:
    """Server-sent chat.completion chunks; closing the iterator cancels an unfinished call."""
    events = first_then_rest(stream, who)

    def relay() -> Iterator[bytes]:
        try:
            yield from sse_chunks(stream.call_id, int(time.time()), model, events, include_usage)
        finally:
            stream.close()

    return relay()


def result(stream: CallStream, who: str) -> dict[str, Any]:
    """The end event of a call that answers all at once (its `result`, usage, timings)."""
    try:
        for event in stream.events():
            if event.get("type") == "end":
                return event
            if event.get("type") == "error":
                raise as_error(failure(event))
    except CallTimeout as exc:
        raise _late(who, exc) from None
    finally:
        stream.close()
    raise as_error(CallFailed(502, f"{who} ended the call without an answer", "model_error"))

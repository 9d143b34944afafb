"""What a local model's port answers for a call: OpenAI chat (one body or server-sent chunks), Ollama generate
(one body or one JSON object per line), the classifier's results; each a call on the model's own queue
(LocalModels.start), its events shaped here."""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from typing import Any

from app.domain.llm_calls import answers
from app.domain.llm_calls.openai_shape import CallFailed, failure
from app.domain.local_models.service import LocalModels
from contracts.models import GenerateRequest, GenerateResponse, ModelChatRequest

NOT_SENT = {"stream", "stream_options", "model"}  # the port picks the model; the worker always streams


def _who(name: str) -> str:
    return f"the model worker of {name}"


def chat(models: LocalModels, name: str, req: ModelChatRequest) -> dict[str, Any]:
    stream = models.start(name, "chat", req.model_dump(exclude_unset=True, exclude=NOT_SENT))
    return answers.complete(stream, models.model(name).model, _who(name))


def chat_stream(models: LocalModels, name: str, req: ModelChatRequest) -> Iterator[bytes]:
    stream = models.start(name, "chat", req.model_dump(exclude_unset=True, exclude=NOT_SENT))
    include_usage = bool((req.stream_options or {}).get("include_usage", True))
    return answers.streamed(stream, models.model(name).model, _who(name), include_usage)


def _now() -> str:
    return datetime.fromtimestamp(time.time(), UTC).isoformat().replace("+00:00", "Z")


def _final(model: str, event: dict[str, Any], text: str, started: float) -> dict[str, Any]:
    usage, timings = event.get("usage") or {}, event.get("timings") or {}
    return GenerateResponse(
        model=model, created_at=_now(), response=text, done=True, done_reason=event.get("finish_reason"),
        prompt_eval_count=usage.get("prompt_tokens"), eval_count=usage.get("completion_tokens"),
        total_duration=int((time.perf_counter() - started) * 1e9),
        eval_duration=int(float(timings.get("total_s") or 0) * 1e9),
    ).model_dump()  # fmt: skip


def _generate_events(
    models: LocalModels, name: str, req: GenerateRequest
) -> tuple[str, Generator[dict[str, Any], None, None]]:
    body = req.model_dump(exclude_none=True, exclude={"stream", "model", "keep_alive"})
    stream = models.start(name, "generate", body)
    return req.model or models.model(name).model, answers.first_then_rest(stream, _who(name))


def generate(models: LocalModels, name: str, req: GenerateRequest) -> dict[str, Any]:
    started = time.perf_counter()
    model, events = _generate_events(models, name, req)
    text: list[str] = []
    try:
        for event in events:
            if event.get("type") == "delta":
                text.append(str(event.get("text") or ""))
            elif event.get("type") == "end":
                return _final(model, event, "".join(text), started)
            elif event.get("type") == "error":
                raise answers.as_error(failure(event))
    finally:
        events.close()
    raise answers.as_error(CallFailed(502, f"{_who(name)} ended the call without an answer", "model_error"))


def generate_stream(models: LocalModels, name: str, req: GenerateRequest) -> Iterator[bytes]:
    """Ollama's stream: one JSON object per line, the last with `done: true` and the counts."""
    started = time.perf_counter()
    model, events = _generate_events(models, name, req)

    def lines() -> Iterator[bytes]:
        try:
            for event in events:
                if event.get("type") == "delta" and event.get("text"):
                    line = {"model": model, "created_at": _now(), "response": event["text"], "done": False}
                elif event.get("type") == "end":
                    line = _final(model, event, "", started)
                elif event.get("type") == "error":
                    line = {"error": event.get("message"), "done": True}
                else:
                    continue
                yield json.dumps(line, separators=(",", ":")).encode() + b"\n"
        finally:
            events.close()

    return lines()


def classifier_result(models: LocalModels, name: str, op: str, body: dict[str, Any]) -> dict[str, Any]:
    """/classify_domain or /extract_tmd: the worker's result, carried by the call's end event."""
    result = answers.result(models.start(name, op, body), _who(name)).get("result")
    return result if isinstance(result, dict) else {}

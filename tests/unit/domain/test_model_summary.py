"""The model summarizer picks the first loaded model with `summarize`, fits the conversation to its context, and
says why whenever the governor must fall back to an extractive summary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.domain.errors import ModelUnavailable
from app.domain.llm_calls.channel import CallTimeout
from app.domain.token_governor.model_summary import ModelSummarizer, fit, token_estimator
from contracts.models import LocalModelFacts, ModelConfig

BIG = ModelConfig(name="big", model="big-8b", port=1, file="big.gguf", context_length=8192,
                  capabilities=["summarize"])  # fmt: skip
SMALL = ModelConfig(name="small", model="small-1b", port=2, file="small.gguf", context_length=2048,
                    capabilities=["summarize"])  # fmt: skip
OTHER = ModelConfig(name="other", model="o", port=3, file="o.gguf", capabilities=["classify_light"])
BYTES = LocalModelFacts(name="tiny", parameters=None, quantization=None, context_length=2048, vocab_size=356)


class Stream:
    """What LocalModels.start returns, answering from a list of events (or raising)."""

    def __init__(self, events: list[dict[str, Any]] | Exception) -> None:
        self.call_id, self._events, self.closed = "c1", events, False

    def events(self, until: float | None = None) -> Iterator[dict[str, Any]]:
        if isinstance(self._events, Exception):
            raise self._events
        yield from self._events

    def close(self) -> None:
        self.closed = True


def answering(text: str) -> list[dict[str, Any]]:
    return [{"type": "delta", "text": text}, {"type": "end", "finish_reason": "stop", "usage": {}}]


def summarizer(loaded: set[str], stream: Stream | Exception, asked: list[tuple[str, dict[str, Any]]]) -> Any:
    def start(name: str, op: str, body: dict[str, Any]) -> Stream:
        asked.append((name, body))
        if isinstance(stream, Exception):
            raise stream
        return stream

    return ModelSummarizer([OTHER, BIG, SMALL], lambda n: BYTES if n in loaded else None, start)  # type: ignore[arg-type]


def test_the_first_loaded_model_writes_it_within_its_context() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    stream = Stream(answering("## Goals\nresume"))
    draft = summarizer({"small"}, stream, asked)("x. " * 5000, 10)
    assert (draft.model, draft.text) == ("small", "## Goals\nresume") and stream.closed
    name, body = asked[0]
    assert name == "small" and body["max_tokens"] == 512
    prompt = sum(len(m["content"].encode()) for m in body["messages"])
    assert prompt + body["max_tokens"] <= SMALL.context_length  # a token per byte for this vocabulary
    assert summarizer({"big", "small"}, Stream(answering("s")), asked)("x", 10).model == "big"


def test_every_failure_says_why() -> None:
    asked: list[tuple[str, dict[str, Any]]] = []
    assert "no local model" in summarizer(set(), Stream([]), asked)("x", 10).reason
    cases: dict[str, Stream | Exception] = {
        "unavailable": ModelUnavailable("no model worker"),
        "no answer within 10s": Stream(CallTimeout("late")),
        "failed: model_error": Stream([{"type": "error", "status": 502, "message": "boom"}]),
        "answered nothing": Stream(answering("  ")),
    }
    for why, stream in cases.items():
        draft = summarizer({"small"}, stream, asked)("x", 10)
        assert draft.text is None and why in draft.reason, (why, draft.reason)


def test_fit_keeps_the_opening_and_the_latest() -> None:
    text = "GOAL " + "middle " * 1000 + "STATE"
    cut = fit(text, 200, token_estimator(BYTES))
    assert cut.startswith("GOAL") and cut.endswith("STATE") and "omitted" in cut and len(cut.encode()) <= 200
    assert fit("short", 200, token_estimator(BYTES)) == "short"

"""The worker side of a local model: one loaded engine answering the calls on its queue (chat, generate,
classify, extract), and the facts and measurements it publishes for /health and /info."""

from __future__ import annotations

import json
import logging
import re
import socket
import statistics
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.domain.llm_calls.channel import CallSink
from app.domain.local_models.catalogue import FileFacts
from contracts.models import ModelConfig

log = logging.getLogger("pas.models")


class Outcome(Protocol):
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float | None
    generation_s: float


class Engine(Protocol):
    def chat(self, body: dict[str, Any], on_delta: Any, cancelled: Any) -> Outcome: ...
    def complete(self, prompt: str, options: dict[str, Any], grammar: str | None, on_delta: Any,
                 cancelled: Any) -> Outcome: ...  # fmt: skip
    def score_labels(self, prompt: str, labels: list[str]) -> dict[str, float]: ...


@dataclass(frozen=True)
class LabelSets:
    domains: list[str]
    tasks: list[str]
    methods: list[str]


def load_label_sets(path: Path) -> LabelSets:
    raw = json.loads(path.read_text())
    return LabelSets(list(raw["domains"]), list(raw["tasks"]), list(raw["methods"]))


PII = re.compile(  # e-mail addresses, US SSNs, card-like digit runs, phone numbers
    r"[\w.+-]+@[\w-]+\.[\w.-]+|\b\d{3}-\d{2}-\d{4}\b|\b(?:\d[ -]?){13,16}\b"
    r"|\+?\d{1,3}[ .-]?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"
)
LICENSE = re.compile(
    r"\b(GPL|LGPL|AGPL|MIT License|Apache License|BSD License|Creative Commons|CC BY|copyright|©|"
    r"all rights reserved|proprietary|licen[cs]e[ds]?)\b",
    re.IGNORECASE,
)


class ModelHost:
    def __init__(
        self, cfg: ModelConfig, engine: Engine, facts: FileFacts, labels: LabelSets | None, job_id: str = ""
    ) -> None:
        self.cfg = cfg
        self.job_id = job_id  # its resource-manager reservation
        self.engine = engine
        self.file = facts
        self.labels = labels
        self.loaded_at = time.time()
        self.host = socket.gethostname()
        self.requests = 0
        self.failures = 0
        self.last_request_at: float | None = None
        self._latency_ms: deque[float] = deque(maxlen=200)
        self._first_ms: deque[float] = deque(maxlen=200)
        self._tps: deque[float] = deque(maxlen=200)

    # --- what /health and /info read (published to Redis by the worker's heartbeat) -------------------------

    def facts(self) -> dict[str, Any]:
        f = self.file
        return {
            "name": self.cfg.name, "host": self.host, "loaded_at": self.loaded_at, "requests": self.requests,
            "failures": self.failures, "last_request_at": self.last_request_at,
            "file": {"path": Path(f.path).name, "name": f.name, "architecture": f.architecture,
                     "context_length": f.context_length, "vocab_size": f.vocab_size, "parameters": f.parameters,
                     "quantization": f.quantization, "file_bytes": f.file_bytes},
            "performance": {
                "requests": self.requests,
                "tokens_per_second": _median(self._tps),
                "first_token_ms": _median(self._first_ms),
                "latency_ms_p50": _median(self._latency_ms),
            },
        }  # fmt: skip

    # --- calls -----------------------------------------------------------------------------------------------

    def run(self, sink: CallSink, payload: dict[str, Any]) -> None:
        if sink.cancelled:
            log.info("model_call_skipped", extra={"call_id": sink.call_id, "reason": "cancelled while queued"})
            return
        op = payload.get("op")
        started = time.perf_counter()
        queued_ms = max(0.0, (time.time() - float(payload.get("submitted_at") or time.time())) * 1000)
        try:
            if op == "chat":
                out = self.engine.chat(payload["body"], sink.delta, lambda: sink.cancelled)
                self._end(sink, out)
            elif op == "generate":
                out = self._generate(sink, payload["body"])
                self._end(sink, out)
            elif op == "classify_domain":
                sink.end("stop", {}, self.cfg.model, result=self._classify(payload["body"]))
            elif op == "extract_tmd":
                sink.end("stop", {}, self.cfg.model, result=self._extract(payload["body"]))
            else:
                sink.error(400, f"unknown operation {op!r}", "bad_operation")
                return
        except Exception as exc:  # the worker stays up; the client gets a 502 and the log the cause
            self.failures += 1
            log.exception("model_call_failed", extra={"call_id": sink.call_id, "op": op})
            sink.error(502, f"the model failed: {type(exc).__name__}", "model_error")
            return
        took_ms = (time.perf_counter() - started) * 1000
        self.requests += 1
        self.last_request_at = time.time()
        self._latency_ms.append(took_ms)
        log.info("model_call", extra={"call_id": sink.call_id, "op": op, "ms": round(took_ms, 2),
                                      "queued_ms": round(queued_ms, 2)})  # fmt: skip

    def _end(self, sink: CallSink, out: Outcome) -> None:
        if out.first_token_s is not None:
            self._first_ms.append(out.first_token_s * 1000)
            gen = out.generation_s - out.first_token_s
            if out.completion_tokens > 1 and gen > 0:
                self._tps.append((out.completion_tokens - 1) / gen)
        if out.finish_reason == "cancelled":
            log.info("model_call_cancelled", extra={"call_id": sink.call_id, "tokens": out.completion_tokens})
        usage = {"prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens}
        sink.end(out.finish_reason, usage, self.cfg.model,
                 timings={"total_s": out.generation_s, "first_token_s": out.first_token_s})  # fmt: skip

    def _generate(self, sink: CallSink, body: dict[str, Any]) -> Outcome:
        options = dict(body.get("options") or {})
        fmt = body.get("format")
        if body.get("raw"):
            grammar = None
            if fmt is not None:
                from llama_cpp.llama_grammar import JSON_GBNF

                grammar = JSON_GBNF
            return self.engine.complete(body["prompt"], options, grammar, sink.delta, lambda: sink.cancelled)
        messages = ([{"role": "system", "content": body["system"]}] if body.get("system") else []) + [
            {"role": "user", "content": body["prompt"]}
        ]
        chat: dict[str, Any] = {"messages": messages, **options}
        if fmt is not None:
            chat["response_format"] = (
                {"type": "json_object"} if fmt == "json" else {"type": "json_schema", "json_schema": {"schema": fmt}}
            )
        return self.engine.chat(chat, sink.delta, lambda: sink.cancelled)

    # --- the TLC classifier ----------------------------------------------------------------------------------

    def _prompt(self, query: str, docs: list[str] | None, question: str) -> str:
        context = "".join(f"Context: {d[:2000]}\n" for d in (docs or [])[:5])
        return f"{context}Query: {query}\n{question}:"

    def _choose(self, prompt: str, labels: list[str]) -> tuple[str, dict[str, float]]:
        """The grammar-constrained answer (always one of the labels) and every label's confidence from its
        token log-probabilities, normalised over the set."""
        from app.providers.llama_engine import label_grammar, softmax

        text: list[str] = []
        self.engine.complete(prompt, {"temperature": 0, "max_tokens": 32}, label_grammar(labels),
                             text.append, lambda: False)  # fmt: skip
        chosen = "".join(text).strip()
        confidences = softmax(self.engine.score_labels(prompt, labels))
        if chosen not in confidences:  # cannot happen under the grammar; the scores decide if it does
            chosen = max(confidences, key=lambda k: confidences[k])
        return chosen, confidences

    def _classify(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.labels is not None
        started = time.perf_counter()
        query = body["query"]
        primary, conf = self._choose(self._prompt(query, body.get("context_docs"), "Domain"), self.labels.domains)
        ranked = sorted(conf.items(), key=lambda kv: (kv[0] != primary, -kv[1]))[: body.get("top_k", 3)]
        text = " ".join([query, *(body.get("context_docs") or [])])
        return {
            "query": query,
            "domains": [{"domain": d, "confidence": round(c, 6)} for d, c in ranked],
            "primary_domain": primary,
            "pii_flag": bool(PII.search(text)),
            "license_flag": bool(LICENSE.search(text)),
            "metadata": self._meta(started),
        }

    def _extract(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.labels is not None
        started = time.perf_counter()
        query, docs = body["query"], body.get("context_docs")
        task, task_conf = self._choose(self._prompt(query, docs, "Task"), self.labels.tasks)
        hint = body.get("method_hint")
        if hint:
            method, method_c = hint, 1.0
        else:
            method, method_conf = self._choose(self._prompt(query, docs, "Retrieval method"), self.labels.methods)
            method_c = method_conf[method]
        domain, domain_conf = self._choose(self._prompt(query, docs, "Domain"), self.labels.domains)
        confidence = (task_conf[task] * method_c * domain_conf[domain]) ** (1 / 3)
        meta = self._meta(started)
        meta["confidences"] = {"task": task_conf[task], "method": method_c, "domain": domain_conf[domain]}
        meta["method_hint_used"] = hint is not None
        return {"query": query, "tmd": {"task": task, "method": method, "domain": domain},
                "confidence": round(confidence, 6), "metadata": meta}  # fmt: skip

    def _meta(self, started: float) -> dict[str, Any]:
        return {
            "model": self.cfg.model, "file": Path(self.file.path).name, "file_model": self.file.name,
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "method": "llama.cpp grammar-constrained choice; confidences from label token log-probabilities",
        }  # fmt: skip


def _median(values: deque[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None

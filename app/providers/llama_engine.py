"""One GGUF model loaded with llama-cpp-python, as the model worker uses it: chat and completion streamed token
by token (stoppable between tokens), and label scoring for the classifier. Only model workers import this (the
web process never loads a model)."""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.models import ModelConfig

OnDelta = Callable[[str], None]
Cancelled = Callable[[], bool]


@dataclass
class Outcome:
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float | None
    generation_s: float
    extra: dict[str, Any] = field(default_factory=dict)


class TokenCounter:
    """A logits processor that changes nothing: llama.cpp calls it once per sampled token, with the tokens so
    far, so it counts what the text chunks cannot (bytes of an unfinished character yield no text)."""

    def __init__(self, logit_bias: Any = None, cancelled: Cancelled | None = None, eos: int | None = None) -> None:
        self.prompt = 0
        # Checked on every token: llama-cpp-python yields no chunk while the bytes sampled are not yet valid
        # UTF-8, so a generation of such bytes would not see its cancellation until max_tokens.
        self.cancelled = cancelled
        self.eos = eos
        self.sampled = 0
        # OpenAI's logit_bias (token id as a string -> bias), applied here: llama-cpp-python drops every logits
        # processor when given both its logit_bias and a processor (list.extend returns None).
        self.bias = (
            {int(k): float(v) for k, v in logit_bias.items() if str(k).isdigit()} if isinstance(logit_bias, dict)
            else {}
        )  # fmt: skip

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.sampled == 0:
            self.prompt = len(input_ids)
        self.sampled += 1
        if self.cancelled is not None and self.eos is not None and self.cancelled():
            scores[:] = -float("inf")
            scores[self.eos] = 0.0  # end of text now: llama.cpp stops and the chunks end
            return scores
        for token, bias in self.bias.items():
            if 0 <= token < len(scores):
                scores[token] += bias
        return scores


class LlamaEngine:
    def __init__(self, path: Path, cfg: ModelConfig) -> None:
        from llama_cpp import Llama

        threads = cfg.threads or max(1, (os.cpu_count() or 2) // 2)
        self.path = path
        self.llm = Llama(
            model_path=str(path),
            n_ctx=cfg.context_length,
            n_threads=threads,
            n_gpu_layers=cfg.gpu_layers,
            chat_format=cfg.chat_format,
            verbose=False,
        )
        self.n_params = int(self.llm.model.n_params()) if hasattr(self.llm.model, "n_params") else None

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.llm.metadata)

    @property
    def n_vocab(self) -> int:
        return int(self.llm.n_vocab())

    def _run(self, chunks: Iterator[Any], text_of: Callable[[Any], str | None], on_delta: OnDelta,
             cancelled: Cancelled, started: float, counter: TokenCounter) -> Outcome:  # fmt: skip
        first: float | None = None
        finish = "stop"
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                text = text_of(choice)
                if text:
                    if first is None:
                        first = time.perf_counter()
                    on_delta(text)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
                if cancelled():
                    finish = "cancelled"
                    break
            else:
                if cancelled():  # stopped by TokenCounter's forced end of text
                    finish = "cancelled"
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # stops llama.cpp between tokens
        ended = time.perf_counter()
        return Outcome(finish, counter.prompt, counter.sampled, first - started if first else None, ended - started)

    def chat(self, body: dict[str, Any], on_delta: OnDelta, cancelled: Cancelled) -> Outcome:
        started = time.perf_counter()
        kwargs = _sampling(body)
        rf = body.get("response_format")
        if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"):
            schema = (rf.get("json_schema") or {}).get("schema") if rf["type"] == "json_schema" else None
            kwargs["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
        messages = [{k: v for k, v in m.items() if v is not None} for m in body["messages"]]
        counter = TokenCounter(body.get("logit_bias"), cancelled, self.llm.token_eos())
        chunks = self.llm.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            logits_processor=_processors(counter),
            **kwargs,
        )
        return self._run(iter(chunks), lambda c: c.get("delta", {}).get("content"), on_delta, cancelled, started,
                         counter)  # fmt: skip

    def complete(self, prompt: str, options: dict[str, Any], grammar: str | None, on_delta: OnDelta,
                 cancelled: Cancelled) -> Outcome:  # fmt: skip
        from llama_cpp.llama_grammar import LlamaGrammar

        started = time.perf_counter()
        kwargs = _sampling(options)
        if grammar is not None:
            kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        counter = TokenCounter(options.get("logit_bias"), cancelled, self.llm.token_eos())
        chunks = self.llm.create_completion(prompt=prompt, stream=True, logits_processor=_processors(counter), **kwargs)
        return self._run(iter(chunks), lambda c: c.get("text"), on_delta, cancelled, started, counter)

    def score_labels(self, prompt: str, labels: list[str]) -> dict[str, float]:
        """log P(label | prompt) for each label: the prompt is evaluated once, then each label's tokens (teacher
        forced), reading the log-probability of every one of them."""
        import numpy as np

        llm = self.llm
        prompt_ids = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        llm.reset()  # type: ignore[no-untyped-call]
        llm.eval(prompt_ids)
        base = len(prompt_ids)
        base_logits = self._logits().copy()
        out: dict[str, float] = {}
        for label in labels:
            llm.n_tokens = base
            logits, total = base_logits, 0.0
            for tok in self._continuation(prompt_ids, prompt, " " + label):
                shifted = logits - logits.max()
                total += float(shifted[tok] - np.log(np.exp(shifted).sum()))
                llm.eval([tok])
                logits = self._logits()
            out[label] = total
        llm.n_tokens = base
        return out

    def _continuation(self, prompt_ids: list[int], prompt: str, text: str) -> list[int]:
        """text's tokens as they follow the prompt (tokenized together: a leading space merges as in context)."""
        whole = self.llm.tokenize((prompt + text).encode(), add_bos=True, special=True)
        if whole[: len(prompt_ids)] == prompt_ids and len(whole) > len(prompt_ids):
            return whole[len(prompt_ids) :]
        return self.llm.tokenize(text.encode(), add_bos=False, special=False)

    def _logits(self) -> Any:
        import numpy as np

        raw = self.llm._ctx.get_logits()  # type: ignore[no-untyped-call]
        return np.ctypeslib.as_array(raw, shape=(self.n_vocab,)).astype(np.float64)


def _processors(counter: TokenCounter) -> Any:
    from llama_cpp import LogitsProcessorList

    return LogitsProcessorList([counter])


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI / Ollama sampling parameters → llama-cpp-python's."""
    out: dict[str, Any] = {}
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("seed", "seed"),
                     ("presence_penalty", "presence_penalty"), ("frequency_penalty", "frequency_penalty"),
                     ("repeat_penalty", "repeat_penalty")):  # fmt: skip
        if body.get(src) is not None:
            out[dst] = body[src]
    n = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("num_predict")
    out["max_tokens"] = None if n in (None, -1) else int(n)
    stop = body.get("stop")
    if stop:
        out["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return out


def label_grammar(labels: list[str]) -> str:
    """A GBNF grammar whose only sentences are the labels, each after one space (as they are scored)."""
    return "root ::= " + " | ".join(json.dumps(" " + label) for label in labels)


def softmax(scores: dict[str, float]) -> dict[str, float]:
    top = max(scores.values())
    exp = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}

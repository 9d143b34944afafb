"""Summaries written by a loaded local model: the first model in config/models.json with the `summarize`
capability whose worker is up (the shipped order puts the bigger first), asked through its queue for a summary
an agent can resume from, the conversation cut to what fits the model's context. Whatever goes wrong (no model,
its worker gone, an error, the time up, an empty answer), the caller gets the reason and writes an extractive
summary instead.

The summarize task runs in the ordinary worker, never in a model worker (those consume only their own model's
queue and register only tasks.models), so a model worker never waits on itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.errors import PasError
from app.domain.llm_calls.channel import CallStream, CallTimeout
from app.domain.llm_calls.openai_shape import CallFailed, completion
from contracts.models import LocalModelFacts, ModelConfig

CAPABILITY = "summarize"
SYSTEM_PROMPT = (
    "You summarize an AI agent's conversation so that the agent can resume its work after its context is "
    "cleared. Write concise Markdown under these headings: Goals, Decisions, Current state, Next steps. Keep file "
    "names, commands, identifiers and numbers exactly as written. Say only what the conversation says."
)
USER_PROMPT = "The conversation, oldest first:\n\n{conversation}\n\nWrite the summary now."
OMITTED = "\n\n[... part of the conversation omitted ...]\n\n"
BYTE_VOCAB_MAX = 1024  # a vocabulary this small is byte-level: about a token per UTF-8 byte
CHARS_PER_TOKEN = 3  # any other: cautious (English is nearer 4), so a prompt never overflows the context
TEMPLATE_TOKENS = 64  # the chat template's markers and roles, and a margin
MAX_ANSWER_TOKENS = 768
MIN_CONVERSATION_TOKENS = 64
MAX_ANSWER_CHARS = 16_000

Start = Callable[[str, str, dict[str, Any]], CallStream]  # LocalModels.start(name, op, body)


@dataclass(frozen=True)
class ModelDraft:
    model: str | None  # the model asked, if one was
    text: str | None  # its summary; None: write an extractive one
    reason: str  # why this method, for the log


def token_estimator(facts: LocalModelFacts) -> Callable[[str], int]:
    if facts.vocab_size is not None and facts.vocab_size <= BYTE_VOCAB_MAX:
        return lambda text: len(text.encode())
    return lambda text: -(-len(text) // CHARS_PER_TOKEN)


def fit(text: str, budget: int, tokens_of: Callable[[str], int]) -> str:
    """The conversation within `budget` tokens: all of it, or its opening (where the goals are) and as much of
    its most recent part (where the state is) as fits."""
    total = tokens_of(text)
    if total <= budget:
        return text
    keep = int(len(text) * budget / total)
    while keep > 0:
        head = keep // 5
        cut = text[:head] + OMITTED + text[len(text) - (keep - head) :]
        if tokens_of(cut) <= budget:
            return cut
        keep = int(keep * 0.9)
    return ""


class ModelSummarizer:
    def __init__(self, models: list[ModelConfig], loaded: Callable[[str], LocalModelFacts | None], start: Start):
        self._models = [m for m in models if CAPABILITY in m.capabilities]  # config order
        self._loaded = loaded
        self._start = start

    def _pick(self) -> tuple[ModelConfig, LocalModelFacts] | None:
        for m in self._models:
            facts = self._loaded(m.name)
            if facts is not None:
                return m, facts
        return None

    def request(self, m: ModelConfig, facts: LocalModelFacts, conversation: str) -> dict[str, Any] | None:
        """The chat body for `conversation`, within the model's context (the engine's n_ctx is the configured
        context_length); None when not even a useful part of it would fit."""
        tokens_of = token_estimator(facts)
        answer_tokens = min(MAX_ANSWER_TOKENS, m.context_length // 4)
        frame = tokens_of(SYSTEM_PROMPT) + tokens_of(USER_PROMPT) + TEMPLATE_TOKENS
        budget = m.context_length - answer_tokens - frame
        if budget < MIN_CONVERSATION_TOKENS:
            return None
        user = USER_PROMPT.format(conversation=fit(conversation, budget, tokens_of))
        return {
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
            "max_tokens": answer_tokens,
            "temperature": 0,
        }

    def __call__(self, conversation: str, timeout_s: float) -> ModelDraft:
        chosen = self._pick()
        if chosen is None:
            return ModelDraft(None, None, f"no local model with the {CAPABILITY!r} capability is loaded")
        m, facts = chosen
        body = self.request(m, facts, conversation)
        if body is None:
            return ModelDraft(m.name, None, f"{m.name}'s context ({m.context_length} tokens) is too small")
        until = time.monotonic() + timeout_s
        try:
            stream = self._start(m.name, "chat", body)
        except PasError as exc:  # its worker went away since (ModelUnavailable)
            return ModelDraft(m.name, None, f"{m.name} is unavailable: {exc.detail}")
        try:
            answer = completion(stream.call_id, int(time.time()), m.model, stream.events(until=until))
        except CallTimeout:
            return ModelDraft(m.name, None, f"{m.name} gave no answer within {timeout_s:g}s")
        except CallFailed as f:
            return ModelDraft(m.name, None, f"{m.name} failed: {f.code}: {f.message}")
        finally:
            stream.close()  # an unfinished generation is cancelled
        text = (answer["choices"][0]["message"].get("content") or "").strip()
        if not text:
            return ModelDraft(m.name, None, f"{m.name} answered nothing")
        finish = answer["choices"][0].get("finish_reason")
        return ModelDraft(m.name, text[:MAX_ANSWER_CHARS], f"{m.name} answered (finish_reason {finish})")

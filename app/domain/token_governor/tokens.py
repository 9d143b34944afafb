"""Token counts, saying whether each is exact (the provider's own tokenizer) or an estimate.

OpenAI models: bpe-openai, which ships its vocabularies inside the wheel (tiktoken downloads them at first
use, which fails offline). Other models: about four characters a token, flagged as an estimate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 3  # OpenAI chat format: per message, and once for the reply's priming


@dataclass(frozen=True)
class TokenCount:
    tokens: int
    exact: bool
    method: str  # "bpe-openai:<encoding>" or "estimate:chars/4"


@cache
def _encoding(model: str) -> Any:
    with warnings.catch_warnings():  # bpe-openai uses importlib.resources' deprecated open_binary
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        try:
            return bpe_openai.get_encoding(bpe_openai.encoding_name_for_model(model))
        except (bpe_openai.UnsupportedModelError, ValueError, KeyError):
            return None


def count_text(text: str, model: str | None = None) -> TokenCount:
    encoding = _encoding(model) if model else None
    if encoding is not None:
        return TokenCount(len(encoding.encode(text)), True, f"bpe-openai:{encoding.name}")
    return TokenCount(-(-len(text) // CHARS_PER_TOKEN), False, "estimate:chars/4")


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return ""


def count_messages(messages: list[dict[str, Any]], model: str | None = None) -> TokenCount:
    counts = [count_text(message_text(m), model) for m in messages]
    probe = counts[0] if counts else count_text("", model)
    total = sum(c.tokens for c in counts) + MESSAGE_OVERHEAD * (len(messages) + 1)
    return TokenCount(total, probe.exact, probe.method)

"""What a call costs: exact prices per token, and the estimates a budget hold is made of before the upstream
answers (the prompt by characters, the completion by the request's own cap)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from app.domain.provider_router.routing import DEFAULT_OUT_TOKENS, Provider
from app.domain.token_governor.tokens import CHARS_PER_TOKEN, MESSAGE_OVERHEAD, message_text

SIX_DP = Decimal("0.000001")


@lru_cache(maxsize=4096)
def _price(per_token: float) -> Decimal:
    return Decimal(repr(per_token))


def cost_usd(p: Provider, in_tokens: int, out_tokens: int) -> float:
    exact = Decimal(in_tokens) * _price(p.cost_in) + Decimal(out_tokens) * _price(p.cost_out)
    return float(exact.quantize(SIX_DP, rounding=ROUND_HALF_UP))


def estimate_prompt_tokens(payload: dict[str, Any]) -> int:
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return 0
    chars = sum(len(message_text(m)) for m in messages if isinstance(m, dict))
    return -(-chars // CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * (len(messages) + 1)


def max_out_tokens(payload: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = payload.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_OUT_TOKENS

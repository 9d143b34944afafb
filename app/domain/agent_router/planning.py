"""What an agent run sends and where: its system prompt plus the payload as one chat, routed by the agent's model
preferences (each preferred model, best first, then its capability) to a provider whose context window holds the
chat and the longest answer below the agent's hard token ratio."""

from __future__ import annotations

import json
import math
from typing import Any

from app.domain.gateway.pricing import estimate_prompt_tokens
from app.domain.provider_router.routing import Ask, Decision
from app.domain.provider_router.service import ProviderRouter
from contracts.agents import AgentConfig

ANSWER_TOKENS = 512  # max_tokens of an agent run's answer


def chat_body(agent: AgentConfig, payload: dict[str, Any]) -> dict[str, Any]:
    """OpenAI chat parameters: the catalogue's system prompt, the payload as the user message (compact JSON)."""
    return {
        "messages": [
            {"role": "system", "content": agent.system_prompt},
            {"role": "user", "content": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)},
        ],
        "max_tokens": ANSWER_TOKENS,
    }


def context_needed(agent: AgentConfig, chat: dict[str, Any]) -> int:
    """The smallest context window that keeps the chat plus a full answer under the agent's hard ratio."""
    return math.ceil((estimate_prompt_tokens(chat) + ANSWER_TOKENS) / agent.token_hard_max)


def asks(agent: AgentConfig, chat: dict[str, Any], router: ProviderRouter) -> list[Ask]:
    prefs = agent.model_preferences
    common: dict[str, Any] = {
        "context_tokens": context_needed(agent, chat),
        "optimization": prefs.optimization,
        "sla_ms_p95": router.policy_sla_ms,
        "in_tokens": estimate_prompt_tokens(chat),
        "out_tokens": ANSWER_TOKENS,
    }
    return [Ask(model=m, **common) for m in prefs.models] + [Ask(capability=prefs.capability, **common)]


def plan(agent: AgentConfig, chat: dict[str, Any], router: ProviderRouter) -> tuple[Ask, Decision, list[Decision]]:
    """The first of the agent's asks some provider can serve (with its decision), and every decision tried."""
    tried: list[Decision] = []
    for ask in asks(agent, chat, router):
        decision = router.decide(ask)
        tried.append(decision)
        if decision.winner is not None:
            return ask, decision, tried
    return ask, decision, tried


def no_provider_message(agent: AgentConfig, ask: Ask, tried: list[Decision]) -> str:
    prefs = agent.model_preferences
    reasons: dict[str, str] = {}
    for decision in tried:
        for name, why in decision.rejected:
            reasons.setdefault(name, why)
    why = "; ".join(f"{n}: {w}" for n, w in sorted(reasons.items())) or "no provider is registered for them"
    return (
        f"no provider can run agent {agent.name!r}: none serves its models ({', '.join(prefs.models) or 'none'}) "
        f"or its capability {prefs.capability!r} with a context window of at least {ask.context_tokens} tokens "
        f"(its token budget); {why}"
    )

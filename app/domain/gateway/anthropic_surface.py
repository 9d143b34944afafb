"""The Anthropic Messages surface (/anthropic/v1): which routing policy a `model` name means (the router's own
names first, then config/anthropic_aliases.json), which agent and session a call is for (Claude Code's headers),
the models it lists and the tokens it counts."""

from __future__ import annotations

import fnmatch
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from pydantic import ValidationError

from app.domain.errors import InvalidInput, NotFound, PasError
from app.domain.gateway.anthropic_translation import openai_request
from app.domain.gateway.pricing import estimate_prompt_tokens
from app.domain.provider_router.routing import Ask, Provider
from app.domain.provider_router.service import ProviderRouter
from app.domain.token_governor.service import TokenGovernor
from app.domain.token_governor.tokens import CHARS_PER_TOKEN
from contracts.anthropic import AnthropicModel, AnthropicModelList
from contracts.token_governor import TrackRequest

log = logging.getLogger("pas.gateway")

SESSION_HEADER = "X-Claude-Code-Session-Id"
AGENT_HEADER = "x-claude-code-agent-id"
_HEADER_VALUE = re.compile(r"^[A-Za-z0-9_.:@-]{1,200}$")  # what Claude Code sends: uuids, agent ids
POLICY_KEYS = frozenset({"provider", "model", "capability", "prefer", "require_caps"})


@dataclass(frozen=True)
class Alias:
    match: str
    policy: dict[str, Any]


def load_aliases(path: Path) -> list[Alias]:
    """The alias table; a missing or unreadable file is an empty one (logged): the router's names still work."""
    try:
        raw = json.loads(path.read_text())
        entries = raw["aliases"]
        aliases = [Alias(str(e["match"]).lower(), dict(e["policy"])) for e in entries]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError, OSError) as exc:
        log.warning("anthropic_aliases_unreadable", extra={"path": str(path), "error": type(exc).__name__})
        return []
    for a in aliases:
        unknown = set(a.policy) - POLICY_KEYS
        if unknown:
            log.warning("anthropic_alias_unknown_keys", extra={"match": a.match, "keys": sorted(unknown)})
    return aliases


def messages_ask(model: str, prompt_tokens: int, router: ProviderRouter, aliases: list[Alias]) -> Ask:
    """`model` names a provider, a model or a capability (as on /v1), else the first alias that matches it."""
    kind = router.name_kind(model)
    if kind is not None:
        return Ask(provider=model if kind == "provider" else None, model=model if kind == "model" else None,
                   capability=model if kind == "capability" else None, context_tokens=prompt_tokens,
                   sla_ms_p95=router.policy_sla_ms, optimization=router.default_policy)  # fmt: skip
    name = model.lower()
    for a in aliases:
        if fnmatch.fnmatchcase(name, a.match):
            p = a.policy
            caps = p.get("require_caps")
            return Ask(
                provider=_opt_str(p.get("provider")), model=_opt_str(p.get("model")),
                capability=_opt_str(p.get("capability")),
                capabilities=frozenset(str(c) for c in caps) if isinstance(caps, list) else frozenset(),
                context_tokens=prompt_tokens, sla_ms_p95=router.policy_sla_ms,
                optimization=_opt_str(p.get("prefer")) or router.default_policy,
            )  # fmt: skip
    raise NotFound(f"model {model!r} names no provider, model, capability or alias (config/anthropic_aliases.json)",
                   field="model")  # fmt: skip


def _opt_str(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def caller_header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None or value == "":
        return None
    if not _HEADER_VALUE.match(value):
        raise InvalidInput(f"{name} must be 1-200 characters of letters, digits and _.:@-", field=name)
    return str(value)


def attribution(session_id: str | None, agent_id: str | None, agent_type: str | None, fallback: str) -> str:
    """The agent a call counts against: the catalogue agent a sub-agent runs as; a sub-agent PAS did not see
    start (its hooks not installed) by its own id; the main session's calls are the session's own."""
    if agent_id is not None:
        return agent_type or f"subagent:{agent_id}"
    if session_id is not None:
        return f"session:{session_id}"
    return fallback


def count_tokens(body: dict[str, Any]) -> int:
    """An estimate in the tokenizer-free way the gateway's budget holds use (about 4 characters a token), tools'
    schemas included: a client sizing its context needs an answer of the right order, not the vendor's count."""
    tools = body.get("tools") or []
    tool_chars = len(json.dumps(tools, separators=(",", ":"))) if tools else 0
    return estimate_prompt_tokens(openai_request(body)) + -(-tool_chars // CHARS_PER_TOKEN)


def model_list(router: ProviderRouter, aliases: list[Alias], created: str) -> AnthropicModelList:
    """Every model name that routes: the aliases' plain names, the providers' models, the providers."""
    names: list[str] = [a.match for a in aliases if not any(ch in a.match for ch in "*?[")]
    providers = [p for p in router.models() if p.active]
    names += [p.model for p in providers] + [p.name for p in providers]
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    data = [AnthropicModel(id=n, display_name=n, created_at=created) for n in seen]
    return AnthropicModelList(data=data, first_id=seen[0] if seen else None, last_id=seen[-1] if seen else None)


def context_tracker(
    governor: TokenGovernor, add_cost: Callable[[str, float], None]
) -> Callable[[dict[str, Any], Provider | None], None]:
    """The gateway's receipt observer: a Claude Code sub-agent's call adds its cost to the agent's totals (the
    HMI tree's cost per agent) and, with exact usage, tells the token governor its context now — input plus cache
    tokens, against the routed model's window. Never fails the call."""

    def observe(receipt: dict[str, Any], provider: Provider | None) -> None:
        agent, run = receipt.get("agent") or "", receipt.get("agent_id")
        if receipt.get("surface") != "anthropic" or receipt.get("status") != "success" or not run:
            return
        if provider is None or agent.startswith(("subagent:", "session:")):
            return
        try:
            add_cost(agent, float(receipt.get("cost_usd") or 0.0))
        except redis.RedisError as exc:
            log.warning("gateway_cost_not_added", extra={"agent": agent, "error": type(exc).__name__})
        if not receipt.get("tokens_exact"):
            return
        ctx = receipt["input_tokens"] + receipt["cache_read_input_tokens"] + receipt["cache_creation_input_tokens"]
        try:
            governor.track(TrackRequest(agent=agent, run_id=run, ctx_used=ctx, ctx_limit=provider.context_window,
                                        model=receipt.get("model")))  # fmt: skip
        except (PasError, ValidationError, redis.RedisError) as exc:
            log.warning("gateway_track_failed", extra={"agent": agent, "error": type(exc).__name__})

    return observe

"""Claude Code's hooks → PAS: sub-agent runs drive their catalogue agent's registry status, tool calls become
timeline events, an Agent call's usage feeds the token governor, and a breach of the agent's hard ratio answers
Claude Code with its documented hook output. Each hook is one atomic script (models/agent_hook_store.py); the
answer never waits on slow work (events go out in the background, a breach's summary is a Celery task)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from app.domain.agent_hooks.activity import read_timeline, read_totals
from app.domain.agent_hooks.paths import allowed_file
from app.domain.errors import PasError
from app.domain.timefmt import iso
from app.domain.token_governor.service import TokenGovernor, label_thresholds
from contracts.agent_router import AgentRouterHealth
from contracts.hmi import AgentSession, AgentTotals, ToolCallBlock
from contracts.hooks import (
    AgentResult,
    AnyHook,
    HookAnswer,
    HookSpecificOutput,
    PostToolUse,
    PreToolUse,
    SessionEnd,
    Stop,
    SubagentStart,
    SubagentStop,
)
from contracts.registry import ServiceRecord
from contracts.token_governor import TrackRequest, TrackResponse
from models.agent_hook_store import AgentHookStore, HookOutcome

log = logging.getLogger("pas.agent_router")

# Context windows by model family, for a sub-agent whose registry record names none.
MODEL_WINDOWS = (("[1m]", 1_000_000), ("claude", 200_000))


@dataclass(frozen=True)
class HookConfig:
    transcript_root: Path | None  # PAS_TRANSCRIPT_ROOT: unset = no path a hook names is ever read
    default_ctx_limit: int
    resume_path: str  # where the model is told to fetch a breached agent's summary
    sweep_batch: int = 1000


def model_window(model: str | None) -> int | None:
    name = (model or "").lower()
    return next((size for marker, size in MODEL_WINDOWS if marker in name), None)


class AgentHooks:
    def __init__(
        self,
        store: AgentHookStore,
        governor: TokenGovernor,
        emit: Callable[[list[str]], None],
        registered: Callable[[str], ServiceRecord | None],
        config: HookConfig,
    ) -> None:
        self._store = store
        self._governor = governor
        self._emit = emit
        self._registered = registered
        self._config = config

    def handle(self, hook: AnyHook) -> HookAnswer:
        if isinstance(hook, PreToolUse):
            return self._pre(hook)
        if isinstance(hook, PostToolUse):
            return self._post(hook)
        if isinstance(hook, SubagentStart):
            self._done(hook.hook_event_name, self._store.start(hook.session_id, hook.agent_id, hook.agent_type),
                       hook.session_id, hook.agent_type)  # fmt: skip
        elif isinstance(hook, SubagentStop):
            transcript = allowed_file(hook.agent_transcript_path, self._config.transcript_root)
            if hook.agent_transcript_path and transcript is None:
                log.info("transcript_refused", extra={"session_id": hook.session_id, "agent_id": hook.agent_id})
            outcome = self._store.stop(hook.session_id, hook.agent_id, hook.agent_type or "", transcript)
            self._done(hook.hook_event_name, outcome, hook.session_id, hook.agent_type)
        elif isinstance(hook, Stop | SessionEnd):
            how = "idle" if isinstance(hook, Stop) else "ended"
            self._done(hook.hook_event_name, self._store.close(hook.session_id, how), hook.session_id, None)
        else:  # SessionStart and any other event: only a sign of the session's life
            self._emit(self._store.touch(hook.session_id).events)
        return HookAnswer()

    def _done(self, event: str, outcome: HookOutcome, session_id: str, agent_type: str | None) -> None:
        self._emit(outcome.events)
        log.info("hook_" + outcome.outcome, extra={"hook": event, "session_id": session_id, "agent": agent_type})

    @staticmethod
    def _tool_data(hook: PreToolUse | PostToolUse) -> dict[str, object]:
        target = hook.delegation_target()
        data: dict[str, object] = {
            "session_id": hook.session_id,
            "tool_use_id": hook.tool_use_id,
            "tool_name": hook.tool_name,
            "agent_id": hook.agent_id,  # None: the session's main agent
            "agent_type": hook.agent_type,
            "service_id": f"agent-{hook.agent_type}" if hook.agent_type else None,
        }
        if target is not None:
            data.update(to_agent_type=target, to_service_id=f"agent-{target}")
        return data

    def _pre(self, hook: PreToolUse) -> HookAnswer:
        outcome = self._store.tool_pre(
            hook.session_id, hook.agent_id, hook.agent_type, hook.tool_use_id, hook.delegation_target(),
            self._tool_data(hook),
        )  # fmt: skip
        self._emit(outcome.events)
        return HookAnswer()

    def _post(self, hook: PostToolUse) -> HookAnswer:
        result = hook.agent_result()  # a malformed Agent report is a 422 before anything is written
        data = {**self._tool_data(hook), "status": "error" if hook.hook_event_name == "PostToolUseFailure" else "ok"}
        agent = (result.agentType if result else None) or hook.delegation_target()
        record = self._registered(f"agent-{agent}") if result is not None and agent else None
        usage, limit = self._usage(hook, result, agent, record) if result is not None else (None, 0)
        outcome = self._store.tool_post(
            hook.session_id, hook.agent_id, hook.agent_type, hook.tool_use_id, hook.duration_ms, data, usage
        )
        self._emit(outcome.events)
        if outcome.outcome != "ok" or result is None or usage is None or agent is None:
            return HookAnswer()  # a duplicate is answered as before, without tracking its tokens twice
        tracked = self._track(agent, result, limit, outcome.extra, record)
        if tracked is None or tracked.status != "breach":
            return HookAnswer()
        return self._breach_answer(hook, tracked)

    def _usage(
        self, hook: PostToolUse, result: AgentResult, agent: str | None, record: ServiceRecord | None
    ) -> tuple[dict[str, object], int]:
        service_id = f"agent-{agent}" if agent else None
        limit = (record.ctx_limit if record else None) or model_window(
            result.resolvedModel
        ) or self._config.default_ctx_limit  # fmt: skip
        u = result.usage
        return {
            "session_id": hook.session_id,
            "agent_id": result.agentId,
            "agent_type": agent,
            "service_id": service_id,
            "tool_use_id": hook.tool_use_id,
            "model": result.resolvedModel,
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cache_creation_input_tokens": u.cache_creation_input_tokens,
            "cache_read_input_tokens": u.cache_read_input_tokens,
            "total_tokens": result.totalTokens,
            "total_duration_ms": result.totalDurationMs,
            "ctx_used": u.context_tokens,
            "ctx_limit": limit,
            "cost_usd": result.total_cost_usd,  # as Claude Code reports it (2.1.197 reports none: null)
        }, limit

    def _track(
        self, agent: str, result: AgentResult, limit: int, transcript: str, record: ServiceRecord | None
    ) -> TrackResponse | None:
        # The transcript was checked against the root when SubagentStop named it; checked again as a file now.
        path = allowed_file(transcript, self._config.transcript_root) if transcript else None
        # The agent's own ratios from the record already read for its limit: the governor need not read it again.
        own = label_thresholds(record.labels if record else None)
        try:
            return self._governor.track(
                TrackRequest(agent=agent, run_id=result.agentId, ctx_used=result.usage.context_tokens,
                             ctx_limit=limit, transcript_path=path, model=result.resolvedModel),
                agent_own=own,
            )  # fmt: skip
        except PasError as exc:  # e.g. an agent's own target above its hard max: the hook still succeeds
            log.warning("hook_track_failed", extra={"agent": agent, "error": exc.code, "detail": exc.detail})
            return None

    def _breach_answer(self, hook: PostToolUse, t: TrackResponse) -> HookAnswer:
        resume = f"{self._config.resume_path}?{urlencode({'agent': t.agent, 'run_id': t.run_id})}"
        log.info("hook_breach", extra={"agent": t.agent, "run_id": t.run_id, "ctx_ratio": t.ctx_ratio})
        return HookAnswer(
            systemMessage=(
                f"PAS: agent {t.agent} went past its context budget ({t.ctx_used} of {t.ctx_limit} tokens, "
                f"{t.ctx_ratio:.0%} >= {t.hard_max_ratio:.0%}); PAS saved its state to docs/runs/ and cleared "
                f"its context."
            ),
            hookSpecificOutput=HookSpecificOutput(
                hookEventName="PostToolUse",
                additionalContext=(
                    f"PAS token governor: the sub-agent {t.agent} (run {t.run_id}) ended with {t.ctx_used} of "
                    f"{t.ctx_limit} context tokens ({t.ctx_ratio:.0%}), past its hard limit of "
                    f"{t.hard_max_ratio:.0%}. PAS is saving its state (a summary in docs/runs/) and has cleared "
                    f"its tracked context. Do not continue that run; if more work is needed, invoke {t.agent} "
                    f"afresh and give it the summary (GET {resume})."
                ),
            ),
        )

    # beat

    def add_cost(self, agent_type: str, cost_usd: float) -> None:
        """What a sub-agent's model calls through PAS's gateway cost (Claude Code 2.1.197 reports none itself)."""
        if cost_usd > 0:
            self._store.add_cost(f"agent-{agent_type}", cost_usd)

    def agent_type(self, agent_id: str) -> str | None:
        """The catalogue agent a Claude Code sub-agent runs as (its SubagentStart said), if PAS saw it start."""
        return self._store.run(agent_id).get("agent_type") or None

    def sweep(self) -> int:
        """Sessions past their grace (after Stop / SessionEnd) or idle too long: their leftover runs finish."""
        outcome = self._store.sweep(self._config.sweep_batch)
        self._emit(outcome.events)
        return len(outcome.events)

    # reads for the HMI

    def timeline(self, limit: int) -> tuple[list[AgentSession], list[ToolCallBlock]]:
        """Sessions (with their delegations) and tool calls from the newest `limit` hook events."""
        return read_timeline(self._store.timeline(limit))

    def totals(self, service_ids: list[str]) -> dict[str, AgentTotals]:
        """Each catalogue agent's Claude Code tokens, runs and reported cost, by service id."""
        return {sid: read_totals(raw) for sid, raw in self._store.totals(service_ids).items()}

    def health(self, port: int) -> AgentRouterHealth:
        agents, sessions, runs, now_ms = self._store.counts()
        return AgentRouterHealth(port=port, timestamp=iso(now_ms), cached_agents=agents, open_sessions=sessions,
                                 running_agents=runs)  # fmt: skip

"""The token governor: keeps each agent's context under budget — track → warn → breach → summarize → clear →
resume. State per (agent, run) in Redis; summaries run in a Celery worker and land in SQL and docs/runs/."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.domain.errors import InvalidInput, NotFound, UpstreamTimeout
from app.domain.events import log_transitions
from app.domain.ports import EventEmitter
from app.domain.timefmt import iso
from app.domain.token_governor.model_summary import ModelDraft
from app.domain.token_governor.summarizer import extractive_summary
from app.domain.token_governor.tokens import count_messages, message_text
from contracts.token_governor import (
    AgentContext,
    ClearResponse,
    GovernorHealth,
    ResumeResponse,
    SummariesQuery,
    SummarizeRequest,
    SummarizeResponse,
    Summary,
    TokenFigure,
    TrackRequest,
    TrackResponse,
)
from models.governor_store import GovernorStore
from models.stored import stored_float, stored_int
from models.summaries import SummaryRow
from models.summary_store import SummaryStore

log = logging.getLogger("pas.token_governor")

SAFE_RUN_ID = re.compile(r"[^A-Za-z0-9._-]")
TRANSCRIPT_TAIL_BYTES = 256 * 1024
ACTIONS = ("monitor_closely", "save_state_clear_resume")
MODEL_METHOD_LINE = re.compile(r"^- method: model:(\S+)$", re.MULTILINE)
SummarizeWithModel = Callable[[str, float], ModelDraft]  # (conversation, seconds) -> the model's draft, or why not


@dataclass(frozen=True)
class GovernorConfig:
    target_ratio: float
    hard_max_ratio: float
    auto_summarize: bool
    message_window: int
    docs_dir: Path
    transcript_root: Path | None
    summarize_wait_s: float
    lost_breach_after_s: float
    summary_model_timeout_s: float = 60.0


def classify(ratio: float, target: float, hard_max: float) -> tuple[str, str | None]:
    if ratio >= hard_max:
        return "breach", "save_state_clear_resume"
    if ratio >= target:
        return "warning", "monitor_closely"
    return "ok", None


def breach_request_id(agent: str, run_id: str, seq: int) -> str:
    """One summary per (agent, run, breach), however often its task is enqueued."""
    return hashlib.sha256(f"{agent}\x00{run_id}\x00{seq}".encode()).hexdigest()[:32]


def summary_file(docs_dir: Path, run_id: str) -> Path:
    """A new file, never an existing one: <run>_summary.md, then <run>_summary-2.md, -3 …"""
    docs_dir.mkdir(parents=True, exist_ok=True)
    stem = SAFE_RUN_ID.sub("_", run_id)[:150] or "default"
    n = 1
    while True:
        path = docs_dir / (f"{stem}_summary.md" if n == 1 else f"{stem}_summary-{n}.md")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            n += 1
            continue
        os.close(fd)
        return path


def summary_model(row: SummaryRow) -> str | None:
    """The local model that wrote a summary: its file's `- method: model:<name>` line (the SQL column holds the
    contract's `model`, and fits PostgreSQL's String(16))."""
    if row.method != "model":
        return None
    found = MODEL_METHOD_LINE.search(row.text, 0, 2000)
    return found.group(1) if found else None


def label_thresholds(labels: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """An agent's own target and hard max, from its catalogue labels (`token_target`, `token_hard_max`)."""
    found = labels or {}
    target, hard = found.get("token_target"), found.get("token_hard_max")
    return (
        float(target) if isinstance(target, int | float) else None,
        float(hard) if isinstance(hard, int | float) else None,
    )


class TokenGovernor:
    def __init__(
        self,
        store: GovernorStore,
        summaries: SummaryStore,
        emitter: EventEmitter,
        enqueue: Callable[[str, str, str, int | None, str], None],
        config: GovernorConfig,
        agent_thresholds: Callable[[str], tuple[float | None, float | None]] = lambda _agent: (None, None),
        summarize_with_model: SummarizeWithModel | None = None,
    ) -> None:
        self._store = store
        self._summaries = summaries
        self._emitter = emitter
        self._enqueue = enqueue
        self._config = config
        self._agent_thresholds = agent_thresholds
        self._summarize_with_model = summarize_with_model

    def _emit(self, events: list[str]) -> None:
        self._emitter.emit(events)
        log_transitions(log, events)

    def thresholds(
        self,
        agent: str,
        target: float | None,
        hard_max: float | None,
        agent_own: tuple[float | None, float | None] | None = None,
    ) -> tuple[float, float]:
        """Per call > per agent (its catalogue labels; `agent_own` when the caller has read them already) >
        defaults; a target above the hard max is refused."""
        agent_target, agent_hard = agent_own if agent_own is not None else self._agent_thresholds(agent)
        t = next(v for v in (target, agent_target, self._config.target_ratio) if v is not None)
        h = next(v for v in (hard_max, agent_hard, self._config.hard_max_ratio) if v is not None)
        if t > h:
            raise InvalidInput(f"target_ratio {t} is above hard_max_ratio {h}", field="target_ratio")
        return t, h

    def track(self, req: TrackRequest, agent_own: tuple[float | None, float | None] | None = None) -> TrackResponse:
        target, hard_max = self.thresholds(req.agent, req.target_ratio, req.hard_max_ratio, agent_own)
        ratio = round(req.ctx_used / req.ctx_limit, 3)
        status, action = classify(req.ctx_used / req.ctx_limit, target, hard_max)
        messages = [m.model_dump_json() for m in req.messages] if req.messages else None
        if req.transcript_path is not None:
            messages = (messages or []) + self._transcript_messages(req.transcript_path)
        fields: dict[str, str | int | float | None] = {
            "agent": req.agent, "run_id": req.run_id, "ctx_used": req.ctx_used, "ctx_limit": req.ctx_limit,
            "target_ratio": target, "hard_max_ratio": hard_max, "status": status, "action": action or "",
        }  # fmt: skip
        event = {"agent": req.agent, "run_id": req.run_id, "ctx_used": req.ctx_used, "ctx_limit": req.ctx_limit,
                 "ctx_ratio": ratio, "action": action}  # fmt: skip
        outcome = self._store.track(
            req.agent, req.run_id, fields, auto_summarize=self._config.auto_summarize, event=event,
            messages=messages, window=self._config.message_window,
        )  # fmt: skip
        self._emit(outcome.events)
        if outcome.enqueue:
            request_id = breach_request_id(req.agent, req.run_id, outcome.breach_seq)
            self._enqueue(req.agent, req.run_id, "hard_max_breach", outcome.breach_seq, request_id)
            log.info("summary_enqueued", extra={"agent": req.agent, "run_id": req.run_id, "breach": outcome.breach_seq})
        return TrackResponse(
            agent=req.agent, run_id=req.run_id, ctx_used=req.ctx_used, ctx_limit=req.ctx_limit, ctx_ratio=ratio,
            status=status, action=action, target_ratio=target, hard_max_ratio=hard_max,
            ts=iso(outcome.now_ms), messages_tokens=self._count(req),
        )  # fmt: skip

    @staticmethod
    def _count(req: TrackRequest) -> TokenFigure | None:
        if not req.messages:
            return None
        counted = count_messages([m.model_dump() for m in req.messages], req.model)
        return TokenFigure(tokens=counted.tokens, exact=counted.exact, method=counted.method)

    def _transcript_messages(self, path_text: str) -> list[str]:
        root = self._config.transcript_root
        if root is None:
            raise InvalidInput("transcript_path is disabled (PAS_TRANSCRIPT_ROOT is unset)", field="transcript_path")
        path = Path(path_text)
        path = (path if path.is_absolute() else root / path).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            raise InvalidInput("transcript_path must name a file under PAS_TRANSCRIPT_ROOT", field="transcript_path")
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - TRANSCRIPT_TAIL_BYTES))
            tail = fh.read().decode("utf-8", errors="replace")
        out = []
        for line in tail.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                item = {"role": "transcript", "content": line}
            if isinstance(item, dict):
                inner = item.get("message")
                message: dict[str, Any] = inner if isinstance(inner, dict) else item
                out.append(json.dumps({"role": str(message.get("role", "transcript")),
                                       "content": message_text(message)}))  # fmt: skip
        return out[-self._config.message_window :]

    # reads

    def _context(self, h: dict[str, str]) -> AgentContext:
        # Tolerant: a hash may hold what an older PAS wrote ('1e+18', 'nan', …); clamped, never a 500.
        used, limit = stored_int(h.get("ctx_used")), stored_int(h.get("ctx_limit"), 1, lo=1)
        target = stored_float(h.get("target_ratio"), self._config.target_ratio, lo=0, hi=1)
        hard_max = stored_float(h.get("hard_max_ratio"), self._config.hard_max_ratio, lo=0, hi=1)
        status, action = h.get("status"), h.get("action") or None
        if status not in ("ok", "warning", "breach") or action not in (None, *ACTIONS):
            status, action = classify(used / limit, target, hard_max)
        return AgentContext(
            agent=h.get("agent", ""), run_id=h.get("run_id", ""), ctx_used=used, ctx_limit=limit,
            ctx_ratio=round(used / limit, 3), target_ratio=target, hard_max_ratio=hard_max, status=status,
            action=action, last_updated=iso(stored_int(h.get("last_updated_ms"))),
            breaches=stored_int(h.get("breach_seq")),
        )  # fmt: skip

    def status(self, agent: str | None, run_id: str | None) -> list[AgentContext]:
        rows = [self._context(h) for h in self._store.all()]
        return [r for r in rows if (agent is None or r.agent == agent) and (run_id is None or r.run_id == run_id)]

    def health(self) -> GovernorHealth:
        rows = self._store.all()
        return GovernorHealth(tracked=len(rows), breaches=sum(h.get("status") == "breach" for h in rows))

    # summaries

    def summarize(self, req: SummarizeRequest) -> SummarizeResponse:
        """Synchronous for the user's clients: enqueue, then wait (bounded) for the worker's summary."""
        if self._store.get(req.agent, req.run_id) is None:
            raise NotFound(f"agent {req.agent!r} run {req.run_id!r} is not tracked", field="agent")
        request_id = uuid.uuid4().hex
        if req.content_to_summarize:
            self._store.stage_content(request_id, req.content_to_summarize)
        self._enqueue(req.agent, req.run_id, req.trigger_reason, None, request_id)
        deadline = time.monotonic() + self._config.summarize_wait_s
        while time.monotonic() < deadline:
            row = self._summaries.by_request(request_id)
            if row is not None:
                return SummarizeResponse(
                    summary_id=row.summary_id, agent=row.agent, run_id=row.run_id, summary_path=row.summary_path,
                    ctx_before=row.ctx_before, ctx_after=row.ctx_after, method=row.method,
                    model=summary_model(row), ts=iso(row.created_ms),
                )  # fmt: skip
            time.sleep(0.02)
        raise UpstreamTimeout(
            f"the summary was not ready within {self._config.summarize_wait_s}s; it will still be written",
            field="agent", request_id=request_id,
        )  # fmt: skip

    def write_summary(
        self, agent: str, run_id: str, trigger: str, breach_seq: int | None, request_id: str
    ) -> str | None:
        """Worker side, idempotent: a breach already summarized, or a request already answered, is skipped."""
        state = self._store.get(agent, run_id)
        if state is None:
            return None
        if breach_seq is not None and stored_int(state.get("summarized_for")) >= breach_seq:
            return None
        existing = self._summaries.by_request(request_id)
        if existing is not None:
            return existing.summary_id
        staged = self._store.staged_content(request_id)
        messages = [json.loads(m) for m in self._store.messages(agent, run_id)]
        source = staged if staged is not None else "\n".join(
            f"{m.get('role', '?')}: {message_text(m)}" for m in messages
        )  # fmt: skip
        body, method, why = self._draft(source, breach_seq)
        ctx_before, ctx_limit = stored_int(state.get("ctx_used")), stored_int(state.get("ctx_limit"), 1, lo=1)
        summary_id = uuid.uuid4().hex
        path = summary_file(self._config.docs_dir, run_id)
        text = (
            f"# Context summary — {agent} / {run_id}\n\n"
            f"- summary_id: {summary_id}\n- trigger: {trigger}\n- ctx_before: {ctx_before} of {ctx_limit}\n"
            f"- method: {method}\n\n## Resume from here\n\n{body}\n"
        )
        path.write_text(text)
        now_ms = int(time.time() * 1000)
        if not self._summaries.insert(
            summary_id=summary_id, request_id=request_id, agent=agent, run_id=run_id, trigger_reason=trigger,
            breach_seq=breach_seq, ctx_before=ctx_before, ctx_after=0, summary_path=str(path.resolve()),
            method=method.split(":")[0], text=text, created_ms=now_ms,
        ):  # fmt: skip
            path.unlink(missing_ok=True)  # a redelivered task lost the race: one summary per request
            return None
        event = {"agent": agent, "run_id": run_id, "summary_id": summary_id, "summary_path": str(path.resolve()),
                 "method": method.split(":")[0], "model": method.partition(":")[2] or None,
                 "trigger_reason": trigger}  # fmt: skip
        _ok, _now, _before, events = self._store.reset(agent, run_id, breach_seq, event)
        self._emit(events)
        log.info("summary_written", extra={"agent": agent, "run_id": run_id, "summary_id": summary_id,
                                           "method": method, "why": why})  # fmt: skip
        return summary_id

    def _draft(self, source: str, breach_seq: int | None) -> tuple[str, str, str]:
        """The summary's text, its method (`model:<name>` or `extractive`) and why that method."""
        if not source.strip():
            return "(no conversation was tracked for this run)", "extractive", "nothing to summarize"
        if self._summarize_with_model is None:
            return extractive_summary(source), "extractive", "no model summarizer is wired"
        timeout = self._config.summary_model_timeout_s
        if breach_seq is None:
            # A client waits on /summarize for summarize_wait_s: the model gets at most three quarters of it,
            # the rest is for the queue and the fallback. A breach's summary has nobody waiting.
            timeout = min(timeout, self._config.summarize_wait_s * 0.75)
        try:
            draft = self._summarize_with_model(source, timeout)
        except Exception as exc:  # Redis away, …: the summary is still written, extractive
            log.exception("summary_model_failed")
            return extractive_summary(source), "extractive", f"the model summary failed: {type(exc).__name__}"
        if draft.text and draft.model:
            return draft.text, f"model:{draft.model}", draft.reason
        return extractive_summary(source), "extractive", draft.reason

    def summaries(self, query: SummariesQuery) -> list[Summary]:
        return [self._summary(r) for r in self._summaries.latest(query.agent, query.run_id, query.limit)]

    @staticmethod
    def _summary(row: SummaryRow) -> Summary:
        return Summary(
            summary_id=row.summary_id, agent=row.agent, run_id=row.run_id,
            trigger_reason=row.trigger_reason,
            ctx_before=row.ctx_before, ctx_after=row.ctx_after, summary_path=row.summary_path,
            method=row.method, model=summary_model(row), created_at=iso(row.created_ms),
        )  # fmt: skip

    def clear(self, agent: str | None, run_id: str) -> ClearResponse:
        if not agent:
            raise InvalidInput("agent is required (query or body)", field="agent")
        ok, now_ms, before, events = self._store.reset(agent, run_id, None, None)
        if not ok:
            raise NotFound(f"agent {agent!r} run {run_id!r} is not tracked", field="agent")
        self._emit(events)
        log.info("context_cleared", extra={"agent": agent, "run_id": run_id, "ctx_before": before})
        return ClearResponse(agent=agent, run_id=run_id, ctx_before=before, ts=iso(now_ms))

    def resume(self, agent: str, run_id: str) -> ResumeResponse:
        rows = self._summaries.latest(agent, run_id, 1)
        if not rows:
            raise NotFound(f"no summary for agent {agent!r} run {run_id!r}", field="agent")
        row = rows[0]
        return ResumeResponse(agent=agent, run_id=run_id, summary_id=row.summary_id, summary_path=row.summary_path,
                              context=row.text, created_at=iso(row.created_ms))  # fmt: skip

    def sweep(self) -> int:
        """Beat: breaches whose summary task was lost (or never enqueued) get one again."""
        again = 0
        now_ms = int(time.time() * 1000)
        for h in self._store.all():
            seq = stored_int(h.get("breach_seq"))
            if h.get("status") != "breach" or stored_int(h.get("summarized_for")) >= seq:
                continue
            if now_ms - stored_int(h.get("last_updated_ms")) < self._config.lost_breach_after_s * 1000:
                continue
            if "agent" not in h or "run_id" not in h:
                continue  # not a state PAS wrote
            self._enqueue(
                h["agent"], h["run_id"], "hard_max_breach", seq, breach_request_id(h["agent"], h["run_id"], seq)
            )
            again += 1
        return again

"""The agent router's /invoke: an agent of the catalogue really run as a job of the job platform.

Web side (invoke): resolve the agent (by name, or the first discover match for capabilities), refuse at once when
no provider can serve it, hand the payload to the job through a one-shot key, create the job (which reserves the
agent's resources), then wait for the job's outcome until `timeout_s`; past it the job is killed (`timeout`).
Worker side (run): the agent's system prompt plus the payload as the user message go through the gateway domain
with the agent's model preferences, under its token budget; the receipt is tagged with the agent, run and job;
the token governor tracks the run's context. Neither the payload nor the answer is stored anywhere (the job's
result holds ids, token counts and cost; the handoff keys expire and are deleted by their one read)."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.agent_router.directory import AgentDirectory
from app.domain.agent_router.planning import chat_body, no_provider_message, plan
from app.domain.agents.catalogue import Catalogue
from app.domain.errors import (
    BudgetExceeded,
    Conflict,
    InvalidInput,
    NoProvider,
    NotFound,
    PasError,
    UpstreamError,
    UpstreamTimeout,
)
from app.domain.gateway.calls import CallMeta
from app.domain.gateway.pricing import estimate_prompt_tokens
from app.domain.gateway.service import Gateway
from app.domain.ids import new_id
from app.domain.jobs.service import Jobs
from app.domain.token_governor.service import TokenGovernor
from contracts.agent_router import (
    AgentEntry,
    AgentInvokeRequest,
    AgentInvokeResponse,
    InvokeMetadata,
    InvokeResult,
    InvokeUsage,
    Transport,
)
from contracts.agents import AgentConfig
from contracts.jobs import JobCard, JobResources
from contracts.token_governor import TrackRequest
from models.invocation_store import InvocationStore

log = logging.getLogger("pas.agent_router")

TASK = "pas.agent_router.invoke"
DEFAULT_RUN = "agent-router"  # the run of an invoke that names none (receipts: artifacts/costs/agent-router.jsonl)
HANDOFF_MARGIN_MS = 30_000  # a handoff key outlives the invoke's deadline by this much, then expires
WORKER_MARGIN_S = 0.25  # the worker's gateway call ends this much before the deadline, so its receipt says timeout
HTTP = {"success": 200, "timeout": 504, "error": 502}


@dataclass
class Outcome:
    """What the job hands back to the web process (through the result key, never stored)."""

    status: str
    http: int
    error: str | None = None
    result: dict[str, Any] | None = None

    def dumps(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str) -> Outcome:
        data = json.loads(raw)
        return cls(str(data["status"]), int(data["http"]), data.get("error"), data.get("result"))


class AgentRouter:
    def __init__(
        self,
        directory: AgentDirectory,
        catalogue: Callable[[], Catalogue],
        jobs: Jobs,
        gateway: Gateway,
        governor: TokenGovernor,
        store: InvocationStore,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),  # wall clock: web and worker compare it
    ) -> None:
        self.directory = directory
        self._catalogue = catalogue
        self._jobs = jobs
        self._gateway = gateway
        self._governor = governor
        self._store = store
        self._now = now_ms

    # --- web side -------------------------------------------------------------------------------------------

    def _resolve(self, req: AgentInvokeRequest) -> tuple[AgentEntry, AgentConfig]:
        if req.agent_name is None and req.capabilities is None:
            raise InvalidInput("agent_name or capabilities is required", field="agent_name")
        if req.agent_name is not None:
            found = self.directory.named(req.agent_name)
            missing = sorted(set(req.capabilities or []) - set(found.capabilities))
            if missing:
                raise NotFound(f"agent_name {req.agent_name!r} lacks capabilities {missing}", field="capabilities")
        else:
            found = self.directory.first_with(list(req.capabilities or []))
        agent = self._catalogue().agents.get(found.agent_name)
        if agent is None:
            field = "agent_name" if req.agent_name is not None else "capabilities"
            raise NotFound(f"agent {found.agent_name!r} is registered but not in the agent catalogue, so PAS has no "
                           "system prompt or model preferences to run it with", field=field)  # fmt: skip
        return found, agent

    def invoke(self, req: AgentInvokeRequest) -> tuple[AgentInvokeResponse, int]:
        t0 = time.perf_counter()
        try:
            found, agent = self._resolve(req)
        except PasError as exc:
            exc.extra.setdefault("request_id", req.request_id)  # the clients match errors by request_id
            raise
        run_id = req.run_id or DEFAULT_RUN
        transport: Transport = req.transport or agent.transport
        meta = InvokeMetadata(transport=transport, agent_role=found.role, tier=found.tier, job_id=None, run_id=run_id)

        def answer(outcome: Outcome) -> tuple[AgentInvokeResponse, int]:
            ms = round((time.perf_counter() - t0) * 1000, 3)
            log.info("agent_invoked", extra={"agent": agent.name, "request_id": req.request_id, "job_id": meta.job_id,
                                             "status": outcome.status, "ms": ms})  # fmt: skip
            result = InvokeResult.model_validate(outcome.result) if outcome.result is not None else None
            body = AgentInvokeResponse(request_id=req.request_id, agent_name=agent.name, status=outcome.status,
                                       result=result, error=outcome.error, metadata=meta, latency_ms=ms)  # fmt: skip
            return body, outcome.http

        # No provider able to serve: say so now rather than after a job and the whole timeout.
        chat = chat_body(agent, req.payload)
        ask, decision, tried = plan(agent, chat, self._gateway.router)
        if decision.winner is None:
            return answer(Outcome("error", 502, no_provider_message(agent, ask, tried)))

        timeout_ms = int(req.timeout_s * 1000)
        deadline_ms = self._now() + timeout_ms
        invocation_id = new_id()
        self._store.put_payload(invocation_id, json.dumps(req.payload, separators=(",", ":")),
                                timeout_ms + HANDOFF_MARGIN_MS)  # fmt: skip
        card = JobCard(
            agent=agent.name, task=TASK, run_id=req.run_id,
            kwargs={"invocation_id": invocation_id, "agent_name": agent.name, "request_id": req.request_id,
                    "run_id": run_id, "deadline_ms": deadline_ms, "transport": transport},
            resources=JobResources(**agent.resources.model_dump()),
            timeout_s=math.ceil(req.timeout_s) + 1,  # Celery's hard limit: a backstop behind the deadline below
        )  # fmt: skip
        try:
            job = self._jobs.create(card, trusted=True)
        except Conflict as exc:  # its resources are not there now (quota_exceeded)
            self._store.drop(invocation_id)
            meta.job_id = exc.extra.get("job_id")
            return answer(Outcome("error", 409, f"resources for {agent.name!r} not available: {exc.detail}"))
        meta.job_id = job.job_id

        raw = self._store.wait_result(invocation_id, (deadline_ms - self._now()) / 1000)
        if raw is None:
            self._jobs.kill(job.job_id, f"timeout_s {req.timeout_s:g} passed", status="timeout")
            raw = self._store.wait_result(invocation_id, 0)  # it finished in the same instant
        self._store.drop(invocation_id)
        if raw is None:
            return answer(
                Outcome("timeout", 504, f"no answer within timeout_s {req.timeout_s:g}; the job was cancelled")
            )
        return answer(Outcome.loads(raw))

    # --- worker side ----------------------------------------------------------------------------------------

    def run(self, job_id: str | None, invocation_id: str, agent_name: str, request_id: str, run_id: str,
            deadline_ms: int, transport: str) -> dict[str, Any]:  # fmt: skip
        """The job's task. Returns what the job record keeps: ids, sizes, tokens and cost, never the texts."""
        summary: dict[str, Any] = {"agent_name": agent_name, "run_id": run_id, "transport": transport}
        ttl_ms = max(0, deadline_ms - self._now()) + HANDOFF_MARGIN_MS

        def end(outcome: Outcome, job_status: str | None = None) -> dict[str, Any]:
            self._store.put_result(invocation_id, outcome.dumps(), ttl_ms)  # before the job's end: see invoke()
            if job_status is not None and job_id is not None:
                self._jobs.finish(job_id, job_status, error=outcome.error)
            log.info("agent_run", extra={"agent": agent_name, "job_id": job_id, "status": outcome.status})
            return {**summary, "status": outcome.status}

        raw = self._store.take_payload(invocation_id)
        if raw is None:
            return end(Outcome("error", 502, "the invocation's payload is gone (expired, or a redelivered job)"),
                       "failed")  # fmt: skip
        summary["payload_bytes"] = len(raw.encode())
        try:
            agent = self._catalogue().get(agent_name)
        except NotFound as exc:
            return end(Outcome("error", 502, exc.detail), "failed")
        remaining_s = (deadline_ms - self._now()) / 1000 - WORKER_MARGIN_S
        if remaining_s <= 0:
            return end(Outcome("timeout", 504, "the deadline passed before the job started"), "timeout")
        chat = chat_body(agent, json.loads(raw))
        ask, decision, tried = plan(agent, chat, self._gateway.router)
        if decision.winner is None:
            return end(Outcome("error", 502, no_provider_message(agent, ask, tried)), "failed")
        prompt_tokens = estimate_prompt_tokens(chat)
        self._track(agent, run_id, prompt_tokens, decision.winner.provider.context_window, None)
        call = CallMeta(request_id, run_id, agent.name, timeout_s=remaining_s,
                        metadata={"source": "agent_router", "agent_name": agent.name, "run_id": run_id,
                                  "job_id": job_id, "transport": transport})  # fmt: skip
        try:
            done = self._gateway.call(ask, chat, call)
        except UpstreamTimeout as exc:
            return end(Outcome("timeout", 504, f"the model did not answer in time: {exc.detail}"), "timeout")
        except BudgetExceeded as exc:
            return end(Outcome("error", 429, exc.detail), "failed")
        except NoProvider as exc:
            return end(Outcome("error", 502, f"no provider can run agent {agent.name!r}: {exc.detail}"), "failed")
        except UpstreamError as exc:
            return end(Outcome("error", 502, f"the model's provider failed: {exc.detail}"), "failed")
        receipt, response = done.receipt, done.response or {}
        text = answer_text(response)
        provider = self._gateway.router.provider(receipt["provider"])
        window = provider.context_window if provider else decision.winner.provider.context_window
        used = int(receipt["input_tokens"]) + int(receipt["output_tokens"])
        self._track(agent, run_id, used, window, receipt.get("model"))
        usage = InvokeUsage(input_tokens=receipt["input_tokens"], output_tokens=receipt["output_tokens"],
                            total_tokens=used, tokens_exact=receipt["tokens_exact"],
                            cost_usd=receipt["cost_usd"])  # fmt: skip
        result = InvokeResult(text=text, provider=receipt["provider"], model=receipt["model"], usage=usage,
                              receipt_id=receipt["receipt_id"])  # fmt: skip
        summary.update(receipt_id=receipt["receipt_id"], provider=receipt["provider"], model=receipt["model"],
                       input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, cost_usd=usage.cost_usd,
                       answer_chars=len(text))  # fmt: skip
        return end(Outcome("success", 200, None, result.model_dump()))

    def _track(self, agent: AgentConfig, run_id: str, used: int, window: int, model: str | None) -> None:
        """The run's context against the agent's own budget (never its messages: they may hold secrets)."""
        try:
            self._governor.track(TrackRequest(agent=agent.name, run_id=run_id, ctx_used=used, ctx_limit=window,
                                              target_ratio=agent.token_target, hard_max_ratio=agent.token_hard_max,
                                              model=model))  # fmt: skip
        except PasError as exc:  # the governor's view is telemetry: the run goes on without it
            log.warning("agent_run_untracked", extra={"agent": agent.name, "error": exc.code})


def answer_text(response: dict[str, Any]) -> str:
    """The first choice's message content (an OpenAI chat.completion); "" when the upstream sent none."""
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""

from __future__ import annotations

from typing import Any

from celery import shared_task

from app.domain.jobs.service import current_job
from app.wiring import services


@shared_task(name="pas.agent_router.sweep", ignore_result=True)
def sweep() -> int:
    """Claude Code sessions past their grace or idle too long: the runs they left going are finished."""
    return services().agent_hooks.sweep()


@shared_task(name="pas.agent_router.invoke", ignore_result=True)
def invoke(invocation_id: str, agent_name: str, request_id: str, run_id: str, deadline_ms: int,
           transport: str) -> dict[str, Any]:  # fmt: skip
    """A job task (pas.jobs.run runs it, the job's reservation held): one agent run through the gateway."""
    return services().agent_router.run(current_job.get(), invocation_id, agent_name, request_id, run_id,
                                       deadline_ms, transport)  # fmt: skip

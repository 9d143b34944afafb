from __future__ import annotations

from celery import shared_task

from app.wiring import services


@shared_task(name="pas.token_governor.summarize", ignore_result=True)
def summarize(agent: str, run_id: str, trigger_reason: str, breach_seq: int | None, request_id: str) -> str | None:
    """Write a summary of the agent's context, record it, set the context to 0 (idempotent)."""
    return services().token_governor.write_summary(agent, run_id, trigger_reason, breach_seq, request_id)


@shared_task(name="pas.token_governor.sweep", ignore_result=True)
def sweep() -> int:
    """Breaches whose summarization was lost get it again."""
    return services().token_governor.sweep()

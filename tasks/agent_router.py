from __future__ import annotations

from celery import shared_task

from app.wiring import services


@shared_task(name="pas.agent_router.sweep", ignore_result=True)
def sweep() -> int:
    """Claude Code sessions past their grace or idle too long: the runs they left going are finished."""
    return services().agent_hooks.sweep()

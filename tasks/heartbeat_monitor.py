from __future__ import annotations

from celery import shared_task

from app.wiring import services


@shared_task(name="pas.heartbeat_monitor.sweep", ignore_result=True)
def sweep() -> int:
    """One beat period of deadline sweeps (the monitor's source of truth)."""
    monitor = services().heartbeat_monitor
    # Leave a little of the period so consecutive beats do not overlap.
    return monitor.sweep(budget_s=services().settings.pas_sweep_interval_s * 0.9)

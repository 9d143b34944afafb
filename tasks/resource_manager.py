from __future__ import annotations

from celery import shared_task

from app.wiring import services


@shared_task(name="pas.resource_manager.sweep", ignore_result=True)
def sweep() -> int:
    """Expire leases whose TTL ran out or whose holder went down."""
    return len(services().resource_manager.sweep())

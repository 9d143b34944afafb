"""Event stream beat task: the durable daily JSONL copy of every event."""

from __future__ import annotations

from celery import shared_task

from app.wiring import services


@shared_task(name="pas.events.archive", ignore_result=True)
def archive() -> int:
    return services().event_archive.ship()

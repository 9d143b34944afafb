"""Celery behind the jobs domain's Dispatcher port, and the allowlist of job tasks."""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from celery import Celery

log = logging.getLogger("pas.jobs")

OWN_JOB_TASKS = frozenset({"pas.jobs.echo", "pas.jobs.sleep", "pas.jobs.fail"})
ENTRY_POINT_GROUP = "pas.tasks"  # a deployment adds job tasks as `name = "package.module"`


@cache
def extra_task_modules() -> tuple[str, ...]:
    return tuple(ep.value for ep in entry_points(group=ENTRY_POINT_GROUP))


@cache
def allowed_job_tasks() -> frozenset[str]:
    return OWN_JOB_TASKS | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


class CeleryWorkerControl:
    """Pause All: every worker stops (or resumes) consuming the work queue; system sweeps keep running."""

    def __init__(self, celery: Celery, work_queue: str) -> None:
        self._celery = celery
        self._queue = work_queue

    def stop_consuming_work(self) -> int:
        return len(self._celery.control.cancel_consumer(self._queue, reply=True, timeout=1.0) or [])

    def resume_consuming_work(self) -> int:
        return len(self._celery.control.add_consumer(self._queue, reply=True, timeout=1.0) or [])


class CeleryDispatcher:
    def __init__(self, celery: Celery, queue: str) -> None:
        self._celery = celery
        self._queue = queue

    def enqueue(self, job_id: str, timeout_s: int, priority: int) -> None:
        # The hard time limit kills the pool child; beat's reconcile catches a worker that died instead.
        self._celery.send_task(
            "pas.jobs.run",
            args=[job_id],
            task_id=job_id,
            queue=self._queue,
            time_limit=timeout_s,
            priority=priority,
        )

    def revoke(self, job_id: str) -> None:
        self._celery.control.revoke(job_id, terminate=True, signal="SIGKILL")

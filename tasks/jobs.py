"""The job runner and PAS's own job tasks. A job is `pas.jobs.run(job_id)`; it runs the card's task in-process."""

from __future__ import annotations

import time
from typing import Any

from celery import current_app, shared_task
from celery.exceptions import Reject
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import OperationalError

from app.domain.jobs.service import current_job
from app.wiring import services

# PAS's own stores out of reach (Valkey restarting, a dropped connection, the database away): the job did not fail.
STORES_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OperationalError)


@shared_task(name="pas.jobs.run", ignore_result=True, bind=True)
def run(self: Any, job_id: str) -> None:
    try:
        _run(job_id, self.request.id)
    except STORES_UNREACHABLE as exc:
        # Raised, the task would be acknowledged as done (acks_late acks failures) and the job lost, `running` until
        # its timeout. Requeued instead — or, with the broker away too, left in its `unacked` hash for the
        # visibility timeout to hand out again; the next attempt counts against MAX_ATTEMPTS (RELIABILITY C6, C9).
        raise Reject(f"{type(exc).__name__}: {exc}", requeue=True) from exc


def _run(job_id: str, message_id: str | None) -> None:
    jobs = services().jobs
    card = jobs.begin(job_id, message_id)
    if card is None:
        return
    token = current_job.set(job_id)
    try:
        result = current_app.tasks[card.task].run(*card.args, **card.kwargs)
    except STORES_UNREACHABLE:
        raise
    except Exception as exc:
        jobs.finish(job_id, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        return
    finally:
        current_job.reset(token)
    jobs.finish(job_id, "succeeded", result=result)


@shared_task(name="pas.jobs.reconcile", ignore_result=True)
def reconcile() -> int:
    """Jobs past their hard timeout whose worker could not say so."""
    return len(services().jobs.reconcile())


def report_progress(fraction: float) -> None:
    """For job tasks: progress of the current job, 0..1 (an event and the job card)."""
    job_id = current_job.get()
    if job_id is not None:
        services().jobs.progress(job_id, fraction)


@shared_task(name="pas.jobs.echo")
def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


@shared_task(name="pas.jobs.sleep")
def sleep(seconds: float = 1.0, steps: int = 10) -> dict[str, float]:
    """Sleeps, reporting progress: for demos and for testing timeouts, kills and pause."""
    steps = max(1, steps)
    for i in range(steps):
        time.sleep(seconds / steps)
        report_progress((i + 1) / steps)
    return {"slept_s": seconds}


@shared_task(name="pas.jobs.fail")
def fail(message: str = "failed on purpose") -> None:
    raise RuntimeError(message)

"""Celery behind the jobs domain's Dispatcher port, and the allowlist of job tasks."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import redis
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


DEFAULT_VISIBILITY_TIMEOUT_S = 3600  # kombu's, when the transport options do not say


class DelayTooLong(ValueError):
    pass


def delay_s(countdown: float | None, eta: datetime | str | None, now: datetime) -> float | None:
    """How long a task waits before it may run: its countdown, or its ETA from now (naive = UTC, as Celery's)."""
    if countdown is not None:
        return float(countdown)
    if eta is None:
        return None
    when = datetime.fromisoformat(eta) if isinstance(eta, str) else eta
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() - now.timestamp()


class GuardedCelery(Celery):  # type: ignore[misc]
    """Refuses, at the call site, a countdown or ETA that reaches half the visibility timeout (RELIABILITY decision
    6, C5). On the Redis transport a worker holds such a message unacknowledged until it is due; once the
    visibility timeout passes, another worker is handed it again, and again each timeout after (celery#2599): a
    task run several times. Half, because the task must also finish before the timeout, counted from delivery.
    Every publish goes through here: `send_task`, `Task.apply_async` and `Task.retry(countdown=…)`."""

    def send_task(
        self,
        name: str,
        args: Any = None,
        kwargs: Any = None,
        countdown: float | None = None,
        eta: datetime | str | None = None,
        **options: Any,
    ) -> Any:
        wait = delay_s(countdown, eta, datetime.now(UTC))
        if wait is not None:
            timeout = (self.conf.broker_transport_options or {}).get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT_S)
            if wait >= timeout / 2:
                raise DelayTooLong(
                    f"{name}: a delay of {wait:.0f}s reaches half the broker's visibility timeout ({timeout}s); the "
                    "Redis transport would deliver it more than once (celery#2599)"
                )
        return super().send_task(name, args, kwargs, countdown, eta, **options)


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

    def enqueue(self, job_id: str, timeout_s: int, priority: int, message_id: str | None = None) -> None:
        # The hard time limit kills the pool child; beat's reconcile catches a worker that died instead.
        self._celery.send_task(
            "pas.jobs.run",
            args=[job_id],
            task_id=message_id or job_id,
            queue=self._queue,
            time_limit=timeout_s,
            priority=priority,
        )

    def revoke(self, message_id: str) -> None:
        self._celery.control.revoke(message_id, terminate=True, signal="SIGKILL")

    def held_message_ids(self) -> set[str]:
        """kombu's Redis transport keeps a queue as one list per priority step and every delivered message in the
        `unacked` hash until its ack; all are read in one MULTI, so a message moving between them is seen once."""
        with self._celery.connection_for_read() as conn:
            channel: Any = conn.default_channel
            prefix = channel.global_keyprefix
            lists = [prefix + channel._q_for_pri(self._queue, step) for step in channel.priority_steps]
            client = redis.Redis.from_url(self._celery.conf.broker_url, socket_timeout=10)
            try:
                pipe = client.pipeline(transaction=True)
                for name in lists:
                    pipe.lrange(name, 0, -1)
                pipe.hvals(prefix + channel.unacked_key)
                *waiting, unacked = pipe.execute()
            finally:
                client.close()
        ids = {task_id(json.loads(raw)) for batch in waiting for raw in batch}
        return ids | {task_id(json.loads(raw)[0]) for raw in unacked}


def task_id(message: Any) -> str:
    """A kombu message's task id (Celery's protocol 2 puts it in the headers), or '' when it has none."""
    headers = message.get("headers") if isinstance(message, dict) else None
    return str(headers.get("id") or "") if isinstance(headers, dict) else ""

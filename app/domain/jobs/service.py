"""Job cards on Celery: reserve → enqueue → run → release, every state change a compare-and-set in SQL and an
event. The worker, not the web process, runs the task; hard timeouts kill it, and a beat sweep catches what a
dead worker could not report."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol

from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.ports import EventEmitter
from app.domain.resource_manager.service import ResourceManager
from app.domain.timefmt import iso
from contracts.jobs import JobCard, JobRecord, JobResources, JobsQuery
from contracts.resource_manager import KillResponse, ReserveDenied, ResourceRequest
from models.event_store import EventStore
from models.job_dispatch_store import JobDispatchStore
from models.job_store import JobStore, current_message
from models.jobs import JobRow

log = logging.getLogger("pas.jobs")

MAX_ATTEMPTS = 3  # redeliveries of a job whose worker died, before it is failed (poison job)
TIMEOUT_GRACE_MS = 2000
# A job's final event is written once per job, however often its ending is settled (see _settle); the marker
# outlives any redelivery of its task.
FINAL_EVENT_ONCE_MS = 7 * 86400 * 1000
# The broker can lose a job's message: a Valkey killed between a worker's pop of it and kombu's write of it to
# `unacked` (RELIABILITY C6); a publish that never reached a store that was away. The job stays `queued`, and no
# worker will ever begin it. The reconciler looks, at most every LOST_SCAN_EVERY_MS, for queued jobs older than
# LOST_AFTER_MS whose message the broker does not hold, and dispatches again the ones two looks found missing.
LOST_AFTER_MS = 5000
LOST_SCAN_EVERY_MS = 4000
LOST_SCAN_LIMIT = 1000
FINAL_EVENTS = {"succeeded": "job_completed", "failed": "job_failed", "killed": "job_killed", "timeout": "job_killed"}

# The job a task is running for, so a task can report progress without taking the id as an argument.
current_job: ContextVar[str | None] = ContextVar("current_job", default=None)


class Dispatcher(Protocol):
    def enqueue(self, job_id: str, timeout_s: int, priority: int, message_id: str | None = None) -> None:
        """Publishes the job's message, with `message_id` as its task id (default: the job id)."""

    def revoke(self, message_id: str) -> None: ...

    def held_message_ids(self) -> set[str]:
        """The task ids of every message the broker holds for the work queue: waiting, or delivered and not
        acknowledged yet — one consistent snapshot."""


class JobDenied(Conflict):
    code = "quota_exceeded"


class Jobs:
    def __init__(
        self,
        store: JobStore,
        resources: ResourceManager,
        events: EventStore,
        emitter: EventEmitter,
        dispatcher: Dispatcher,
        dispatch_store: JobDispatchStore,
        allowed_tasks: Callable[[], frozenset[str]],
        now_ms: Callable[[], int],
        scrub: Callable[[str], str] = str,
    ) -> None:
        """`scrub` takes the process's secrets out of a job's error and result, which quote whatever the task's
        libraries said (a failing call's URL with its `?key=`)."""
        self._store = store
        self._resources = resources
        self._events = events
        self._emitter = emitter
        self._dispatcher = dispatcher
        self._dispatch_store = dispatch_store
        self._allowed = allowed_tasks
        self._now = now_ms
        self._scrub = scrub

    def _event(self, event_type: str, row: JobRow, *, once: bool = False, **extra: Any) -> None:
        data = {
            "job_id": row.job_id,
            "parent_job_id": row.parent_job_id,
            "agent": row.agent,
            "task": row.task,
            "status": extra.pop("status", row.status),
            "progress": extra.pop("progress", row.progress),
            "start_time": iso(row.started_ms) if row.started_ms else None,
            "end_time": iso(row.finished_ms) if row.finished_ms else None,
            **extra,
        }
        if once:  # the job's final event: one per job (job_completed, job_failed or job_killed)
            body = self._events.append_once(f"job-final:{row.job_id}", FINAL_EVENT_ONCE_MS, event_type, "jobs", data)
            if body is None:
                return
        else:
            body = self._events.append(event_type, "jobs", data)
        self._emitter.emit([body])
        log.info(event_type, extra={"job_id": row.job_id, "task": row.task, "status": data["status"]})

    # edges → domain

    def create(self, card: JobCard, *, trusted: bool = False) -> JobRecord:
        """`trusted`: PAS's own caller (the agent router) runs a task that is not on the users' allowlist."""
        allowed = self._allowed()
        if not trusted and card.task not in allowed:
            raise InvalidInput(
                f"task {card.task!r} is not an allowed job task; allowed: {', '.join(sorted(allowed))}",
                field="task",
            )
        job_id = uuid.uuid4().hex
        now = self._now()
        self._store.insert(
            job_id=job_id, agent=card.agent, task=card.task, card=card.model_dump_json(), status="queued",
            run_id=card.run_id, parent_job_id=card.parent_job_id, created_ms=now, timeout_s=card.timeout_s,
        )  # fmt: skip
        res = card.resources
        granted = self._resources.reserve(ResourceRequest(job_id=job_id, agent=card.agent, **res.model_dump()))
        if isinstance(granted, ReserveDenied):
            self._store.transition(job_id, ["queued"], status="denied", error=granted.reason, finished_ms=now)
            self._event("job_failed", self._row(job_id), reason=granted.reason)
            raise JobDenied(granted.reason, field=f"resources.{granted.resource}", job_id=job_id,
                            resource=granted.resource, status="denied")  # fmt: skip
        self._store.transition(job_id, ["queued"], reservation_id=granted.reservation_id)
        row = self._row(job_id)
        self._event("job_created", row)
        self._dispatcher.enqueue(job_id, card.timeout_s, card.priority)  # after the commit above
        return self.record(row)

    def kill(self, job_id: str, reason: str, status: str = "killed") -> KillResponse:
        row = self._store.get(job_id)
        if row is None:  # a job the user's clients reserved for directly: only its reservations to kill
            killed = self._resources.kill_job_reservations(job_id, reason)
            if not killed.killed_reservations and not self._resources.has_job(job_id):
                raise NotFound(f"job_id {job_id!r} not found", field="job_id")
            return killed
        now = self._now()
        changed = self._store.transition(job_id, ["queued", "running"], status=status, finished_ms=now, error=reason)
        if changed:
            self._dispatcher.revoke(current_message(row))
        killed = self._resources.kill_job_reservations(job_id, reason)
        if changed:
            row = self._row(job_id)
            self._event("job_killed", row, once=True, reason=reason)
            alert = {
                "alert_type": f"job_{status}",
                "severity": "warning",
                "job_id": job_id,
                "message": f"job {job_id} ({row.task}) {status}: {reason}",
            }
            self._emitter.emit([self._events.append("alert", "jobs", alert)])
        return killed

    # worker side

    def begin(self, job_id: str, message_id: str | None = None) -> JobCard | None:
        """The worker's start of a delivery of the job's message `message_id` (default: the job id)."""
        attempt = self._store.begin_attempt(job_id, message_id or job_id, self._now())
        if attempt is None:  # killed, timed out or finished meanwhile; or a message replaced by another
            row = self._store.get(job_id)
            if row is not None and row.status in FINAL_EVENTS:
                self._settle(row)  # its ending may have been cut short (the store away): this delivery completes it
            elif row is not None:
                log.info("job_stale_message", extra={"job_id": job_id, "message_id": message_id,
                                                     "current": current_message(row)})  # fmt: skip
            return None
        row = self._row(job_id)
        if attempt > MAX_ATTEMPTS:
            self.finish(job_id, "failed", error=f"redelivered {attempt - 1} times (its worker kept dying)")
            return None
        self._event("job_started", row, attempt=attempt)
        return JobCard.model_validate_json(row.card)

    def progress(self, job_id: str, fraction: float) -> None:
        fraction = min(1.0, max(0.0, fraction))
        if self._store.transition(job_id, ["running"], progress=fraction):
            self._event("job_progress", self._row(job_id))

    def finish(self, job_id: str, status: str, *, result: Any = None, error: str | None = None) -> bool:
        values: dict[str, Any] = {"status": status, "finished_ms": self._now(),
                                  "error": None if error is None else self._scrub(error)}  # fmt: skip
        allowed = ["queued", "running"]
        if status == "succeeded":
            values.update(result=self._scrub(json.dumps(result, default=str)), progress=1.0)
            allowed = ["running"]
        changed = self._store.transition(job_id, allowed, **values)
        if changed:
            self._settle(self._row(job_id))
        return changed

    def _settle(self, row: JobRow) -> None:
        """A final job's side effects, each applied once however often this runs: its reservations released (the
        store's compare-and-set), its final event written (a marker per job). The state change in SQL comes first,
        so when the store goes away in between, the job's next delivery (begin) settles it (RELIABILITY C6, C9)."""
        self._resources.release_job(row.job_id, "released" if row.status in ("succeeded", "failed") else "killed",
                                    row.status)  # fmt: skip
        if row.status in ("succeeded", "failed"):
            self._event(FINAL_EVENTS[row.status], row, once=True, error=row.error)
        else:  # killed or timed out: kill() wrote its event and alert, unless the store was away then
            self._event("job_killed", row, once=True, reason=row.error)

    def reconcile(self) -> list[str]:
        """Beat: jobs running past their hard timeout (the worker died or missed it) are killed; queued jobs whose
        message the broker lost are dispatched again. Returns the jobs it acted on."""
        overdue = self._store.overdue(self._now(), TIMEOUT_GRACE_MS)
        for row in overdue:
            self.kill(row.job_id, f"hard timeout of {row.timeout_s}s", status="timeout")
        return [r.job_id for r in overdue] + self._dispatch_lost()

    def _dispatch_lost(self) -> list[str]:
        now = self._now()
        if not self._dispatch_store.scan_due(LOST_SCAN_EVERY_MS):
            return []
        candidates = self._store.queued_before(now - LOST_AFTER_MS, LOST_SCAN_LIMIT)
        held = self._dispatcher.held_message_ids() if candidates else set()
        missing = {r.job_id: r for r in candidates if current_message(r) not in held}
        since = self._dispatch_store.missing_since(set(missing), now)
        again = []
        for job_id, first_ms in since.items():
            if first_ms >= now:  # first seen missing by this look: the next one decides
                continue
            row, new = missing[job_id], f"{job_id}.{uuid.uuid4().hex[:12]}"
            # The row owns its message: once it names the new one, the old one, should it turn up after all, is
            # dropped by begin() — the job runs once either way.
            if self._store.replace_message(job_id, current_message(row), new):
                self._dispatcher.enqueue(job_id, row.timeout_s, JobCard.model_validate_json(row.card).priority, new)
                lost = {"job_id": job_id, "message_id": new, "lost": current_message(row), "missing_since_ms": first_ms}
                log.warning("job_dispatched_again", extra=lost)
                again.append(job_id)
        return again

    # reads

    def _row(self, job_id: str) -> JobRow:
        row = self._store.get(job_id)
        if row is None:
            raise NotFound(f"job_id {job_id!r} not found", field="job_id")
        return row

    def get(self, job_id: str) -> JobRecord:
        return self.record(self._row(job_id))

    def list(self, query: JobsQuery) -> list[JobRecord]:
        return [self.record(r) for r in self._store.latest(query.status, query.limit)]

    @staticmethod
    def record(row: JobRow) -> JobRecord:
        card = JobCard.model_validate_json(row.card)
        return JobRecord(
            job_id=row.job_id, agent=row.agent, task=row.task, status=row.status,
            progress=row.progress, attempts=row.attempts, run_id=row.run_id, parent_job_id=row.parent_job_id,
            reservation_id=row.reservation_id, timeout_s=row.timeout_s, priority=card.priority, args=card.args,
            kwargs=card.kwargs, resources=JobResources(**card.resources.model_dump()),
            created_at=iso(row.created_ms), started_at=iso(row.started_ms) if row.started_ms else None,
            finished_at=iso(row.finished_ms) if row.finished_ms else None,
            result=json.loads(row.result) if row.result else None, error=row.error,
        )  # fmt: skip

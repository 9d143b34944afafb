"""SQL access for job cards. State changes are compare-and-set: one UPDATE … WHERE status IN (…)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from models.jobs import JobRow


class JobStore:
    def __init__(self, engine: Engine, origin: str) -> None:
        self._engine = engine
        self._origin = origin

    def insert(self, **values: Any) -> None:
        with Session(self._engine) as session, session.begin():
            session.add(JobRow(origin=self._origin, **values))

    def transition(self, job_id: str, allowed_from: Sequence[str], **values: Any) -> bool:
        stmt = (
            update(JobRow)
            .where(JobRow.origin == self._origin, JobRow.job_id == job_id, JobRow.status.in_(list(allowed_from)))
            .values(**values)
        )
        with Session(self._engine) as session, session.begin():
            result: Any = session.execute(stmt)
            return bool(result.rowcount == 1)

    def begin_attempt(self, job_id: str, message_id: str, now_ms: int) -> int | None:
        """queued|running → running with attempts + 1, for the job's current message only; None when the job is
        not runnable any more or `message_id` is not its current message."""
        with Session(self._engine) as session, session.begin():
            row = session.scalars(
                select(JobRow)
                .where(JobRow.origin == self._origin, JobRow.job_id == job_id, JobRow.status.in_(["queued", "running"]))
                .where(func.coalesce(JobRow.message_id, JobRow.job_id) == message_id)
                .with_for_update()
            ).first()
            if row is None:
                return None
            row.attempts += 1
            row.status = "running"
            row.started_ms = row.started_ms or now_ms
            return row.attempts

    def replace_message(self, job_id: str, old: str, new: str) -> bool:
        """A queued job's current message becomes `new`, if it still is `old` (compare-and-set)."""
        stmt = (
            update(JobRow)
            .where(JobRow.origin == self._origin, JobRow.job_id == job_id, JobRow.status == "queued")
            .where(func.coalesce(JobRow.message_id, JobRow.job_id) == old)
            .values(message_id=new)
        )
        with Session(self._engine) as session, session.begin():
            result: Any = session.execute(stmt)
            return bool(result.rowcount == 1)

    def get(self, job_id: str) -> JobRow | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.scalars(select(JobRow).where(JobRow.origin == self._origin, JobRow.job_id == job_id)).first()

    def latest(self, status: str | None, limit: int) -> list[JobRow]:
        query = select(JobRow).where(JobRow.origin == self._origin)
        if status is not None:
            query = query.where(JobRow.status == status)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.scalars(query.order_by(JobRow.created_ms.desc()).limit(limit)))

    def overdue(self, now_ms: int, grace_ms: int) -> list[JobRow]:
        with Session(self._engine, expire_on_commit=False) as session:
            rows = session.scalars(
                select(JobRow).where(JobRow.origin == self._origin, JobRow.status == "running")
            ).all()
        return [r for r in rows if r.started_ms and r.started_ms + r.timeout_s * 1000 + grace_ms < now_ms]

    def queued_before(self, created_before_ms: int, limit: int) -> list[JobRow]:
        """Queued jobs created before the given time, oldest first."""
        with Session(self._engine, expire_on_commit=False) as session:
            return list(
                session.scalars(
                    select(JobRow)
                    .where(JobRow.origin == self._origin, JobRow.status == "queued")
                    .where(JobRow.created_ms < created_before_ms)
                    .order_by(JobRow.created_ms)
                    .limit(limit)
                )
            )


def current_message(row: JobRow) -> str:
    return row.message_id or row.job_id

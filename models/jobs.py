"""Job cards (SQL): the durable record of every job and each state change's time."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

FINAL = ("succeeded", "failed", "killed", "timeout", "denied")


class JobRow(Base):
    __tablename__ = "jobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[str] = mapped_column(String(64), nullable=False)
    agent: Mapped[str] = mapped_column(Text, nullable=False)
    task: Mapped[str] = mapped_column(String(200), nullable=False)
    card: Mapped[str] = mapped_column(Text, nullable=False)  # the JobCard as JSON
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    run_id: Mapped[str | None] = mapped_column(String(200))
    parent_job_id: Mapped[str | None] = mapped_column(String(256))
    reservation_id: Mapped[str | None] = mapped_column(String(64))
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    result: Mapped[str | None] = mapped_column(Text)  # JSON
    error: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    started_ms: Mapped[int | None] = mapped_column(BigInteger)
    finished_ms: Mapped[int | None] = mapped_column(BigInteger)
    timeout_s: Mapped[int] = mapped_column(Integer, nullable=False)
    # The task id of the job's current message; None = the job id (its first). Only that message may begin the
    # job: a message the reconciler replaced (the broker had lost it, or seemed to) is dropped when it turns up.
    message_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_jobs_origin_status_created", "origin", "status", "created_ms"),)

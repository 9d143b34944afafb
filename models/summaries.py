"""Summaries (SQL): every summary written, its file and its text, for /summaries and /resume."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class SummaryRow(Base):
    __tablename__ = "summaries"

    summary_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    origin: Mapped[str] = mapped_column(String(64), nullable=False)
    request_id: Mapped[str] = mapped_column(String(64), nullable=False)  # one summary per request (idempotent)
    agent: Mapped[str] = mapped_column(String(200), nullable=False)
    run_id: Mapped[str] = mapped_column(String(200), nullable=False)
    trigger_reason: Mapped[str] = mapped_column(String(32), nullable=False)
    breach_seq: Mapped[int | None] = mapped_column(Integer)
    ctx_before: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ctx_after: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    summary_path: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (
        UniqueConstraint("origin", "request_id", name="uq_summaries_origin_request"),
        Index("ix_summaries_origin_agent_run_created", "origin", "agent", "run_id", "created_ms"),
    )

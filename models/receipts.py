"""Receipts (SQL): one row per gateway call, keyed by receipt id, so a replayed ship inserts nothing twice
(RELIABILITY decision 5)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class ReceiptRow(Base):
    __tablename__ = "receipts"

    origin: Mapped[str] = mapped_column(String(64), primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), nullable=False)
    run_id: Mapped[str] = mapped_column(String(200), nullable=False)
    agent: Mapped[str] = mapped_column(String(200), nullable=False)
    ts_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    provider: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_micro_usd: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    body: Mapped[str] = mapped_column(Text, nullable=False)  # the whole receipt as JSON

    __table_args__ = (
        Index("ix_receipts_origin_run_ts", "origin", "run_id", "ts_ms"),
        Index("ix_receipts_origin_ts", "origin", "ts_ms"),
    )

"""Durable alert history (SQL). The Redis event stream is the write-ahead copy; seq is the dedup key."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AlertRow(Base):
    __tablename__ = "alerts"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    alert_type: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    service_id: Mapped[str | None] = mapped_column(Text)
    service_name: Mapped[str | None] = mapped_column(Text)
    missed_beats: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(64), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)  # the event data as JSON, parent and extras included

    __table_args__ = (
        Index("ix_alerts_service_id_seq", "service_id", "seq"),
        Index("ix_alerts_alert_type_seq", "alert_type", "seq"),
    )

"""Durable alert history (SQL). The Redis event stream is the write-ahead copy; seq is the dedup key."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class AlertRow(Base):
    __tablename__ = "alerts"

    # The key prefix of the PAS deployment whose event stream numbered it: two deployments may share a database.
    origin: Mapped[str] = mapped_column(String(64), primary_key=True)
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
        Index("ix_alerts_origin_service_id_seq", "origin", "service_id", "seq"),
        Index("ix_alerts_origin_alert_type_seq", "origin", "alert_type", "seq"),
    )

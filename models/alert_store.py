"""SQL side of the alert history: idempotent inserts keyed by event seq, filtered reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.alerts import AlertRow
from models.sql_insert import insert_ignoring_duplicates


class AlertStore:
    def __init__(self, engine: Engine, origin: str) -> None:
        self._engine = engine
        self._origin = origin

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        values = [{**row, "origin": self._origin} for row in rows]
        insert_ignoring_duplicates(self._engine, AlertRow, values, ["origin", "seq"])

    def latest(self, limit: int, service_id: str | None, alert_type: str | None) -> list[AlertRow]:
        query = select(AlertRow).where(AlertRow.origin == self._origin).order_by(AlertRow.seq.desc()).limit(limit)
        if service_id is not None:
            query = query.where(AlertRow.service_id == service_id)
        if alert_type is not None:
            query = query.where(AlertRow.alert_type == alert_type)
        with Session(self._engine) as session:
            rows = list(session.scalars(query))
            session.expunge_all()
        rows.reverse()  # oldest first, as the contract reads
        return rows

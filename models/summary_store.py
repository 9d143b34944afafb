from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.summaries import SummaryRow


class SummaryStore:
    def __init__(self, engine: Engine, origin: str) -> None:
        self._engine = engine
        self._origin = origin

    def insert(self, **values: Any) -> bool:
        """False when this request already has its summary (a redelivered task)."""
        try:
            with Session(self._engine) as session, session.begin():
                session.add(SummaryRow(origin=self._origin, **values))
        except IntegrityError:
            return False
        return True

    def by_request(self, request_id: str) -> SummaryRow | None:
        with Session(self._engine, expire_on_commit=False) as session:
            return session.scalars(
                select(SummaryRow).where(SummaryRow.origin == self._origin, SummaryRow.request_id == request_id)
            ).first()

    def latest(self, agent: str | None, run_id: str | None, limit: int) -> list[SummaryRow]:
        query = select(SummaryRow).where(SummaryRow.origin == self._origin)
        if agent is not None:
            query = query.where(SummaryRow.agent == agent)
        if run_id is not None:
            query = query.where(SummaryRow.run_id == run_id)
        with Session(self._engine, expire_on_commit=False) as session:
            return list(session.scalars(query.order_by(SummaryRow.created_ms.desc()).limit(limit)))

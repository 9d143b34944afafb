"""SQL side of receipts: batched idempotent inserts, reads by run and by time window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from models.receipts import ReceiptRow
from models.sql_insert import insert_ignoring_duplicates


class ReceiptStore:
    def __init__(self, engine: Engine, origin: str) -> None:
        self._engine = engine
        self._origin = origin

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        values = [{**row, "origin": self._origin} for row in rows]
        insert_ignoring_duplicates(self._engine, ReceiptRow, values, ["origin", "receipt_id"])

    def by_run(self, run_id: str, limit: int) -> list[str]:
        query = (
            select(ReceiptRow.body)
            .where(ReceiptRow.origin == self._origin, ReceiptRow.run_id == run_id)
            .order_by(ReceiptRow.ts_ms, ReceiptRow.receipt_id)
            .limit(limit)
        )
        with Session(self._engine) as session:
            return list(session.scalars(query))

    def latest(self, limit: int) -> list[str]:
        query = (
            select(ReceiptRow.body)
            .where(ReceiptRow.origin == self._origin)
            .order_by(ReceiptRow.ts_ms.desc(), ReceiptRow.receipt_id)
            .limit(limit)
        )
        with Session(self._engine) as session:
            return list(session.scalars(query))

    def since(self, since_ms: int) -> list[tuple[str, str | None, str, int, int, int]]:
        """(receipt_id, provider, status, tokens, cost µUSD, ts_ms) of every receipt since since_ms."""
        query = select(
            ReceiptRow.receipt_id,
            ReceiptRow.provider,
            ReceiptRow.status,
            ReceiptRow.input_tokens + ReceiptRow.output_tokens,
            ReceiptRow.cost_micro_usd,
            ReceiptRow.ts_ms,
        ).where(ReceiptRow.origin == self._origin, ReceiptRow.ts_ms >= since_ms)
        with Session(self._engine) as session:
            return [(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5])) for r in session.execute(query)]

    def existing(self, receipt_ids: Sequence[str]) -> set[str]:
        if not receipt_ids:
            return set()
        query = select(ReceiptRow.receipt_id).where(
            ReceiptRow.origin == self._origin, ReceiptRow.receipt_id.in_(list(receipt_ids))
        )
        with Session(self._engine) as session:
            return set(session.scalars(query))

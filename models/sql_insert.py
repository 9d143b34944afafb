"""Idempotent batch inserts (RELIABILITY decision 5): a row whose key is already there is skipped, on SQLite
and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

BATCH = 500  # SQLite caps bound parameters per statement


def insert_ignoring_duplicates(
    engine: Engine, table: type[Any], rows: Sequence[dict[str, Any]], key: list[str]
) -> None:
    if not rows:
        return
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    with Session(engine) as session, session.begin():
        for start in range(0, len(rows), BATCH):
            stmt = insert(table).values(list(rows[start : start + BATCH]))
            session.execute(stmt.on_conflict_do_nothing(index_elements=key))

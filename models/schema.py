"""Additive schema upgrades: a table created by an earlier PAS gets the nullable columns added since.

`create_all` creates missing tables but never alters an existing one, so a database kept across an upgrade (the
embedded SQLite under artifacts/, a PostgreSQL) would lack a new column, and every read of that table would fail.
Only nullable columns are ever added to a table (the rule for new columns); nothing is dropped or changed."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

log = logging.getLogger("pas.storage")


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """Adds each nullable column of `metadata` that its existing table lacks; returns them as table.column."""
    added: list[str] = []
    existing = set(inspect(engine).get_table_names())
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        have = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in have or not column.nullable:
                continue
            ddl = CreateColumn(column).compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.execute(
                        text(f"ALTER TABLE {engine.dialect.identifier_preparer.quote(table.name)} ADD COLUMN {ddl}")
                    )
            except DBAPIError:  # another process added it first (two web processes starting together)
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
            log.info("column_added", extra={"table": table.name, "column": column.name})
    return added

"""A database kept across an upgrade: tables an earlier PAS created get the nullable columns added since."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, text

from app.factory import create_app, create_tables
from models.schema import add_missing_columns


def test_missing_nullable_columns_are_added_once(database_url: str) -> None:
    """On the run's database (SQLite, or PostgreSQL in CI's second pass), with a table of its own."""
    engine = create_engine(database_url)
    name = f"upgrade_{uuid.uuid4().hex[:8]}"
    before, after = MetaData(), MetaData()
    Table(name, before, Column("id", Integer, primary_key=True), Column("kept", String(8)))
    Table(name, after, Column("id", Integer, primary_key=True), Column("kept", String(8)), Column("new", String(64)))
    before.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {name} (id, kept) VALUES (1, 'old')"))
        assert add_missing_columns(engine, after) == [f"{name}.new"]
        assert add_missing_columns(engine, after) == []  # idempotent: a second process starting finds it there
        assert {c["name"] for c in inspect(engine).get_columns(name)} == {"id", "kept", "new"}
        with engine.begin() as conn:
            assert conn.execute(text(f"SELECT kept, new FROM {name}")).all() == [("old", None)]
    finally:
        after.drop_all(engine)
        engine.dispose()


def test_a_jobs_table_from_before_message_ids_reads_and_writes(make_settings: Any, tmp_path: Path) -> None:
    """The jobs table as PAS created it before `message_id`: create_tables upgrades it, its rows list, new jobs
    are created (without the upgrade, every read of the table was a 500)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE jobs (job_id VARCHAR(64) PRIMARY KEY, origin VARCHAR(64) NOT NULL, agent TEXT NOT NULL, "
            "task VARCHAR(200) NOT NULL, card TEXT NOT NULL, status VARCHAR(16) NOT NULL, run_id VARCHAR(200), "
            "parent_job_id VARCHAR(256), reservation_id VARCHAR(64), progress FLOAT NOT NULL, attempts INTEGER NOT "
            "NULL, result TEXT, error TEXT, created_ms BIGINT NOT NULL, started_ms BIGINT, finished_ms BIGINT, "
            "timeout_s INTEGER NOT NULL)"
        ))  # fmt: skip
    settings = make_settings(database_url=url)
    card = '{"agent":"old","task":"pas.jobs.echo","timeout_s":60}'
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO jobs VALUES ('old1', :o, 'old', 'pas.jobs.echo', :c, 'succeeded', NULL, NULL, NULL, "
                 "1.0, 1, NULL, NULL, 1, 1, 2, 60)"),
            {"o": settings.pas_key_prefix, "c": card},
        )  # fmt: skip
    engine.dispose()
    app = create_app(settings, serve_socketio=False)
    create_tables(app)
    client = app.test_client()
    listed = client.get("/jobs")
    assert listed.status_code == 200, listed.json
    assert [j["job_id"] for j in listed.json["jobs"]] == ["old1"]
    assert client.get("/jobs/old1").json["status"] == "succeeded"

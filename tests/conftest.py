"""Run-wide real parts. Tests default to a private embedded Valkey and SQLite; with REDIS_URL / DATABASE_URL
set (CI's second run) they use those servers, each run under its own key prefix."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    from app.valkey import EmbeddedValkey

    valkey = EmbeddedValkey(tmp_path_factory.mktemp("valkey")).start()
    yield valkey.url
    valkey.stop()


@pytest.fixture(scope="session")
def database_url(artifacts: Path) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{artifacts / 'pas-test.db'}"

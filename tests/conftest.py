"""Run-wide real parts. Tests default to a private embedded Valkey and SQLite; with REDIS_URL / DATABASE_URL
set (CI's second run) they use those servers, each run under its own key prefix."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.anthropic_standin import Standin
    from tests.claude_code import ClaudeCode


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


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by Playwright (never `playwright install`): one launch per run, shared by the
    integration and system tests."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/ensure-chromium could not install it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def claude_code() -> ClaudeCode:
    """The real Claude Code CLI (tests/claude_code.py), installed into the cache by .ci/ensure-claude-code when
    missing. Skips, with the reason, where it cannot be installed; in CI (CI=true) that is a failure."""
    from tests.claude_code import ClaudeCode, Unavailable, claude_binary

    try:
        return ClaudeCode(claude_binary())
    except Unavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Claude Code tests, but the CLI could not be installed: {exc}")
        pytest.skip(f"the Claude Code CLI could not be installed here: {exc}")


@pytest.fixture
def anthropic_standin() -> Iterator[Standin]:
    """A scripted local Anthropic Messages API (tests/anthropic_standin.py), one per test."""
    from tests.anthropic_standin import start_standin

    standin = start_standin()
    yield standin
    standin.close()


BACKENDS = frozenset({"redis_url", "database_url"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "run_last: runs after every other test (it watches what the whole run did)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PAS_TEST_BACKENDS_ONLY=1 (CI's second run, against the machine's Redis and PostgreSQL): only the tests that
    reach a store through the run's `redis_url` / `database_url` run again; the rest (unit tests, tests with a
    Valkey of their own, Claude Code without PAS) already ran, identically, in the first run. Tests marked
    `run_last` go to the end (they watch what the whole run did)."""
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)  # stable: the rest keep their order
    if os.environ.get("PAS_TEST_BACKENDS_ONLY") != "1":
        return
    kept = [item for item in items if BACKENDS & set(getattr(item, "fixturenames", ()))]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept

# mypy: disable-error-code="call-overload,arg-type,dict-item"
"""The vendor adapters' stack for test_adapters.py: the app on its ports, a real Celery worker and beat, and the
adapter worker (gevent pool) as processes; each vendor faked by a stand-in speaking its wire protocol (tests/
vendor_standins.py). Fixtures `alive`, `standins`, `logs` (module-scoped: a test module imports them to get its
own stack) and the calls the tests make on it."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import requests

from app.cli import adapter_worker_argv
from config.settings import Settings
from tests.integration.conftest import Live, serve_live
from tests.support import port_offset_with_free_ports, wait_until
from tests.vendor_standins import Standin, start_standin

KEYS = {"openai": "sk-canary-openai-5d1f0c", "anthropic": "sk-ant-canary-a81b2e", "gemini": "AIza-canary-gem-77c3"}
SLUG = {p: f"adapters/{p}" for p in ("openai", "anthropic", "gemini", "grok")}
NAME = {"openai": "openai-gpt-4-turbo", "anthropic": "anthropic-claude-sonnet-4-5-20250929",
        "gemini": "gemini-gemini-2.5-pro", "grok": "grok-grok-beta"}  # fmt: skip
MODEL = {"openai": "gpt-4-turbo", "anthropic": "claude-sonnet-4-5-20250929", "gemini": "gemini-2.5-pro"}
PRICE = {"openai": (1e-5, 3e-5), "anthropic": (3e-6, 1.5e-5), "gemini": (1e-5, 3e-5)}
CHAT = {"messages": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Say hello."}]}
SEEN: list[str] = []  # every body the tests read back, for the canary check


def uid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}"


class CapturedLogs(logging.Handler):
    """Every log line of this process (the web side) while the stack runs."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__}")


@pytest.fixture(scope="module", name="standins")
def fixture_standins() -> Iterator[dict[str, Standin]]:
    s = {p: start_standin(p, KEYS[p]) for p in ("openai", "anthropic", "gemini")}
    s["grok"] = start_standin("openai", "xai-never-sent")  # Grok speaks OpenAI's protocol
    yield s
    for standin in s.values():
        standin.stop_server()


@pytest.fixture(scope="module", name="logs")
def fixture_logs() -> Iterator[CapturedLogs]:
    handler = CapturedLogs()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


@pytest.fixture(scope="module", name="alive")
def fixture_alive(
    make_settings: Callable[..., Settings], artifacts: Path, standins: dict[str, Standin], logs: CapturedLogs
) -> Iterator[Live]:
    """The app, worker, beat and adapter worker with every vendor pointed at its stand-in; module-scoped: one
    stack for all of test_adapters.py, whose last test kills the adapter worker."""
    own = artifacts / "adapters"
    settings = make_settings(
        pas_artifacts_dir=own,
        pas_docs_dir=own / "docs" / "runs",
        pas_port_offset=port_offset_with_free_ports(),
        pas_log_level="INFO",
        pas_gateway_backoff_s=0.01,
        pas_gateway_cooldown_s=1.0,
        pas_gateway_trip_after=100,  # the adapters' own cooldown is under test, not the gateway's breaker
        pas_adapter_timeout_s=2.0,
        pas_adapter_auth_retry_s=3.0,
        pas_adapter_trip_after=2,
        pas_adapter_cooldown_s=2.0,
        openai_api_key=KEYS["openai"],
        anthropic_api_key=KEYS["anthropic"],
        gemini_api_key=KEYS["gemini"],
        openai_base_url=standins["openai"].base_url,
        anthropic_base_url=standins["anthropic"].base_url,
        gemini_base_url=standins["gemini"].base_url,
        grok_base_url=standins["grok"].base_url,
    )
    with serve_live(settings, own, extra_workers=[("adapters", adapter_worker_argv())]) as running:
        yield running


def get(live: Live, slug: str, path: str) -> dict[str, Any]:
    r = requests.get(live.url(slug, path), timeout=10)
    SEEN.append(r.text)
    assert r.status_code == 200, r.text
    return r.json()


def routable(live: Live, name: str) -> bool:
    r = requests.get(live.url("provider-router", f"/providers/{name}"), timeout=10)
    return bool(r.status_code == 200 and r.json()["healthy"])


def healthy(live: Live, *providers: str) -> None:
    """Each adapter healthy on its port and in the router's view (its snapshot lags by up to 0.5 s)."""
    for p in providers or ("openai", "anthropic", "gemini"):
        wait_until(lambda p=p: get(live, SLUG[p], "/health")["status"] == "healthy", 30, 0.1, f"{p} healthy")
        wait_until(lambda p=p: routable(live, NAME[p]), 10, 0.1, f"{p} routable")


def sdk(live: Live, provider: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.url(SLUG[provider], ""), api_key="unused", max_retries=0, timeout=20)


def route(live: Live, **body: Any) -> requests.Response:
    body.setdefault("request_id", uid("req"))
    body.setdefault("agent", "tester")
    r = requests.post(live.url("gateway", "/route"), json=body, timeout=30)
    SEEN.append(r.text)
    return r


def receipts(live: Live, run_id: str) -> list[dict[str, Any]]:
    path = live.settings.costs_dir / f"{run_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

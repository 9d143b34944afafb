"""Calls on the session's live gateway and provider router over real HTTP (test_gateway.py,
test_gateway_receipts.py): register an upstream as a provider, route a call, read a run's receipts."""

from __future__ import annotations

import json
import uuid

import requests

from tests.integration.conftest import Live
from tests.upstream import Upstream

CHAT = {"messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 20}


def uid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def register(live: Live, name: str, model: str, up: Upstream, **kw) -> requests.Response:
    body = {
        "name": name,
        "model": model,
        "context_window": kw.pop("context_window", 16385),
        "cost_per_input_token": kw.pop("cin", 1e-6),
        "cost_per_output_token": kw.pop("cout", 2e-6),
        "endpoint": up.base_url,
        **kw,
    }
    r = requests.post(live.url("provider-router", "/register"), json=body, timeout=10)
    assert r.status_code in (200, 201), r.text
    return r


def route(live: Live, **body) -> requests.Response:
    body.setdefault("request_id", uid("req"))
    body.setdefault("agent", "tester")
    return requests.post(live.url("gateway", "/route"), json=body, timeout=30)


def jsonl(live: Live, run_id: str) -> list[dict]:
    """The run's receipts as the gateway wrote them, one JSONL line a call."""
    path = live.settings.costs_dir / f"{run_id}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

"""Canary secrets: PAS_API_TOKEN and a provider's API key reach only where they must (the provider key: the
upstream's Authorization header) and appear in no log line, receipt (JSONL or SQL), event, answer or HMI page."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from app.factory import create_app, create_tables
from tests.upstream import Step, Upstream


def test_canary_secrets_never_leak(
    make_settings,
    upstreams: list[Upstream],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api_token = f"pas-canary-{uuid.uuid4().hex}"
    provider_key = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("PAS_PROVIDER_KEY_CANARY", provider_key)  # how an operator hands PAS a vendor key
    up = upstreams[2]
    up.reset()
    settings = make_settings(pas_api_token=api_token, pas_log_level="DEBUG",
                             pas_upstream_allowlist=f"127.0.0.1:{up.port}")  # fmt: skip
    app = create_app(settings, serve_socketio=False)
    create_tables(app)
    c = app.test_client()
    auth = {"Authorization": f"Bearer {api_token}"}
    caplog.set_level(logging.DEBUG)
    name = f"canary-{uuid.uuid4().hex[:6]}"
    reg = {"name": name, "model": "canary-model", "context_window": 4000, "cost_per_input_token": 1e-6,
           "cost_per_output_token": 1e-6, "endpoint": up.base_url,
           "api_key_env": "PAS_PROVIDER_KEY_CANARY"}  # fmt: skip
    assert c.post("/api/provider-router/register", json=reg, headers=auth).status_code in (200, 201)
    # a registration may only name key-like variables: never PAS's own token or an arbitrary variable
    bad = c.post("/api/provider-router/register", json={**reg, "api_key_env": "PAS_API_TOKEN"}, headers=auth)
    assert bad.status_code == 422 and "api_key_env" in bad.get_data(as_text=True)
    chat = {"model": name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    ok = c.post("/v1/chat/completions", json=chat, headers={**auth, "X-PAS-Run-Id": "canary-run"})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    msgs = [{"role": "user", "content": "hi"}]
    route = {"request_id": "canary-1", "agent": "canary-agent", "run_id": "canary-run",
             "requirements": {"provider": name}, "payload": {"messages": msgs}}  # fmt: skip
    assert c.post("/api/gateway/route", json=route, headers=auth).status_code == 200
    up.reset(Step(status=401), Step(status=401))  # the upstream rejects the key: the error must not echo it
    failed = c.post("/api/gateway/route", json={**route, "request_id": "canary-2"}, headers=auth)
    assert failed.status_code >= 400
    c.post("/api/gateway/route", json=route, headers={"Authorization": f"Bearer {api_token}x"})  # a wrong token
    c.post(f"/api/gateway/route?token={api_token}", json=route)  # in the query string: refused, never logged
    assert up.headers and all(h.get("authorization") == f"Bearer {provider_key}" for h in up.headers)
    pas = app.extensions["pas"]
    pas.gateway.ship()
    # every place a secret could land
    blobs: dict[str, str] = {"log records": caplog.text, "log fields": json.dumps([vars(r) for r in caplog.records],
                                                                                     default=str)}  # fmt: skip
    out, err = capfd.readouterr()
    blobs["stdout/stderr"] = out + err
    blobs["events"] = "\n".join(pas.events.recent(5000))
    costs_dir = Path(settings.costs_dir)
    blobs["receipts jsonl"] = "\n".join(p.read_text() for p in costs_dir.glob("*.jsonl"))
    blobs["answers"] = ok.get_data(as_text=True) + failed.get_data(as_text=True)
    for path in ("/api/costs", "/api/costs/receipts/canary-run", "/api/swarm", "/api/alerts", "/api/banner",
                 "/api/resources", "/api/sequencer", "/api/tree", "/api/provider-router/providers",
                 f"/api/provider-router/providers/{name}", "/api/provider-router/stats", "/api/gateway/metrics",
                 "/api/gateway/receipts/canary-run", "/v1/models", "/", "/costs", "/alerts"):  # fmt: skip
        r = c.get(path)
        assert r.status_code == 200, path
        blobs[path] = r.get_data(as_text=True)
    assert "canary-run" in blobs["/api/gateway/receipts/canary-run"]  # the receipts are there (SQL or JSONL)
    assert "PAS_PROVIDER_KEY_CANARY" in blobs[f"/api/provider-router/providers/{name}"]  # the name, not the value
    assert "provider_registered" in blobs["log records"] + blobs["stdout/stderr"]  # the logs were captured
    leaks = [where for where, text in blobs.items() if api_token in text or provider_key in text]
    assert leaks == []

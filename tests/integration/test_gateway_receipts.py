"""The gateway's money and its receipts over real HTTP, on the session's live app and upstreams: a budget never
overspent under concurrency, a broken stream's partial receipt, calls whose process died closed by the sweeper,
budgets and receipts kept across a restart, and a long stream not taken for a dead call."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests

from tests.integration.conftest import Live
from tests.integration.gateway_calls import CHAT, jsonl, register, route, uid
from tests.support import wait_until
from tests.upstream import Step, Upstream


def test_budget_never_overspends_under_concurrency(live: Live, upstreams: list[Upstream]) -> None:
    up = upstreams[1]
    up.reset(default=Step(delay_s=0.05))
    model, run = uid("m"), uid("run")
    register(live, uid("metered"), model, up, cin=0.0, cout=1e-3)  # estimate 10 x 1e-3; actual 7 x 1e-3
    assert requests.post(live.url("gateway", "/budget"), json={"run_id": run, "budget_usd": 0.1}, timeout=5).ok
    payload = {"messages": [{"role": "user", "content": "x"}], "max_tokens": 10}
    codes: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        code = route(live, run_id=run, requirements={"model": model}, payload=payload).status_code
        with lock:
            codes.append(code)

    threads = [threading.Thread(target=one) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok, denied = codes.count(200), codes.count(429)
    assert ok + denied == 40 and denied > 0
    assert len(up.requests) == ok  # a denied call never reached the upstream
    b = requests.get(live.url("gateway", f"/budget/{run}"), timeout=5).json()
    assert b["spent_usd"] == pytest.approx(0.007 * ok) and b["spent_usd"] <= 0.1 and b["in_flight_usd"] == 0
    r = route(live, run_id=run, requirements={"model": model}, payload=payload)
    if r.status_code == 429:
        assert r.json()["error"] == "budget_exceeded" and r.json()["detail"].startswith("Budget exceeded:")
    up.reset()


def test_stream_broken_midway_is_a_partial_receipt(live: Live, upstreams: list[Upstream]) -> None:
    up = upstreams[0]
    up.reset(Step(break_after_chunks=2, content="one two three four five"))
    name, run = uid("brk"), uid("run")
    register(live, name, uid("m"), up)
    r = requests.post(live.url(path="/v1/chat/completions"), headers={"X-PAS-Run-Id": run},
                      json={"model": name, "stream": True, **CHAT}, timeout=10, stream=True)  # fmt: skip
    body = b"".join(r.iter_content(None))
    assert b"one" in body and b"upstream stream broke" in body and b"[DONE]" not in body
    rec = wait_until(lambda: (jsonl(live, run) or [{}])[-1], 5, 0.05, "the receipt")
    assert rec["status"] == "partial" and rec["stream"] and rec["output_tokens"] > 0 and not rec["tokens_exact"]
    assert len(up.requests) == 1  # no silent retry after the first byte


def orphaned_call(live: Live, request_id: str) -> tuple[str, str]:
    """A run with a budget and a pending receipt whose call never closes: as if its web process died."""
    rid, run = uuid.uuid4().hex, uid("run")
    assert requests.post(live.url("gateway", "/budget"), json={"run_id": run, "budget_usd": 1.0}, timeout=5).ok
    pending = {"receipt_id": rid, "request_id": request_id, "run_id": run, "agent": "a", "provider": "none",
               "model": "m", "estimate": 5000, "started_ms": int(time.time() * 1000)}  # fmt: skip
    assert live.app.extensions["pas"].gateway._store.begin(rid, run, "a", pending, 5000, 50).granted
    return rid, run


def test_interrupted_call_is_closed_by_the_sweeper(live: Live) -> None:
    rid, run = orphaned_call(live, "crash-1")
    assert requests.get(live.url("gateway", f"/budget/{run}"), timeout=5).json()["in_flight_usd"] == 0.005
    rec = wait_until(lambda: (jsonl(live, run) or [{}])[-1], 15, 0.2, "the sweeper's receipt")
    assert rec["receipt_id"] == rid and rec["status"] == "interrupted"
    assert requests.get(live.url("gateway", f"/budget/{run}"), timeout=5).json()["in_flight_usd"] == 0


def test_a_call_killed_after_its_jsonl_line_is_completed_from_it(live: Live) -> None:
    """Killed between the JSONL line and the closing script: the sweeper charges and ships that receipt."""
    pas = live.app.extensions["pas"]
    rid, run = orphaned_call(live, "crash-2")
    done = {"receipt_id": rid, "request_id": "crash-2", "run_id": run, "agent": "a",
            "timestamp": "2026-01-01T00:00:00.000Z", "provider": "none", "model": "m", "input_tokens": 3,
            "output_tokens": 4, "tokens_exact": True, "cost_usd": 0.002, "latency_ms": 1.0, "status": "success",
            "dry_run": False, "stream": False, "error_message": None, "fallback_from": None, "resolved": None,
            "timings_ms": {"discovery": 0.1, "upstream": 0.5, "total": 1.0}, "attempts": [], "candidates": [],
            "selection_reason": "test", "metadata": None}  # fmt: skip
    pas.gateway.receipt_log.append(run, json.dumps(done, separators=(",", ":")))
    wait_until(lambda: pas.gateway.pending_count() == 0 or None, 15, 0.2, "the sweeper")
    budget = requests.get(live.url("gateway", f"/budget/{run}"), timeout=5).json()
    assert budget["in_flight_usd"] == 0 and budget["spent_usd"] == 0.002
    assert [r["status"] for r in jsonl(live, run)] == ["success"]  # no second, "interrupted" line


def test_restart_keeps_budgets_and_receipts(live: Live, upstreams: list[Upstream]) -> None:
    from app.factory import create_app

    up = upstreams[0]
    up.reset()
    name, run = uid("keep"), uid("run")
    register(live, name, uid("m"), up)
    requests.post(live.url("gateway", "/budget"), json={"run_id": run, "budget_usd": 5.0}, timeout=5)
    r = route(live, run_id=run, requirements={"provider": name}, payload=CHAT)
    assert r.status_code == 200
    fresh = create_app(live.settings, serve_socketio=False)  # a new process' view: nothing held in memory
    gw = fresh.extensions["pas"].gateway
    b = gw.budget("run", run)
    assert b.budget_set and b.spent_usd == r.json()["cost"]["cost_usd"]
    assert [x.request_id for x in gw.receipts(run).receipts] == [r.json()["request_id"]]
    assert fresh.extensions["pas"].provider_router.get(name).name == name
    fresh.extensions["redis"].close()


def test_a_stream_longer_than_its_deadline_is_not_taken_for_a_dead_call(make_settings, upstreams) -> None:
    """The sweeper closes calls whose process died; a stream still relaying keeps pushing its deadline."""
    from app.factory import create_app, create_tables

    up = upstreams[1]
    up.reset(default=Step(content="one two three four five six", chunk_delay_s=0.5))
    settings = make_settings(pas_upstream_allowlist=f"127.0.0.1:{up.port}", pas_gateway_timeout_s=1.0,
                             pas_gateway_interrupted_grace_s=1.0)  # fmt: skip
    app = create_app(settings, serve_socketio=False)
    create_tables(app)
    c = app.test_client()
    name = uid("slow")
    reg = {"name": name, "model": "m", "context_window": 1000, "cost_per_input_token": 1e-6,
           "cost_per_output_token": 1e-6, "endpoint": up.base_url}  # fmt: skip
    assert c.post("/api/provider-router/register", json=reg).status_code in (200, 201)
    gw = app.extensions["pas"].gateway
    events = app.extensions["pas"].events
    r = c.post("/v1/chat/completions", json={"model": name, "stream": True, **CHAT},
               headers={"X-PAS-Run-Id": "slow-run"}, buffered=False)  # fmt: skip
    closed = 0
    for _chunk in r.response:  # ~3 s of chunks, past timeout + grace (2 s)
        closed += gw.close_interrupted(events.now_ms())
    r.close()
    assert closed == 0
    lines = [json.loads(x) for x in gw.receipt_log.path("slow-run").read_text().splitlines()]
    assert [x["status"] for x in lines] == ["success"] and gw.pending_count() == 0
    app.extensions["redis"].close()

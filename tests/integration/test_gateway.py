"""Provider router and gateway over real HTTP: real upstream servers on 127.0.0.1, the live app on its legacy
ports, receipts shipped to SQL by the real beat + worker. Routing, retries, fallback, cooldown, idempotency and the
endpoint allowlist here; budgets, partial and interrupted calls in test_gateway_receipts.py."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.integration.conftest import Live
from tests.integration.gateway_calls import CHAT, jsonl, register, route, uid
from tests.support import wait_until
from tests.upstream import Step, Upstream


def test_phase3_flow_of_the_users_clients(live: Live, upstreams: list[Upstream]) -> None:
    for up in upstreams:
        up.reset()
    gw, pr = "gateway", "provider-router"
    assert requests.get(live.url(pr, "/health"), timeout=5).json()["service"] == "provider_router"
    health = requests.get(live.url(gw, "/health"), timeout=5).json()
    assert (health["status"], health["service"], health["port"]) == ("ok", "gateway", 6120)
    register(live, "test-gpt-3.5", "gpt-3.5-turbo", upstreams[0], cin=5e-7, cout=1.5e-6,
             slo={"latency_p95_ms": 900}, capabilities=["chat"])  # fmt: skip
    register(live, "test-gpt-4", "gpt-4", upstreams[1], context_window=8192, cin=3e-5, cout=6e-5,
             slo={"latency_p95_ms": 400})  # fmt: skip
    again = register(live, "test-claude-haiku", "claude-3-haiku", upstreams[2], cin=2.5e-7, cout=1.25e-6,
                     slo={"latency_p95_ms": 600})  # fmt: skip
    assert again.json()["status"] == "success"
    assert (
        register(
            live,
            "test-claude-haiku",
            "claude-3-haiku",
            upstreams[2],
            cin=2.5e-7,
            cout=1.25e-6,
            slo={"latency_p95_ms": 600},
        ).json()["action"]
        == "updated"
    )

    one = requests.get(live.url(pr, "/providers/test-gpt-3.5"), timeout=5).json()
    assert one["name"] == "test-gpt-3.5" and one["status"] == "active" and one["source"] == "api"
    names = {p["name"] for p in requests.get(live.url(pr, "/providers"), timeout=5).json()["providers"]}
    assert {"test-gpt-3.5", "test-gpt-4", "test-claude-haiku"} <= names
    assert all(any(v in n for n in names) for v in ("openai", "anthropic", "gemini", "grok"))

    cheap = requests.post(live.url(pr, "/select"), json={"requirements": {"context_window": 4000},
                                                         "optimization": "cost"}, timeout=5).json()  # fmt: skip
    assert cheap["selected_provider"]["name"] == "test-claude-haiku", cheap
    fast = requests.post(live.url(pr, "/select"), json={"requirements": {"context_window": 4000},
                                                        "optimization": "latency"}, timeout=5).json()  # fmt: skip
    assert fast["selected_provider"]["name"] == "test-gpt-4", fast
    assert fast["selection_reason"].startswith("fastest")
    stats = requests.get(live.url(pr, "/stats"), timeout=5).json()
    assert stats["active_providers"] >= 3

    before = len(jsonl(live, "test-run"))
    r1 = route(live, run_id="test-run", requirements={"model": "gpt-3.5-turbo"}, payload=CHAT)
    assert r1.status_code == 200, r1.text
    b1 = r1.json()
    assert b1["status"] == "success" and b1["provider"] == "test-gpt-3.5" and not b1["dry_run"]
    assert b1["response"]["choices"][0]["message"]["content"] == "hello from the mock"
    assert upstreams[0].requests[-1]["model"] == "gpt-3.5-turbo"
    assert b1["cost"]["input_tokens"] > 0 and b1["cost"]["output_tokens"] == 7
    expected = round(b1["cost"]["input_tokens"] * 5e-7 + 7 * 1.5e-6, 6)
    assert b1["cost"]["cost_usd"] == pytest.approx(expected, abs=1e-9)
    r2 = route(live, run_id="test-run", requirements={"model": "gpt-4"})
    b2 = r2.json()
    assert b2["status"] == "success" and b2["dry_run"] is True and b2["cost"]["cost_usd"] == 0
    assert len(upstreams[1].requests) == 0  # a dry run calls nothing

    lines = jsonl(live, "test-run")[before:]
    assert [line["request_id"] for line in lines] == [r1.json()["request_id"], r2.json()["request_id"]]
    receipt = lines[0]
    assert receipt["status"] == "success" and receipt["resolved"]["url"] == upstreams[0].base_url
    assert set(receipt["timings_ms"]) == {"discovery", "upstream", "total"}
    assert receipt["attempts"][0]["outcome"] == "ok" and receipt["candidates"][0]["name"] == "test-gpt-3.5"

    def shipped() -> bool:
        got = requests.get(live.url(gw, "/receipts/test-run"), timeout=5).json()
        return got["count"] >= 2 and live.redis.llen(live.app.extensions["pas"].keys.gw("ship")) == 0

    wait_until(shipped, 15, 0.2, "receipts shipped to SQL by beat")
    got = requests.get(live.url(gw, "/receipts/test-run"), timeout=5).json()
    assert {b1["request_id"], b2["request_id"]} <= {r["request_id"] for r in got["receipts"]}

    m = requests.get(live.url(gw, "/metrics?window=minute"), timeout=5).json()
    assert m["window"] == "minute" and m["total_requests"] >= 2 and m["requests_per_provider"]["test-gpt-3.5"] >= 1
    assert requests.get(live.url(gw, "/metrics?window=week"), timeout=5).status_code == 422

    s = requests.post(live.url(gw, "/budget?run_id=test-run&budget_usd=10.0"), json={}, timeout=5)
    assert s.status_code == 200 and s.json()["status"] == "Budget set successfully", s.text
    b = requests.get(live.url(gw, "/budget/test-run"), timeout=5).json()
    assert b["budget_set"] is True and b["budget_usd"] == 10.0 and b["alert_level"] == "ok" and b["can_proceed"]
    assert requests.get(live.url(gw, "/budget/nope"), timeout=5).json()["budget_set"] is False
    assert requests.get(live.url(gw, "/receipts/unknown-run"), timeout=5).json()["count"] == 0


def test_retry_then_fallback_then_cooldown_then_probe(live: Live, upstreams: list[Upstream]) -> None:
    bad, good = upstreams[0], upstreams[1]
    bad.reset(default=Step(status=500))
    good.reset()
    model = uid("m")
    a, b = uid("a-cheap"), uid("b-pricey")
    register(live, a, model, bad, cin=1e-7, cout=1e-7)
    register(live, b, model, good, cin=1e-5, cout=1e-5)
    r = route(live, run_id=uid("run"), requirements={"model": model}, payload=CHAT)
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == b
    assert len(bad.requests) == 2 and len(good.requests) == 1  # one retry on the cheap one, then fallback
    [rec] = jsonl(live, r.json()["run_id"])  # one receipt for the call, not one per attempt
    assert rec["fallback_from"] == a and rec["provider"] == b
    assert [x["outcome"] for x in rec["attempts"]] == ["http_500", "http_500", "ok"]
    assert rec["cost_usd"] == pytest.approx(round(rec["input_tokens"] * 1e-5 + 7 * 1e-5, 6))

    # the breaker counts at the end of a call: this one retries (failures 3 and 4), then trips it
    route(live, requirements={"model": model}, payload=CHAT)
    assert len(bad.requests) == 4
    p = requests.get(live.url("provider-router", f"/providers/{a}"), timeout=5).json()
    assert p["status"] == "cooldown" and p["healthy"] is False
    alerts = [e for e in live.app.extensions["pas"].events.recent(200) if "provider_cooldown" in e and a in e]
    assert len(alerts) == 1
    route(live, requirements={"model": model}, payload=CHAT)
    assert len(bad.requests) == 4  # cooling down: not tried

    bad.reset()  # healed
    time.sleep(live.settings.pas_gateway_cooldown_s + 0.2)
    r = route(live, requirements={"model": model}, payload=CHAT)
    assert r.json()["provider"] == a and len(bad.requests) == 1  # the probe succeeded
    assert requests.get(live.url("provider-router", f"/providers/{a}"), timeout=5).json()["status"] == "active"


def test_non_retryable_error_is_one_attempt(live: Live, upstreams: list[Upstream]) -> None:
    up, other = upstreams[0], upstreams[1]
    for status in (400, 401):
        up.reset(default=Step(status=status))
        other.reset()
        model = uid("m")
        register(live, uid(f"p{status}"), model, up, cin=1e-7)
        register(live, uid("pother"), model, other, cin=1e-5)
        r = route(live, requirements={"model": model}, payload=CHAT)
        assert r.status_code == 502 and r.json()["status"] == "error" and f"http_{status}" in r.json()["detail"]
        assert len(up.requests) == 1 and len(other.requests) == 0, status
        if status == 400:
            v1 = requests.post(live.url(path="/v1/chat/completions"), json={"model": model, **CHAT}, timeout=10)
            assert v1.status_code == 400 and v1.json()["error"]["message"] == "mock error 400"
    up.reset()


def test_retry_after_is_honoured(live: Live, upstreams: list[Upstream]) -> None:
    up = upstreams[2]
    up.reset(Step(status=429, retry_after="1"))
    model = uid("m")
    register(live, uid("p429"), model, up)
    r = route(live, requirements={"model": model}, payload=CHAT)
    assert r.status_code == 200, r.text
    assert len(up.times) == 2 and up.times[1] - up.times[0] >= 0.95


def test_timeout_gives_504_and_a_timeout_receipt(live: Live, upstreams: list[Upstream]) -> None:
    up = upstreams[2]
    up.reset(default=Step(delay_s=1.5))
    model, run = uid("m"), uid("run")
    register(live, uid("slow"), model, up)
    r = route(live, run_id=run, requirements={"model": model}, payload=CHAT, timeout_s=0.4)
    assert r.status_code == 504 and r.json()["status"] == "timeout", r.text
    rec = jsonl(live, run)[-1]
    assert rec["status"] == "timeout" and rec["error_message"] and rec["cost_usd"] == 0
    up.reset()


def test_no_provider_is_404_with_a_receipt(live: Live) -> None:
    run = uid("run")
    r = route(live, run_id=run, requirements={"model": "no-such-model"}, payload=CHAT)
    assert r.status_code == 404 and r.json()["error"] == "no_provider"
    assert jsonl(live, run)[-1]["status"] == "error"
    sel = requests.post(
        live.url("provider-router", "/select"), json={"requirements": {"capability": "nope"}}, timeout=5
    )
    assert sel.status_code == 404 and sel.json()["error"] == "no_provider"


def test_endpoints_outside_the_allowlist_are_refused(live: Live) -> None:
    for url in ["http://169.254.169.254/", "http://127.0.0.1:6379/", "http://[::1]/", "http://0x7f000001/",
                "http://[::ffff:127.0.0.1]/", "file:///etc/passwd", "gopher://127.0.0.1:70/", "http://localhost.evil/",
                "http://user:pw@127.0.0.1:1/", "http://localhost:6379/"]:  # fmt: skip
        body = {"name": uid("ssrf"), "model": "m", "context_window": 10, "cost_per_input_token": 0,
                "cost_per_output_token": 0, "endpoint": url}  # fmt: skip
        r = requests.post(live.url("provider-router", "/register"), json=body, timeout=5)
        assert r.status_code == 422 and r.json()["field"] == "endpoint", (url, r.text)
    for field in ("api_base", "base_url"):  # X4: a client never says where its call (and our key) goes
        r = requests.post(live.url(path="/v1/chat/completions"),
                          json={"model": "x", field: "http://evil/", **CHAT}, timeout=5)  # fmt: skip
        assert r.status_code == 422 and r.json()["error"]["param"] == field, r.text


def test_openai_sdk_against_v1(live: Live, upstreams: list[Upstream]) -> None:
    import openai

    up = upstreams[0]
    up.reset()
    name, model = uid("sdk"), uid("sdk-model")
    register(live, name, model, up, capabilities=[uid("cap")])
    client = openai.OpenAI(base_url=live.url(path="/v1"), api_key="unused", max_retries=0)
    out = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}])
    assert out.choices[0].message.content == "hello from the mock" and out.usage.completion_tokens == 7
    out = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert up.requests[-1]["model"] == model
    ids = {m.id for m in client.models.list()}
    assert {name, model} <= ids
    chunks = client.chat.completions.create(
        model=name, messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == "hello from the mock"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nothing-by-this-name", messages=[{"role": "user", "content": "hi"}])


def test_idempotency_key(live: Live, upstreams: list[Upstream]) -> None:
    up = upstreams[0]
    up.reset()
    name = uid("idem")
    register(live, name, uid("m"), up)
    key, run = uid("key"), uid("run")
    url = live.url(path="/v1/chat/completions")
    headers = {"Idempotency-Key": key, "X-PAS-Run-Id": run}
    bodies = [requests.post(url, json={"model": name, **CHAT}, headers=headers, timeout=10) for _ in range(5)]
    assert len(up.requests) == 1 and len({b.content for b in bodies}) == 1 and bodies[0].status_code == 200
    other = requests.post(url, json={"model": name, **CHAT, "max_tokens": 3}, headers=headers, timeout=10)
    assert other.status_code == 422 and len(up.requests) == 1
    assert [x["status"] for x in jsonl(live, run)] == ["success"]  # one receipt for the six requests


def test_same_idempotency_key_in_flight_is_409_and_calls_the_upstream_once(
    live: Live, upstreams: list[Upstream]
) -> None:
    up = upstreams[0]
    up.reset(default=Step(delay_s=0.8))
    name = uid("idem-c")
    register(live, name, uid("m"), up)
    key, run = uid("key"), uid("run")
    url = live.url(path="/v1/chat/completions")
    out: list[requests.Response] = []
    headers = {"Idempotency-Key": key, "X-PAS-Run-Id": run}

    def call() -> None:
        out.append(requests.post(url, json={"model": name, **CHAT}, headers=headers, timeout=10))

    first = threading.Thread(target=call)
    first.start()
    wait_until(lambda: up.requests, 5, 0.01, "the first call upstream")
    racers = [threading.Thread(target=call) for _ in range(4)]
    for t in racers:
        t.start()
    for t in [first, *racers]:
        t.join()
    codes = sorted(r.status_code for r in out)
    assert codes == [200, 409, 409, 409, 409], codes
    busy = next(r for r in out if r.status_code == 409).json()
    assert busy["error"]["param"] == "Idempotency-Key" or "Idempotency-Key" in json.dumps(busy)
    assert len(up.requests) == 1
    # once settled, the same key answers the stored body again without a call
    again = requests.post(url, json={"model": name, **CHAT}, headers=headers, timeout=10)
    assert again.status_code == 200 and again.content == next(r for r in out if r.status_code == 200).content
    assert len(up.requests) == 1
    assert [x["status"] for x in jsonl(live, run)] == ["success"]  # one receipt for the six requests
    up.reset()


def test_registry_model_services_join_the_router(live: Live, upstreams: list[Upstream]) -> None:
    up = upstreams[2]
    up.reset()
    cap = uid("cap")
    ok = {"name": uid("regmodel"), "type": "model", "role": "production", "url": up.base_url, "caps": [cap],
          "ctx_limit": 4096, "heartbeat_interval_s": 60}  # fmt: skip
    evil = {**ok, "name": uid("evil"), "url": "http://127.0.0.1:6379"}
    for body in (ok, evil):
        assert requests.post(live.url("registry", "/register"), json=body, timeout=5).status_code == 201
    time.sleep(live.settings.pas_router_refresh_s + 0.1)
    providers = requests.get(live.url("provider-router", f"/providers?capability={cap}"), timeout=5).json()
    assert [p["name"] for p in providers["providers"]] == [ok["name"]]  # the non-allowlisted url is left out
    assert providers["providers"][0]["source"] == "registry"
    r = route(live, requirements={"capability": cap}, payload=CHAT)
    assert r.status_code == 200 and r.json()["provider"] == ok["name"] and len(up.requests) == 1

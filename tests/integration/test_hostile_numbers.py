"""Numbers at the edge and in the store: every number is bounded to what its storage holds exactly (422 naming
the field past that), Lua stores what it was given digit for digit, and no value already in Redis (an older PAS,
a hand edit) can turn a read into a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from models.keys import Keys, key_part
from tests.integration.conftest import Live

TG = "http://localhost:6105"
REG = "http://localhost:6121"
HMI = "http://localhost:6101"
MAX_SAFE = 2**53 - 1

# What an older PAS (or a hand edit) may have left in a hash field: none may turn a read into a 500.
HOSTILE = ["1e+18", "1.844674407371e+19", "inf", "-inf", "nan", "abc", "", "-5", "1" + "0" * 40, "0"]


def test_big_exact_numbers_round_trip_through_lua(app: Flask) -> None:
    """10^14 and 2^53-1 are exact JSON integers Lua's tostring would print as 1e+14 / 9.007199254741e+15."""
    c = app.test_client()
    r = c.post(f"{TG}/track", json={"agent": "big", "run_id": "r", "ctx_used": 10**14, "ctx_limit": MAX_SAFE})
    assert r.status_code == 200, r.json
    got = c.get(f"{TG}/status?agent=big")
    assert got.status_code == 200, got.json
    row = got.json["agents"][0]
    assert row["ctx_used"] == 10**14 and row["ctx_limit"] == MAX_SAFE
    c.post(f"{REG}/register", json={"name": "big", "type": "agent", "role": "production", "url": "internal://b",
                                    "caps": ["c"], "ctx_limit": MAX_SAFE})  # fmt: skip
    for path in ("/api/tree", "/api/swarm"):
        assert c.get(f"{HMI}{path}").status_code == 200, path
    swarm = c.get(f"{HMI}/api/swarm").json
    assert next(a for a in swarm["agents"] if a["name"] == "big")["context"]["ctx_used"] == 10**14


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", f"{TG}/track", {"agent": "a", "ctx_used": 10**18, "ctx_limit": 10**18}, "ctx_used"),
        ("post", f"{TG}/track", {"agent": "a", "ctx_used": 1, "ctx_limit": 2**53}, "ctx_limit"),
        ("post", f"{TG}/track", {"agent": "a", "ctx_used": 1, "ctx_limit": 2, "target_ratio": float("nan")},
         "target_ratio"),
        ("post", f"{REG}/register", {"name": "n", "type": "model", "role": "canary", "url": "http://x", "caps": ["c"],
                                     "ctx_limit": 10**30}, "ctx_limit"),
        ("post", f"{REG}/register", {"name": "n", "type": "model", "role": "canary", "url": "http://x", "caps": ["c"],
                                     "cost_hint": {"usd_per_1k": float("inf")}}, "cost_hint.usd_per_1k"),
        ("put", f"{REG}/heartbeat", {"service_id": "x", "queue_depth": 10**20}, "queue_depth"),
        ("put", f"{REG}/heartbeat", {"service_id": "x", "p95_ms": float("inf")}, "p95_ms"),
        ("put", f"{REG}/heartbeat", {"service_id": "x", "load": float("nan")}, "load"),
        ("put", f"{REG}/heartbeat", {"service_id": "x", "epoch": 10**20}, "epoch"),
        ("put", f"{REG}/heartbeat", {"service_id": "x", "ts": float("inf")}, "ts"),
        ("post", f"{HMI}/api/action", {"action": "ack_alert", "alert_seq": 10**20}, "alert_seq"),
        ("post", "http://localhost:6103/select", {"max_cost_usd": float("inf")}, "max_cost_usd"),
        ("post", "http://localhost:6120/route", {"request_id": "r", "agent": "a", "requirements": {},
                                                 "budget": {"max_latency_ms": float("nan")}}, "budget.max_latency_ms"),
    ],
)  # fmt: skip
def test_numbers_past_their_storage_are_422_naming_the_field(
    app: Flask, method: str, url: str, body: dict, field: str
) -> None:
    r = getattr(app.test_client(), method)(url, json=body)
    assert r.status_code == 422, (r.status_code, r.json)
    assert r.json["field"] == field or r.json["field"].startswith(f"{field}."), r.json


def test_event_replay_after_a_number_past_the_stream_is_422(app: Flask) -> None:
    c = app.test_client()
    r = c.get("http://localhost:6102/events?after=1187175572016095511445504")
    assert r.status_code == 422 and r.json["field"] == "after", r.json
    assert c.get(f"http://localhost:6102/events?after={MAX_SAFE}").status_code == 200


@pytest.mark.parametrize("value", [str(10**25), str(-(10**25)), "nan", "1e400", "abc"])
def test_every_numeric_query_parameter_is_bounded(app: Flask, value: str) -> None:
    """Every GET route (walked from url_map) with every numeric parameter PAS reads: 2xx or 4xx, never a 500."""
    c = app.test_client()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or "<" in rule.rule or rule.rule.startswith("/socket.io"):
            continue
        for param in ("after", "limit", "since", "min_context", "alert_seq", "budget_usd"):
            r = c.get(rule.rule, query_string={param: value})
            if r.status_code == 501 and r.json["error"] == "not_implemented":
                break  # a service not built yet
            assert r.status_code < 500, (rule.rule, param, value, r.status_code, r.data[:300])
            if r.status_code == 422 and param in r.json["detail"]:
                assert r.json["field"] == param


def _seed(c: FlaskClient) -> None:
    """One of everything a read shows: a service, a context, a reservation, a budget, an alert ack, an event."""
    c.post(f"{REG}/register", json={"service_id": "svc-1", "name": "svc", "type": "agent", "role": "production",
                                    "url": "internal://s", "caps": ["c"], "labels": {"parent": "nobody"}})  # fmt: skip
    c.put(f"{REG}/heartbeat", json={"service_id": "svc-1", "p95_ms": 1.5, "queue_depth": 2, "load": 0.5,
                                    "progress": 10, "ts": 1.0})  # fmt: skip
    c.post(f"{TG}/track", json={"agent": "svc", "run_id": "r", "ctx_used": 10, "ctx_limit": 100})
    reserve = c.post("http://localhost:6104/reserve", json={"job_id": "j", "agent": "svc", "cpu": 1, "mem_mb": 10})
    assert reserve.status_code == 201, reserve.json
    c.post("http://localhost:6120/budget?run_id=r&budget_usd=5", data="", content_type="application/json")
    c.post("http://localhost:6102/broadcast", json={"event_type": "x", "data": {}})


READS = [
    f"{TG}/status", f"{TG}/health", f"{TG}/summaries",
    f"{REG}/services", f"{REG}/services/svc-1", f"{REG}/discover?name=svc", f"{REG}/health",
    "http://localhost:6109/stats", "http://localhost:6109/health", "http://localhost:6109/alerts",
    "http://localhost:6104/quotas", "http://localhost:6104/reservations", "http://localhost:6104/health",
    "http://localhost:6120/budget/r", "http://localhost:6120/metrics", "http://localhost:6120/health",
    "http://localhost:6102/health", "http://localhost:6102/events?after=0", "http://localhost:6102/events/recent",
    f"{HMI}/api/tree", f"{HMI}/api/swarm", f"{HMI}/api/resources", f"{HMI}/api/costs", f"{HMI}/api/services",
    f"{HMI}/api/metrics", f"{HMI}/api/banner", f"{HMI}/api/alerts", f"{HMI}/api/sequencer",
    f"{HMI}/api/current-task", f"{HMI}/", "http://localhost:6103/providers", "http://localhost:6103/stats",
]  # fmt: skip


def _corrupt(app: Flask, value: str) -> None:
    """Writes `value` straight into every number field PAS keeps in Redis, as an older version might have."""
    r = app.extensions["redis"]
    k = Keys(app.extensions["settings"].pas_key_prefix)
    gov = f"{k.prefix}:token_governor:state:{key_part('svc')}:{key_part('r')}"
    r.hset(gov, mapping={f: value for f in ("ctx_used", "ctx_limit", "target_ratio", "hard_max_ratio",
                                            "last_updated_ms", "breach_seq", "summarized_for")})  # fmt: skip
    r.hset(k.service("svc-1"), mapping={f: value for f in ("last_hb_ms", "interval_ms", "missed", "registered_ms",
                                                           "epoch", "p95_ms", "queue_depth", "load", "progress",
                                                           "ttl_ms", "client_ts")})  # fmt: skip
    r.hset(k.rm("capacity"), "cpu", value)
    r.hset(k.rm("allocated"), "mem_mb", value)
    rid = r.zrange(k.rm("all"), 0, 0)[0]
    r.hset(k.rm(f"reservation:{rid}"), mapping={"created_ms": value, "released_ms": value})
    r.hset(k.rm("ports"), value or "x", "nobody")
    r.hset(k.budget("run", "r"), mapping={"budget": value, "spent": value, "inflight": value})
    r.hset(k.acked_alerts(), value or "y", value or "z")
    for name in ("p-hostile",):
        r.lpush(k.provider_latency(name), value)
        r.lpush(k.provider_outcomes(name), value)
    r.set(k.preservation(), value)
    r.set(k.last_sweep(), value)
    r.set(k.providers_version(), value)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_stored_values_never_turn_a_read_into_a_500(app: Flask, value: str) -> None:
    c = app.test_client()
    _seed(c)
    _corrupt(app, value)
    for url in READS:
        got = c.get(url)
        # a last beat read as 0 (from '-inf', 'abc' …) is a service long gone: 404 is the truthful answer
        gone = url.endswith("/services/svc-1") and got.status_code == 404
        assert got.status_code < 300 or gone, (value, url, got.status_code, got.data[:300])
    ctx = next(a for a in c.get(f"{TG}/status").json["agents"] if a["agent"] == "svc")
    assert 0 <= ctx["ctx_used"] <= MAX_SAFE and 1 <= ctx["ctx_limit"] <= MAX_SAFE
    assert c.get(f"{HMI}/api/tree").json["name"] == "PAS Root"
    # the writers still work on top of what they found
    again = c.post(f"{TG}/track", json={"agent": "svc", "run_id": "r", "ctx_used": 5, "ctx_limit": 100})
    assert again.status_code == 200, again.json
    assert next(a for a in c.get(f"{TG}/status").json["agents"] if a["agent"] == "svc")["ctx_used"] == 5
    reserve = c.post("http://localhost:6104/reserve", json={"job_id": "j2", "agent": "svc", "cpu": 1, "mem_mb": 1})
    assert reserve.status_code in (201, 409), reserve.json
    update = c.post("http://localhost:6104/quotas/update", json={"resource_type": "cpu", "new_capacity": 8})
    assert update.status_code == 200, update.json


def test_the_summary_task_succeeds_on_a_hostile_stored_context(live: Live) -> None:
    """The breach's summarize task read `int('1.844674407371e+19')` and failed every few seconds."""
    tg = lambda p: live.url("token-governor", p)  # noqa: E731
    requests.post(tg("/track"), json={"agent": "hostile", "run_id": "h", "ctx_used": 1, "ctx_limit": 10}, timeout=5)
    k = Keys(live.settings.pas_key_prefix)
    live.redis.hset(f"{k.prefix}:token_governor:state:hostile:h",
                    mapping={"ctx_used": "1.844674407371e+19", "ctx_limit": "1e+18"})  # fmt: skip
    assert requests.get(tg("/status"), params={"agent": "hostile"}, timeout=5).status_code == 200
    s = requests.post(tg("/summarize"), json={"agent": "hostile", "run_id": "h", "trigger_reason": "manual"},
                      timeout=40)  # fmt: skip
    assert s.status_code == 200, s.text
    assert s.json()["ctx_before"] == MAX_SAFE and Path(s.json()["summary_path"]).is_file()
    resume = requests.get(tg("/resume"), params={"agent": "hostile", "run_id": "h"}, timeout=5)
    assert resume.status_code == 200, resume.text

"""The agent router (API-CONTRACT §11) over real HTTP: a PAS of its own (own prefix and ports, so exactly the 42
catalogue agents are its type:"agent" records) with a real Celery worker and beat, and real OpenAI-wire upstreams
on 127.0.0.1 as the providers the agents' model preferences route to."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask

from app.domain.agents.catalogue import load_catalogue
from app.domain.agents.registration import register_catalogue
from app.factory import create_app, create_tables
from app.wiring import services
from config.settings import Settings
from tests.integration.conftest import Live, serve_live
from tests.support import port_offset_with_free_ports, wait_until
from tests.upstream import Step, Upstream, start_upstream

pytestmark = pytest.mark.timeout(180)

AR = "agent-router"
SONNET = "claude-sonnet-4-5-20250929"  # the architect's first preferred model
GPT4 = "gpt-4-turbo"  # documentation-generator's first preferred model


def uid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


class Pas:
    def __init__(self, live: Live, sonnet: Upstream, gpt4: Upstream) -> None:
        self.live, self.sonnet, self.gpt4 = live, sonnet, gpt4

    def post(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return requests.post(self.live.url(AR, path), json=body, timeout=kw.pop("timeout", 30), **kw)

    def invoke(self, **body: Any) -> requests.Response:
        body.setdefault("request_id", uid("req"))
        return self.post("/invoke", body)

    def get(self, slug: str | None, path: str, **params: Any) -> Any:
        r = requests.get(self.live.url(slug, path), params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def receipts(self, run_id: str) -> list[dict[str, Any]]:
        path = self.live.settings.costs_dir / f"{run_id}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def provider_ready(self, name: str) -> None:
        """Out of any cooldown an earlier test's failures started."""
        wait_until(lambda: self.get("provider-router", f"/providers/{name}")["status"] == "active", 15, 0.2,
                   f"{name} active")  # fmt: skip


@pytest.fixture(scope="module")
def pas(make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pas]:
    sonnet, gpt4 = start_upstream(), start_upstream()
    artifacts = tmp_path_factory.mktemp("router-artifacts")  # its beat archives events there, not in the session's
    settings = make_settings(
        pas_artifacts_dir=artifacts,
        pas_docs_dir=artifacts / "docs" / "runs",
        pas_port_offset=port_offset_with_free_ports(),
        pas_sweep_interval_s=1.0,
        pas_log_level="INFO",
        pas_upstream_allowlist=f"127.0.0.1:{sonnet.port},127.0.0.1:{gpt4.port}",
        pas_gateway_backoff_s=0.01,
        pas_gateway_cooldown_s=2.0,
    )
    with serve_live(settings, artifacts) as live:
        with live.app.app_context():  # the register domain, as `pas agents register` runs it
            register_catalogue(load_catalogue(), services().registry.register, live.url())
        for name, model, up in (("router-sonnet", SONNET, sonnet), ("router-gpt4", GPT4, gpt4)):
            r = requests.post(live.url("provider-router", "/register"), timeout=10, json={
                "name": name, "model": model, "context_window": 200_000, "cost_per_input_token": 3e-6,
                "cost_per_output_token": 1.5e-5, "endpoint": up.base_url, "slo": {"latency_p95_ms": 900},
            })  # fmt: skip
            assert r.status_code in (200, 201), r.text
        yield Pas(live, sonnet, gpt4)
    for up in (sonnet, gpt4):
        up.server.shutdown()
        up.server.server_close()


def test_phase4_flow_of_the_users_clients(pas: Pas) -> None:
    pas.sonnet.reset()
    registered = pas.get("registry", "/discover", type="agent")["items"]
    total = len(registered)
    assert total == 42

    planning = pas.post("/discover", {"capabilities": ["planning"], "limit": 10}).json()
    assert planning["count"] > 0 and planning["count"] == len(planning["agents"])
    assert planning["agents"][0]["agent_name"] == "architect"
    counts = {}
    for role, limit in (("coord", 20), ("exec", 30), ("system", 30)):
        found = pas.post("/discover", {"agent_role": role, "limit": limit}).json()
        assert found["count"] == len(found["agents"]) and {a["role"] for a in found["agents"]} == {role}
        counts[role] = found["count"]
    assert counts == {"coord": 7, "exec": 19, "system": 16} and sum(counts.values()) == total
    tier1 = pas.post("/discover", {"tier": 1, "limit": 50}).json()
    assert tier1["count"] > 0 and all(a["tier"] == 1 for a in tier1["agents"])
    architect = tier1["agents"][0]
    assert architect == {
        "agent_name": "architect", "display_name": "Architect", "role": "coord", "tier": 1,
        "capabilities": ["planning", "architecture", "decomposition", "delegation"],
        "url": pas.live.url().rstrip("/") + "/api/agent-router/invoke", "status": "ok",
    }  # fmt: skip

    everyone = pas.post("/discover", {"limit": 50}).json()["agents"]
    assert len(everyone) == 42
    assert [(a["tier"], a["agent_name"]) for a in everyone] == sorted((a["tier"], a["agent_name"]) for a in everyone)
    assert pas.post("/discover", {"limit": 5}).json()["count"] == 5  # count = entries returned
    assert pas.post("/discover", {}).json()["count"] == 10  # limit defaults to 10

    by_name = pas.invoke(agent_name="architect", timeout_s=10, payload={"goal": "plan a release"})
    assert by_name.status_code == 200, by_name.text
    b = by_name.json()
    assert (b["status"], b["agent_name"], b["error"]) == ("success", "architect", None)
    assert b["latency_ms"] > 0 and b["result"]["text"] == "hello from the mock"
    assert b["metadata"]["agent_role"] == "coord" and b["metadata"]["tier"] == 1 and b["metadata"]["job_id"]
    assert b["metadata"]["transport"] == "rest"  # the architect's catalogue transport
    by_cap = pas.invoke(capabilities=["planning"], timeout_s=10)
    assert by_cap.status_code == 200, by_cap.text
    c = by_cap.json()
    assert (c["status"], c["agent_name"]) == ("success", "architect") and c["latency_ms"] > 0
    assert c["metadata"]["job_id"] != b["metadata"]["job_id"]

    stats = pas.get(AR, "/stats")
    assert stats["total_agents"] == total
    assert stats["by_role"] == {"coord": 7, "exec": 19, "system": 16}
    assert sum(stats["by_tier"].values()) == total and stats["by_tier"]["1"] == 1
    assert stats["cache_updated"].endswith("Z")
    health = pas.get(AR, "/health")
    assert (health["status"], health["service"], health["port"]) == ("ok", "agent_router", 6119)
    assert health["cached_agents"] == total
    # The main port's prefix is the same service.
    same = requests.post(pas.live.url(None, "/api/agent-router/discover"), json={"tier": 1}, timeout=10).json()
    assert same == pas.post("/discover", {"tier": 1}).json()


def test_the_run_sends_the_system_prompt_and_leaves_a_tagged_receipt_and_nothing_else(pas: Pas) -> None:
    pas.sonnet.reset()
    run_id, secret = uid("run"), uid("payload-secret")
    payload = {"goal": "ship the docs", "note": secret, "nested": {"n": [1, 2]}}
    r = pas.invoke(agent_name="architect", run_id=run_id, timeout_s=10, payload=payload)
    assert r.status_code == 200, r.text
    body = r.json()
    job_id = body["metadata"]["job_id"]
    assert body["metadata"]["run_id"] == run_id

    sent = pas.sonnet.requests[-1]
    architect = load_catalogue().get("architect")
    assert sent["model"] == SONNET and sent["max_tokens"] > 0
    assert sent["messages"] == [
        {"role": "system", "content": architect.system_prompt},
        {"role": "user", "content": json.dumps(payload, separators=(",", ":"))},
    ]

    usage = body["result"]["usage"]
    assert usage["output_tokens"] == 7 and usage["input_tokens"] > 0 and usage["tokens_exact"] is True
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["cost_usd"] == pytest.approx(round(usage["input_tokens"] * 3e-6 + 7 * 1.5e-5, 6))
    (receipt,) = pas.receipts(run_id)
    assert receipt["receipt_id"] == body["result"]["receipt_id"]
    assert (receipt["agent"], receipt["run_id"], receipt["status"], receipt["provider"]) == (
        "architect", run_id, "success", "router-sonnet",
    )  # fmt: skip
    assert receipt["metadata"] == {"source": "agent_router", "agent_name": "architect", "run_id": run_id,
                                   "job_id": job_id, "transport": "rest"}  # fmt: skip

    # The token governor tracks the run's context against the architect's own budget.
    (ctx,) = pas.get("token-governor", "/status", agent="architect", run_id=run_id)["agents"]
    assert ctx["ctx_used"] == usage["total_tokens"] and ctx["ctx_limit"] == 200_000
    assert (ctx["target_ratio"], ctx["hard_max_ratio"], ctx["status"]) == (0.5, 0.75, "ok")

    job = wait_until(lambda: (j := pas.get(None, f"/jobs/{job_id}"))["status"] == "succeeded" and j, 10, 0.1, "job")
    assert job["task"] == "pas.agent_router.invoke" and job["agent"] == "architect" and job["run_id"] == run_id
    assert job["result"]["receipt_id"] == receipt["receipt_id"] and job["result"]["answer_chars"] == 19
    # Neither the payload nor the prompt nor the answer is kept: not in the job, the receipt, nor Redis.
    kept = json.dumps(job) + json.dumps(receipt)
    for text in (secret, "hello from the mock", architect.system_prompt[:80]):
        assert text not in kept
    assert list(pas.live.redis.scan_iter(f"{pas.live.settings.pas_key_prefix}:agent_router:invocation:*")) == []
    for key in pas.live.redis.scan_iter(f"{pas.live.settings.pas_key_prefix}:*", count=1000):
        if pas.live.redis.type(key) == "string":
            assert secret not in (pas.live.redis.get(key) or ""), key


def _invoke_in_thread(pas: Pas, **body: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def go() -> None:
        t = time.monotonic()
        out["r"] = pas.invoke(**body)
        out["s"] = time.monotonic() - t

    thread = threading.Thread(target=go)
    thread.start()
    return thread, out


def test_the_agents_resources_are_reserved_for_the_run_and_released_after(pas: Pas) -> None:
    pas.sonnet.reset(Step(delay_s=1.5))
    thread, out = _invoke_in_thread(pas, agent_name="architect", timeout_s=10)

    def held() -> dict[str, Any] | None:
        active = pas.get("resource-manager", "/reservations", status="active")["reservations"]
        return next((x for x in active if x["agent"] == "architect"), None)

    reservation = wait_until(held, 5, 0.05, "the architect's reservation while it runs")
    assert reservation["resources"]["cpu"] == 1.0 and reservation["resources"]["mem_mb"] == 1024
    quotas = pas.get("resource-manager", "/quotas")["quotas"]
    assert quotas["cpu"]["allocated"] >= 1
    thread.join(15)
    r = out["r"]
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    assert r.json()["metadata"]["job_id"] == reservation["job_id"]

    def released() -> bool:
        rows = pas.get("resource-manager", "/reservations", status="released")["reservations"]
        return any(x["reservation_id"] == reservation["reservation_id"] for x in rows)

    wait_until(released, 5, 0.05, "the reservation released after the run")
    assert pas.get("resource-manager", "/quotas")["quotas"]["cpu"]["allocated"] == 0


def test_timeout_s_is_a_hard_limit_the_job_is_cancelled(pas: Pas) -> None:
    pas.provider_ready("router-gpt4")
    pas.gpt4.reset(Step(delay_s=6))
    run_id = uid("slow")
    t = time.monotonic()
    r = pas.invoke(agent_name="documentation-generator", run_id=run_id, timeout_s=1.5)
    took = time.monotonic() - t
    assert r.status_code == 504, r.text
    body = r.json()
    assert (body["status"], body["agent_name"], body["result"]) == ("timeout", "documentation-generator", None)
    assert body["error"] and 1.2 <= took < 2.5, took
    job_id = body["metadata"]["job_id"]
    job = wait_until(lambda: (j := pas.get(None, f"/jobs/{job_id}"))["status"] == "timeout" and j, 10, 0.1, "job")
    assert job["finished_at"] is not None
    active = pas.get("resource-manager", "/reservations", status="active")["reservations"]
    assert all(x["job_id"] != job_id for x in active)
    (receipt,) = wait_until(lambda: pas.receipts(run_id), 10, 0.1, "the timeout receipt")
    assert (receipt["status"], receipt["agent"], receipt["metadata"]["job_id"]) == (
        "timeout", "documentation-generator", job_id,
    )  # fmt: skip


def test_a_failing_provider_is_an_error_502(pas: Pas) -> None:
    pas.provider_ready("router-gpt4")
    pas.gpt4.reset(default=Step(status=500))
    r = pas.invoke(agent_name="documentation-generator", timeout_s=10)
    assert r.status_code == 502, r.text
    body = r.json()
    assert body["status"] == "error" and "mock error 500" in body["error"] and body["result"] is None
    job_id = body["metadata"]["job_id"]
    wait_until(lambda: pas.get(None, f"/jobs/{job_id}")["status"] == "failed", 10, 0.1, "the job failed")
    pas.gpt4.reset()


def test_no_provider_able_to_serve_is_an_error_at_once(pas: Pas) -> None:
    jobs_before = len(pas.get(None, "/jobs")["jobs"])
    t = time.monotonic()
    r = pas.invoke(agent_name="tlc-domain-classifier", timeout_s=30)  # tinyllama / classification: not running
    assert time.monotonic() - t < 1.0
    assert r.status_code == 502, r.text
    body = r.json()
    assert body["status"] == "error" and body["metadata"]["job_id"] is None
    assert "no provider can run agent 'tlc-domain-classifier'" in body["error"] and "tinyllama-1.1b" in body["error"]
    assert len(pas.get(None, "/jobs")["jobs"]) == jobs_before


def test_every_transport_runs_and_is_echoed(pas: Pas) -> None:
    pas.sonnet.reset()
    for transport in ("rpc", "file", "mcp", "rest"):
        r = pas.invoke(agent_name="architect", transport=transport, timeout_s=10)
        assert r.status_code == 200, r.text
        assert r.json()["metadata"]["transport"] == transport
        assert r.json()["metadata"]["delivery"] == "gateway_job"


def test_unknown_agents_are_404_naming_the_field(pas: Pas) -> None:
    r = pas.invoke(request_id="r-404", agent_name="nobody", timeout_s=5)
    assert r.status_code == 404, r.text
    assert r.json()["field"] == "agent_name" and r.json()["request_id"] == "r-404" and "nobody" in r.json()["detail"]
    r = pas.invoke(capabilities=["no-such-capability"])
    assert r.status_code == 404 and r.json()["field"] == "capabilities", r.text
    r = pas.invoke(agent_name="architect", capabilities=["runbooks"])  # the named agent lacks it
    assert r.status_code == 404 and r.json()["field"] == "capabilities", r.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agent_name": "architect"}, "request_id"),
        ({"request_id": "x"}, "agent_name"),
        ({"request_id": "x", "agent_name": "architect", "timeout_s": 0}, "timeout_s"),
        ({"request_id": "x", "agent_name": "architect", "timeout_s": -1}, "timeout_s"),
        ({"request_id": "x", "agent_name": "architect", "timeout_s": "10"}, "timeout_s"),
        ({"request_id": "x", "agent_name": "architect", "timeout_s": 1e9}, "timeout_s"),
        ({"request_id": "x", "agent_name": "architect", "transport": "smtp"}, "transport"),
        ({"request_id": "x", "agent_name": "architect", "payload": "text"}, "payload"),
        ({"request_id": "x", "agent_name": "architect", "surprise": 1}, "surprise"),
        ({"request_id": "x", "capabilities": []}, "capabilities"),
        ({"request_id": "x", "capabilities": "planning"}, "capabilities"),
        ({"request_id": "x", "agent_name": 7}, "agent_name"),
        ([], "body"),
    ],
)
def test_bad_invoke_bodies_are_422_and_start_nothing(pas: Pas, body: Any, field: str) -> None:
    before = len(pas.get(None, "/jobs")["jobs"])
    r = pas.post("/invoke", body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error" and r.json()["field"] == field
    assert len(pas.get(None, "/jobs")["jobs"]) == before


def test_bad_discover_bodies_and_malformed_json(pas: Pas) -> None:
    bad = [({"tier": "1"}, "tier"), ({"limit": 0}, "limit"), ({"agent_role": "boss"}, "agent_role"),
           ({"capabilities": "planning"}, "capabilities"), ({"tier": True}, "tier"), ({"x": 1}, "x")]  # fmt: skip
    for body, field in bad:
        r = pas.post("/discover", body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    for path in ("/discover", "/invoke"):
        r = requests.post(pas.live.url(AR, path), data=b'{"request_id": ', timeout=5,
                          headers={"Content-Type": "application/json"})  # fmt: skip
        assert r.status_code == 400 and r.json()["error"] == "malformed_json", r.text
        r = requests.post(pas.live.url(AR, path), data=b"{}", timeout=5, headers={"Content-Type": "text/plain"})
        assert r.status_code == 415, r.text


@pytest.fixture
def bare(make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    app = create_app(make_settings(pas_api_token="router-token"), serve_socketio=False)
    create_tables(app)
    yield app
    app.extensions["redis"].close()


def test_with_a_token_set_discover_and_invoke_need_it(bare: Flask) -> None:
    c = bare.test_client()
    base = "/api/agent-router"
    for path, body in (("/discover", {}), ("/invoke", {"request_id": "t", "agent_name": "architect"})):
        r = c.post(base + path, json=body)
        assert r.status_code == 401 and r.json["error"] == "unauthorized", r.json
        r = c.post(base + path, json=body, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
    ok = {"Authorization": "Bearer router-token"}
    assert c.post(base + "/discover", json={}, headers=ok).json == {"count": 0, "agents": []}
    r = c.post(base + "/invoke", json={"request_id": "t", "agent_name": "architect"}, headers=ok)
    assert r.status_code == 404 and r.json["field"] == "agent_name"  # past the auth: nothing registered here
    assert c.get(base + "/stats").status_code == 200  # reads need no token


def test_labels_tier_compares_as_an_int_and_odd_records_do_not_break_reads(bare: Flask) -> None:
    c = bare.test_client()
    ok = {"Authorization": "Bearer router-token"}
    base = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"]}
    for sid, labels in (("agent-two", {"tier": "2", "agent_role": "exec"}), ("agent-float", {"tier": 2.0}),
                        ("agent-odd", {"tier": "two", "agent_role": 5}), ("custom-7", {"tier": 1}),
                        ("agent-bool", {"tier": True})):  # fmt: skip
        r = c.post("/api/registry/register", json={**base, "service_id": sid, "name": sid, "labels": labels},
                   headers=ok)  # fmt: skip
        assert r.status_code in (200, 201), r.json
    c.post("/api/registry/register", json={**base, "service_id": "model-x", "name": "m", "type": "model"}, headers=ok)
    found = c.post("/api/agent-router/discover", json={"tier": 2, "limit": 50}, headers=ok).json
    assert [a["agent_name"] for a in found["agents"]] == ["float", "two"] and found["count"] == 2
    assert found["agents"][1]["role"] == "exec" and found["agents"][1]["tier"] == 2
    everyone = c.post("/api/agent-router/discover", json={"limit": 50}, headers=ok).json["agents"]
    assert [a["agent_name"] for a in everyone] == ["custom-7", "float", "two", "bool", "odd"]  # no tier: last
    assert everyone[-1]["role"] is None and everyone[-1]["tier"] is None
    stats = c.get("/api/agent-router/stats").json
    assert stats["total_agents"] == 5  # type:"agent" only: not the model record
    assert stats["by_role"] == {"coord": 0, "exec": 1, "system": 0}
    assert stats["by_tier"] == {"1": 1, "2": 2, "unknown": 2}
    assert c.get("/api/agent-router/health").json["cached_agents"] == 5

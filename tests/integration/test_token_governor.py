"""The token governor: thresholds, per-run state, breach → summary by the real worker → context 0 → resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.integration.conftest import Live
from tests.support import wait_until

TG = "http://localhost:6105"


def test_phase1_governor_flow_on_the_legacy_port(live: Live) -> None:
    tg = lambda p: live.url("token-governor", p)  # noqa: E731
    assert '"status":"ok"' in requests.get(tg("/health"), timeout=5).text
    results = []
    for agent, used in (("p1-a", 4000), ("p1-b", 10000), ("p1-c", 12500)):
        r = requests.post(tg("/track"), json={"agent": agent, "run_id": "p1", "ctx_used": used, "ctx_limit": 16000},
                          timeout=5)  # fmt: skip
        assert r.status_code == 200
        results.append(r.json())
    assert [r["status"] for r in results] == ["ok", "warning", "breach"]
    assert [r["ctx_ratio"] for r in results] == [0.25, 0.625, 0.781]
    assert results[2]["action"] == "save_state_clear_resume" and results[0]["action"] is None
    assert len(requests.get(tg("/status"), timeout=5).json()["agents"]) >= 3
    s = requests.post(tg("/summarize"), json={"agent": "p1-a", "run_id": "p1", "trigger_reason": "manual",
                                              "content_to_summarize": "We built the registry. Then the monitor."},
                      timeout=40)  # fmt: skip
    assert s.status_code == 200, s.text
    body = s.json()
    assert body["summary_id"] and body["ctx_after"] == 0 and body["ctx_before"] == 4000
    assert Path(body["summary_path"]).is_absolute() and Path(body["summary_path"]).is_file()
    assert "registry" in Path(body["summary_path"]).read_text()
    assert body["method"] == "extractive"
    assert len(requests.get(tg("/summaries"), timeout=5).json()["summaries"]) >= 1
    st = requests.get(tg("/status"), params={"agent": "p1-a", "run_id": "p1"}, timeout=5).json()["agents"]
    assert st[0]["ctx_used"] == 0


def test_a_breach_summarizes_once_by_itself_and_resumes(live: Live) -> None:
    tg = lambda p: live.url("token-governor", p)  # noqa: E731
    msgs = [{"role": "user", "content": "Please design the deadline sweep for the heartbeat monitor."},
            {"role": "assistant", "content": "The deadline sweep reads the sorted set on the Redis clock. "
                                             "It marks services down after two missed beats."}]  # fmt: skip
    track = {"agent": "auto", "run_id": "run/../1", "ctx_limit": 1000, "messages": msgs}
    requests.post(tg("/track"), json={**track, "ctx_used": 800}, timeout=5)
    requests.post(tg("/track"), json={**track, "ctx_used": 900, "messages": None}, timeout=5)  # same breach

    def summaries() -> list[dict]:
        return requests.get(tg("/summaries"), params={"agent": "auto"}, timeout=5).json()["summaries"]

    wait_until(lambda: len(summaries()) == 1, 15, 0.1, "the breach's summary")
    first = summaries()[0]
    assert first["trigger_reason"] == "hard_max_breach" and first["ctx_before"] in (800, 900)
    path = Path(first["summary_path"])
    assert path.name == "run_.._1_summary.md" and path.parent == live.settings.docs_dir
    ctx = requests.get(tg("/status"), params={"agent": "auto"}, timeout=5).json()["agents"][0]
    assert ctx["ctx_used"] == 0 and ctx["status"] == "ok" and ctx["breaches"] == 1
    resume = requests.get(tg("/resume"), params={"agent": "auto", "run_id": "run/../1"}, timeout=5).json()
    assert "deadline sweep" in resume["context"]
    # a second breach is a second summary, in a new file
    requests.post(tg("/track"), json={**track, "ctx_used": 950}, timeout=5)
    wait_until(lambda: len(summaries()) == 2, 15, 0.1, "the second breach's summary")
    assert Path(summaries()[0]["summary_path"]).name == "run_.._1_summary-2.md"


def test_two_runs_of_one_agent_do_not_collide(app: Flask) -> None:
    c = app.test_client()
    c.post(f"{TG}/track", json={"agent": "a", "run_id": "r1", "ctx_used": 10, "ctx_limit": 100})
    c.post(f"{TG}/track", json={"agent": "a", "run_id": "r2", "ctx_used": 60, "ctx_limit": 100})
    rows = {r["run_id"]: r for r in c.get(f"{TG}/status?agent=a").json["agents"]}
    assert rows["r1"]["status"] == "ok" and rows["r2"]["status"] == "warning"
    cleared = c.post(f"{TG}/clear?agent=a&run_id=r2", data="", content_type="application/json")
    assert cleared.status_code == 200 and cleared.json["ctx_before"] == 60
    assert {r["run_id"]: r["ctx_used"] for r in c.get(f"{TG}/status?agent=a").json["agents"]} == {"r1": 10, "r2": 0}


def test_track_counts_the_messages_it_was_sent(app: Flask) -> None:
    c = app.test_client()
    body = {"agent": "m", "ctx_used": 1, "ctx_limit": 10, "messages": [{"role": "user", "content": "hello there"}]}
    exact = c.post(f"{TG}/track", json={**body, "model": "gpt-4o"}).json["messages_tokens"]
    assert exact["exact"] is True and exact["tokens"] == 2 + 3 * 2
    assert c.post(f"{TG}/track", json=body).json["messages_tokens"]["exact"] is False


def test_per_call_and_per_agent_thresholds(app: Flask) -> None:
    c = app.test_client()
    c.post("http://localhost:6121/register", json={
        "name": "strict", "type": "agent", "role": "production", "url": "internal://strict", "caps": ["x"],
        "labels": {"token_target": 0.2, "token_hard_max": 0.4}})  # fmt: skip
    assert c.post(f"{TG}/track", json={"agent": "strict", "ctx_used": 30, "ctx_limit": 100}).json["status"] == "warning"
    r = c.post(f"{TG}/track", json={"agent": "strict", "ctx_used": 30, "ctx_limit": 100, "hard_max_ratio": 0.25})
    assert r.json["status"] == "breach" and r.json["hard_max_ratio"] == 0.25
    bad = c.post(f"{TG}/track", json={"agent": "x", "ctx_used": 1, "ctx_limit": 2, "target_ratio": 0.9,
                                      "hard_max_ratio": 0.5})  # fmt: skip
    assert bad.status_code == 422 and bad.json["field"] == "target_ratio"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/track", {"agent": "a", "ctx_used": -1, "ctx_limit": 10}, 422, "ctx_used"),
        ("post", "/track", {"agent": "a", "ctx_used": 1, "ctx_limit": 0}, 422, "ctx_limit"),
        ("post", "/track", {"agent": "a", "ctx_used": 1}, 422, "ctx_limit"),
        ("post", "/track", {"agent": "a", "ctx_used": 1, "ctx_limit": 2, "target_ratio": 2}, 422, "target_ratio"),
        ("post", "/track", {"agent": "a", "ctx_used": 1, "ctx_limit": 2, "transcript_path": "/etc/passwd"}, 422,
         "transcript_path"),
        ("post", "/summarize", {"agent": "ghost", "trigger_reason": "manual"}, 404, "agent"),
        ("post", "/summarize", {"agent": "a", "trigger_reason": "because"}, 422, "trigger_reason"),
        ("post", "/clear", {"agent": "ghost"}, 404, "agent"),
        ("post", "/clear", {}, 422, "agent"),
        ("get", "/resume?agent=ghost", None, 404, "agent"),
        ("get", "/resume", None, 422, "agent"),
    ],
)  # fmt: skip
def test_bad_input(app: Flask, method: str, path: str, body, status: int, field: str) -> None:
    c = app.test_client()
    r = getattr(c, method)(f"{TG}{path}", json=body) if body is not None else getattr(c, method)(f"{TG}{path}")
    assert r.status_code == status, r.json
    assert r.json["field"] == field

"""Pause All really pauses work: workers stop taking jobs (sweeps go on), agents learn it from their heartbeat
responses; Resume All continues; every action is audited."""

from __future__ import annotations

import json
import time

import requests

from tests.integration.conftest import Live
from tests.support import wait_until


def act(live: Live, **body) -> requests.Response:
    return requests.post(live.url(None, "/api/action"), json=body, timeout=10)


def job_status(live: Live, job_id: str) -> str:
    return requests.get(live.url(None, f"/jobs/{job_id}"), timeout=5).json()["status"]


def test_pause_all_holds_jobs_and_resume_runs_them(live: Live) -> None:
    reg = lambda p: live.url("registry", p)  # noqa: E731
    agent = {"service_id": "ctl-a", "name": "ctl-a", "type": "agent", "role": "production", "url": "internal://a",
             "caps": ["c"], "heartbeat_interval_s": 60}  # fmt: skip
    requests.post(reg("/register"), json=agent, timeout=5)
    try:
        r = act(live, action="pause_all", note="test")
        assert r.status_code == 200 and r.json()["state"]["paused"] is True and r.json()["workers_acknowledged"] >= 1
        assert requests.put(reg("/heartbeat"), json={"service_id": "ctl-a"}, timeout=5).json()["paused"] is True
        jid = requests.post(live.url(None, "/jobs"), json={"agent": "a", "task": "pas.jobs.echo", "args": [1]},
                            timeout=5).json()["job_id"]  # fmt: skip
        last = requests.get(live.url("heartbeat-monitor", "/stats"), timeout=5).json()["last_check"]
        time.sleep(2.5)
        assert job_status(live, jid) == "queued"  # not picked up
        # the monitor's sweeps go on while work is paused
        assert requests.get(live.url("heartbeat-monitor", "/stats"), timeout=5).json()["last_check"] != last
    finally:
        resumed = act(live, action="resume_all")
    assert resumed.json()["state"]["paused"] is False
    wait_until(lambda: job_status(live, jid) == "succeeded", 15, 0.1, "the held job after Resume All")
    assert requests.put(reg("/heartbeat"), json={"service_id": "ctl-a"}, timeout=5).json()["paused"] is False
    audit = [json.loads(e) for e in live.app.extensions["pas"].events.recent(500)]
    actions = [e["data"]["action"] for e in audit if e["event_type"] == "operator_action"]
    assert actions[-2:] == ["pause_all", "resume_all"]


def test_pause_one_agent(live: Live) -> None:
    reg = lambda p: live.url("registry", p)  # noqa: E731
    for sid in ("ctl-b", "ctl-c"):
        requests.post(reg("/register"), json={"service_id": sid, "name": sid, "type": "agent", "role": "production",
                                              "url": "internal://b", "caps": ["c"], "heartbeat_interval_s": 60},
                      timeout=5)  # fmt: skip
    assert act(live, action="pause_agent", service_id="ctl-b").json()["state"]["paused_agents"] == ["ctl-b"]
    assert requests.put(reg("/heartbeat"), json={"service_id": "ctl-b"}, timeout=5).json()["paused"] is True
    assert requests.put(reg("/heartbeat"), json={"service_id": "ctl-c"}, timeout=5).json()["paused"] is False
    assert act(live, action="resume_agent", service_id="ctl-b").json()["state"]["paused_agents"] == []
    assert requests.put(reg("/heartbeat"), json={"service_id": "ctl-b"}, timeout=5).json()["paused"] is False
    bad = act(live, action="pause_agent")
    assert bad.status_code == 422 and bad.json()["field"] == "service_id"
    assert act(live, action="pause_agent", service_id="nobody").status_code == 404
    assert act(live, action="explode").status_code == 422

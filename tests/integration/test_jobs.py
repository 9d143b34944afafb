"""Job cards on the real Celery worker: reserve → run → release; hard timeouts and kills really stop the task."""

from __future__ import annotations

import json
import time

import requests

from tests.integration.conftest import Live
from tests.support import wait_until


def job(live: Live, **card) -> requests.Response:
    return requests.post(live.url(None, "/jobs"), json={"agent": "tester", **card}, timeout=10)


def state(live: Live, job_id: str) -> dict:
    return requests.get(live.url(None, f"/jobs/{job_id}"), timeout=5).json()


def reservation_status(live: Live, job_id: str) -> str:
    rows = requests.get(live.url("resource-manager", "/reservations"), timeout=5).json()["reservations"]
    return next(r["status"] for r in rows if r["job_id"] == job_id)


def test_a_job_runs_and_releases_its_reservation(live: Live) -> None:
    r = job(live, task="pas.jobs.echo", args=[1, "two"], kwargs={"k": "v"}, resources={"cpu": 1, "mem_mb": 64})
    assert r.status_code == 201, r.text
    jid = r.json()["job_id"]
    assert r.json()["reservation_id"]
    wait_until(lambda: state(live, jid)["status"] == "succeeded", 15, 0.1, "job succeeded")
    done = state(live, jid)
    assert done["result"] == {"args": [1, "two"], "kwargs": {"k": "v"}} and done["progress"] == 1.0
    assert done["started_at"] and done["finished_at"] and done["attempts"] == 1
    assert reservation_status(live, jid) == "released"
    listed = requests.get(live.url(None, "/jobs?status=succeeded"), timeout=5).json()["jobs"]
    assert any(j["job_id"] == jid for j in listed)


def test_progress_and_failure(live: Live) -> None:
    ok = job(live, task="pas.jobs.sleep", kwargs={"seconds": 0.6, "steps": 3}).json()["job_id"]
    bad = job(live, task="pas.jobs.fail", kwargs={"message": "boom"}).json()["job_id"]
    wait_until(lambda: state(live, bad)["status"] == "failed", 15, 0.1, "job failed")
    assert "boom" in state(live, bad)["error"]
    assert reservation_status(live, bad) == "released"
    wait_until(lambda: state(live, ok)["status"] == "succeeded", 15, 0.1, "sleep job done")


def test_hard_timeout_terminates_the_task(live: Live) -> None:
    jid = job(live, task="pas.jobs.sleep", kwargs={"seconds": 6, "steps": 60}, timeout_s=1,
              resources={"cpu": 1}).json()["job_id"]  # fmt: skip
    wait_until(lambda: state(live, jid)["status"] == "timeout", 10, 0.1, "timeout")
    # the job's state is written first (who wins the race), its reservations a moment later
    wait_until(lambda: reservation_status(live, jid) == "killed", 2, 0.05, "reservation killed")
    progress = state(live, jid)["progress"]
    # the task is really gone: no progress after the kill, and it never completes
    time.sleep(2)
    assert state(live, jid)["progress"] == progress and state(live, jid)["status"] == "timeout"
    events = [json.loads(e) for e in live.app.extensions["pas"].events.recent(500)]
    assert any(e["event_type"] == "alert" and e["data"].get("job_id") == jid
               and e["data"]["alert_type"] == "job_timeout" for e in events)  # fmt: skip


def test_kill_revokes_a_running_job(live: Live) -> None:
    jid = job(live, task="pas.jobs.sleep", kwargs={"seconds": 8, "steps": 80}, resources={"mem_mb": 128}).json()[
        "job_id"
    ]
    wait_until(lambda: state(live, jid)["progress"] > 0, 10, 0.1, "job running")
    r = requests.post(live.url("resource-manager", "/kill"), json={"job_id": jid, "reason": "test"}, timeout=5)
    assert r.status_code == 200 and len(r.json()["killed_reservations"]) == 1
    assert state(live, jid)["status"] == "killed"
    progress = state(live, jid)["progress"]
    time.sleep(1.5)
    assert state(live, jid)["progress"] == progress  # the worker child was terminated


def test_denied_and_unknown_tasks(live: Live) -> None:
    denied = job(live, task="pas.jobs.echo", resources={"cpu": 1000})
    assert denied.status_code == 409 and denied.json()["error"] == "quota_exceeded"
    assert state(live, denied.json()["job_id"])["status"] == "denied"
    unknown = job(live, task="os.system", args=["rm -rf /"])
    assert unknown.status_code == 422 and unknown.json()["field"] == "task"
    assert requests.get(live.url(None, "/jobs/nope"), timeout=5).status_code == 404


def test_a_job_whose_pool_child_is_killed_runs_again(live: Live) -> None:
    """RELIABILITY C1 — acks_late + reject_on_worker_lost: kill -9 of the pool child mid-task requeues the job,
    which runs again and succeeds within 15 s of the kill. Its side effects, keyed by the job id (the final event's
    once-marker, the reservation's compare-and-set release), are applied once, counted in the event stream."""
    import os
    import signal
    from collections import Counter

    celery = live.app.extensions["celery"]
    events = live.app.extensions["pas"].events
    since = events.last_seq()
    jid = job(live, task="pas.jobs.sleep", kwargs={"seconds": 2, "steps": 20}, resources={"cpu": 1}).json()["job_id"]
    wait_until(lambda: state(live, jid)["progress"] > 0, 10, 0.05, "job running")

    def child_pid() -> int | None:
        for tasks in (celery.control.inspect(timeout=0.5).active() or {}).values():
            for t in tasks:
                if t["id"] == jid:
                    return int(t["worker_pid"])
        return None

    pid = wait_until(child_pid, 10, 0.1, "the pool child running the job")
    assert state(live, jid)["status"] == "running"
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: state(live, jid)["status"] == "succeeded", 15, 0.1, "the job rerun to success")
    print(f"C1: the job succeeded {time.monotonic() - killed:.1f} s after its pool child was killed")
    done = state(live, jid)
    assert done["attempts"] == 2 and done["result"] == {"slept_s": 2}
    assert reservation_status(live, jid) == "released"

    def side_effects() -> Counter[str]:
        mine = [json.loads(e) for e in events.after(since, 10_000)]
        return Counter(e["event_type"] for e in mine if e["data"].get("job_id") == jid
                       and e["event_type"] in ("job_started", "job_completed", "reservation_released"))  # fmt: skip

    wait_until(lambda: side_effects()["reservation_released"], 2, 0.05, "the release's event")
    time.sleep(0.5)  # a second settling would land now
    assert side_effects() == {"job_started": 2, "job_completed": 1, "reservation_released": 1}

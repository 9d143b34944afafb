"""RELIABILITY 4.3: the Celery job platform under faults, on real processes (a private Valkey, beat, a system-queue
worker, job workers) with a 10 s visibility timeout. A job's side effects are what PAS records once per job id —
its final event and its reservation's release — counted in the event stream; `unacked` counts the job messages in
the broker's `unacked` hash (the system worker's sweeps share it)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import requests

import tasks.jobs
from app.celery_dispatch import DelayTooLong
from app.domain.jobs.service import MAX_ATTEMPTS
from tests.celery_stack import VISIBILITY_TIMEOUT_S, Stack, celery_stack, wait_ready
from tests.faults import TcpProxy, kill9, restart_valkey
from tests.support import Proc, wait_until

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[Stack]:
    with celery_stack(tmp_path_factory.mktemp("celery-faults"), database_url) as s:
        yield s


@pytest.fixture(scope="module")
def proxy(stack: Stack) -> Iterator[TcpProxy]:
    p = TcpProxy.to_redis(stack.settings.effective_redis_url)
    yield p
    p.close()


@dataclass
class Killed:
    """A job worker killed with -9 while it ran two jobs; a new worker (through the proxy) took its place."""

    since: int
    rerun: str  # its timeout is past the visibility timeout: the broker hands it to the new worker
    lost: str  # its timeout is shorter: the reconciler reports it before the broker hands it out again
    cut_short: str  # its worker died after the job's end was written in SQL, before its release and event
    killed_at: float
    worker: Proc  # the new one, which the later tests use


@pytest.fixture(scope="module")
def killed(stack: Stack, proxy: TcpProxy) -> Killed:
    first = stack.worker("jobs", concurrency=3, ready=False)
    assert stack.system is not None
    wait_ready(stack.system)
    wait_ready(first)
    since = stack.head()
    rerun = stack.submit("pas.jobs.sleep", kwargs={"seconds": 2, "steps": 20}, timeout_s=60)
    lost = stack.submit("pas.jobs.sleep", kwargs={"seconds": 30, "steps": 300}, timeout_s=4)
    cut_short = stack.submit("pas.jobs.sleep", kwargs={"seconds": 30, "steps": 300}, timeout_s=60)
    jobs = (rerun, lost, cut_short)
    wait_until(lambda: all(stack.job(j)["progress"] > 0 for j in jobs), 15, 0.05, "all three running")
    stack.store().transition(cut_short, ["running"], status="succeeded", result='{"slept_s": 30}', progress=1.0,
                             finished_ms=int(time.time() * 1000))  # fmt: skip
    kill9(first)
    killed_at = time.monotonic()
    worker = stack.worker("jobs", concurrency=20, redis_url=proxy.url(), ready=False)
    return Killed(since, rerun, lost, cut_short, killed_at, worker)


def side_effects(stack: Stack, since: int, jobs: list[str]) -> dict[str, tuple[int, int]]:
    """Per job: how many completions and reservation releases the stream holds."""
    counts = stack.job_events(since)
    return {j: (counts[("job_completed", j)], counts[("reservation_released", j)]) for j in jobs}


def test_a_job_whose_message_the_broker_lost_is_dispatched_again_and_runs_once(stack: Stack) -> None:
    """RELIABILITY C6: a queued job's message gone from the broker (as a Valkey killed between a worker's pop and
    kombu's write to `unacked` loses it) is found missing by the reconciler and dispatched again under a new task
    id; the old message, turning up after all, is dropped: the job runs once. Runs before any job worker exists,
    so the message waits where the test can take it."""
    assert stack.system is not None
    wait_ready(stack.system)
    since = stack.head()
    job = stack.submit("pas.jobs.sleep", kwargs={"seconds": 0.2, "steps": 1})
    wait_until(lambda: job in stack.queued_ids(), 5, 0.05, "its message waiting")
    [(name, raw)] = [(n, m) for n in stack.queue_lists() for m in stack.redis.lrange(n, 0, -1)
                     if json.loads(m)["headers"]["id"] == job]  # fmt: skip
    assert stack.redis.lrem(name, 1, str(raw)) == 1  # lost (the client decodes: raw is a str)
    again = lambda: [t for t in stack.queued_ids() if t.startswith(f"{job}.")]  # noqa: E731
    wait_until(again, 30, 0.2, "the job dispatched again")
    assert stack.status(job) == "queued" and len(again()) == 1
    stack.redis.rpush(name, raw)  # the lost message turns up, first in line
    worker = stack.worker("lost")
    try:
        wait_until(lambda: stack.status(job) == "succeeded", 20, 0.1, "the job ran")
        wait_until(lambda: stack.unacked() == 0 and stack.queued() == 0, 10, 0.1, "both messages consumed")
        assert stack.job(job)["attempts"] == 1
        assert worker.output().count("job_stale_message") == 1
        wait_until(lambda: side_effects(stack, since, [job]) == {job: (1, 1)}, 2, 0.05, "once")
        assert stack.job_events(since)[("job_started", job)] == 1
    finally:
        worker.stop()


def test_a_job_whose_worker_was_killed_runs_on_a_new_worker(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C2: kill -9 of the whole worker mid-job (visibility timeout 10 s), a new worker started: the
    job reaches `succeeded` within 25 s, its side effects once, and no job message is left in `unacked`."""
    wait_until(lambda: stack.status(killed.rerun) == "succeeded", 25, 0.1, "the job run again to success")
    assert time.monotonic() - killed.killed_at < 25
    done = stack.job(killed.rerun)
    assert done["attempts"] == 2 and done["result"] == {"slept_s": 2}
    wait_until(lambda: stack.unacked() == 0 and stack.queued() == 0, 5, 0.1, "both messages consumed")
    wait_until(lambda: side_effects(stack, killed.since, [killed.rerun]) == {killed.rerun: (1, 1)}, 2, 0.05, "once")


def test_a_job_whose_end_was_cut_short_is_settled_by_its_next_delivery(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C2, C6: the worker died after the job's end was written (SQL) and before its reservation was
    released and its event written (Redis): the job's next delivery does not run it again, it settles it — the
    release and the `job_completed` event, once."""
    wait_until(lambda: stack.unacked() == 0 and stack.queued() == 0, 20, 0.1, "its message handed out again")
    done = stack.job(killed.cut_short)
    assert (done["status"], done["attempts"]) == ("succeeded", 1)
    wait_until(lambda: side_effects(stack, killed.since, [killed.cut_short]) == {killed.cut_short: (1, 1)}, 2, 0.05,
               "settled once")  # fmt: skip


def test_a_job_whose_worker_vanished_is_reported_not_left_running(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C4: the job's own timeout (4 s) runs out before the broker hands it out again, and the
    reconciler (beat) ends it `timeout` with an alert: never silently `running`. Its message, handed to the new
    worker later (C2's wait), is acknowledged without running the job again."""
    wait_until(lambda: stack.status(killed.lost) == "timeout", 12, 0.1, "the reconciler ends the lost job")

    def alerts() -> list[str]:
        return [e["data"]["alert_type"] for e in stack.events(killed.since)
                if e["event_type"] == "alert" and e["data"].get("job_id") == killed.lost]  # fmt: skip

    wait_until(alerts, 2, 0.05, "the job's alert")  # the state is written first, its events right after
    assert alerts() == ["job_timeout"]
    assert stack.job(killed.lost)["error"] == "hard timeout of 4s"
    wait_until(lambda: stack.unacked() == 0 and stack.queued() == 0, 15, 0.1, "its message consumed")
    assert stack.job(killed.lost)["attempts"] == 1
    counts = stack.job_events(killed.since)
    assert (counts[("job_killed", killed.lost)], counts[("reservation_killed", killed.lost)]) == (1, 1)


def test_a_poison_job_is_failed_after_its_redeliveries(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C3: a job whose process dies every time it runs (the pool child killed, as by a segfault or the
    OOM killer) is handed out again each time (reject_on_worker_lost), MAX_ATTEMPTS times; the next delivery fails
    it, visibly in the jobs API and the HMI's sequencer; then no delivery is left: no infinite loop."""
    wait_ready(killed.worker)
    since = stack.head()
    poison = stack.submit_trusted("tests.jobs.die")
    wait_until(lambda: stack.status(poison) == "failed", 30, 0.1, "the poison job failed")
    done = stack.job(poison)
    assert done["attempts"] == MAX_ATTEMPTS + 1
    assert done["error"] == f"redelivered {MAX_ATTEMPTS} times (its worker kept dying)"
    seq = requests.get(f"{stack.base}/api/sequencer", timeout=10).json()["tasks"]
    assert [t["status"] for t in seq if t["task_id"] == poison] == ["failed"]
    wait_until(lambda: stack.job_events(since)[("job_failed", poison)] == 1, 2, 0.05, "its job_failed event")
    assert stack.job_events(since)[("job_started", poison)] == MAX_ATTEMPTS
    wait_until(lambda: stack.unacked() == 0 and stack.queued() == 0, 5, 0.1, "no delivery left")
    time.sleep(1)
    assert stack.job(poison)["attempts"] == MAX_ATTEMPTS + 1


def test_a_countdown_past_the_visibility_timeout_is_refused_at_the_call_site(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C5 (celery#2599): a countdown or ETA that the visibility timeout would cut short is refused where
    the task is sent (send_task and apply_async alike) and never reaches the broker; a short one runs once."""
    celery = stack.app.extensions["celery"]
    queue = stack.settings.work_queue
    with pytest.raises(DelayTooLong):
        celery.send_task("pas.jobs.echo", args=["late"], queue=queue, countdown=11)
    with pytest.raises(DelayTooLong):
        celery.send_task("pas.jobs.echo", queue=queue, eta=datetime.now(UTC) + timedelta(seconds=60))
    with pytest.raises(DelayTooLong):
        tasks.jobs.echo.apply_async(queue=queue, countdown=3600)
    assert stack.queued() == 0 and stack.unacked() == 0
    sent = celery.send_task("pas.jobs.echo", args=["soon"], queue=queue, countdown=1).id
    wait_until(lambda: f"pas.jobs.echo[{sent}] succeeded" in killed.worker.output(), 15, 0.1, "the short one ran")
    wait_until(lambda: stack.unacked() == 0, 5, 0.1, "acknowledged")
    assert killed.worker.output().count(f"pas.jobs.echo[{sent}] received") == 1


def test_a_dropped_redis_connection_runs_no_job_twice(stack: Stack, killed: Killed, proxy: TcpProxy) -> None:
    """RELIABILITY C9: the job worker's Redis connection (broker and stores) dropped for 3 s while late-acked jobs
    run: the worker cancels them, the broker hands them out again after the visibility timeout, and each job's
    side effects happen once."""
    since = stack.head()
    jobs = [stack.submit("pas.jobs.sleep", kwargs={"seconds": 2 + i % 3, "steps": 20}) for i in range(8)]
    wait_until(lambda: all(stack.job(j)["progress"] > 0 for j in jobs), 15, 0.05, "all running")
    with proxy.dropped(3.0):
        pass
    wait_until(lambda: all(stack.status(j) == "succeeded" for j in jobs), 30, 0.2, "all succeeded")
    wait_until(lambda: stack.unacked() == 0, 5, 0.1, "unacked empty")
    wait_until(lambda: set(side_effects(stack, since, jobs).values()) == {(1, 1)}, 2, 0.05, "each once")


def test_queued_jobs_survive_valkey_killed_and_restarted_from_its_aof(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C6: 200 jobs queued (a worker taking them 20 at a time), Valkey killed with -9 and started again
    on its append-only file: all 200 run to `succeeded`, each job's side effects once — also for the jobs whose
    ending the outage cut short (settled by their next delivery), and for a job whose message the kill caught in
    kombu's pop-to-unacked gap (gone from the broker: the reconciler, on the beat that rode out the outage,
    dispatches it again)."""
    since = stack.head()
    jobs = [stack.submit("pas.jobs.sleep", kwargs={"seconds": 0.5, "steps": 1}) for _ in range(200)]
    restart_valkey(stack.valkey, down_s=1.0)
    try:
        wait_until(lambda: sum(stack.status(j) == "succeeded" for j in jobs) == 200, 40, 0.5, "all 200 succeeded")
    except AssertionError:
        left = {j: (c["status"], c["attempts"]) for j in jobs if (c := stack.job(j))["status"] != "succeeded"}
        raise AssertionError(f"not succeeded (status, attempts): {left}") from None
    wait_until(lambda: stack.unacked() == 0, 5, 0.1, "unacked empty")

    def not_once() -> dict[str, tuple[int, int]]:
        return {j: n for j, n in side_effects(stack, since, jobs).items() if n != (1, 1)}

    try:
        wait_until(lambda: not not_once(), 2, 0.1, "each job's side effects once")
    except AssertionError:
        raise AssertionError(f"not once (final events, releases): {not_once()}") from None


def test_sigterm_loses_no_in_flight_job(stack: Stack, killed: Killed) -> None:
    """RELIABILITY C7: SIGTERM to a worker (concurrency 20, prefetch 1) while it runs 20 jobs — each one started
    before the signal, so all 20 were in flight. The signal goes to the worker's main process, as `pas up` and
    `docker stop` send it (`pas worker` execs Celery). It finishes them before it exits (warm shutdown), or — a
    job whose store was out of reach meanwhile (SQLite locked by the 19 others on a busy machine) — puts the job's
    message back in the queue for the next worker: none lost, none run twice. The jobs run past the visibility
    timeout (10 s): a live worker renews what it holds, so none is handed out again meanwhile (nor restored to the
    queue while the worker finishes them)."""
    since = stack.head()
    jobs = [stack.submit("pas.jobs.sleep", kwargs={"seconds": VISIBILITY_TIMEOUT_S + 1, "steps": 22})
            for _ in range(20)]  # fmt: skip
    wait_until(lambda: all(stack.job(j)["progress"] > 0 for j in jobs), 20, 0.1, "all 20 running")
    signalled = time.time()
    killed.worker.p.send_signal(signal.SIGTERM)
    wait_until(lambda: not killed.worker.alive(), 40, 0.1, "the worker exited")
    assert killed.worker.p.returncode == 0
    records = {j: stack.job(j) for j in jobs}
    at = lambda j, k: datetime.fromisoformat(records[j][k]).timestamp()  # noqa: E731
    assert all(at(j, "started_at") < signalled for j in jobs), signalled
    done = {j for j in jobs if records[j]["status"] == "succeeded"}
    requeued = set(stack.queued_ids())
    print(f"C7: {len(done)} jobs finished after SIGTERM, {len(requeued)} requeued")
    assert not done & requeued, f"{len(done & requeued)} jobs put back in the queue while they ran"
    assert done | requeued == set(jobs) and len(requeued) == stack.queued()
    assert all(at(j, "finished_at") > signalled for j in done)
    assert {records[j]["attempts"] for j in jobs} == {1}
    assert stack.unacked() == 0
    wait_until(lambda: side_effects(stack, since, jobs) == {j: (1, 1) if j in done else (0, 0) for j in jobs}, 2,
               0.05, "each finished job's once, none of a requeued one's")  # fmt: skip

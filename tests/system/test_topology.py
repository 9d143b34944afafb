"""The deployed topology (tests/topology_stack.py: two gunicorn webs, two workers, two beats, one Valkey).
One stack serves every case, in order, while tests/invariants.py records the registry and the resource manager
every 100 ms; the last case checks the invariants over the whole run."""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from tests.faults import kill9, restart_valkey
from tests.invariants import down_episodes, receipt_problems, violations
from tests.support import BIN, Proc, wait_until
from tests.topology_stack import SKEW_S, SWEEP, Topology, topology_stack
from tests.upstream import Step

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with topology_stack(tmp_path_factory.mktemp("topology")) as topo:
        yield topo


def broadcast(stack: Topology, web: str, nonce: str) -> None:
    r = requests.post(stack.url(web, "/api/event-stream/broadcast"), timeout=10,
                      json={"event_type": "topology_ping", "data": {"nonce": nonce}})  # fmt: skip
    assert r.status_code == 200, r.text


def reaches_both(stack: Topology, web: str, timeout: float = 5.0) -> None:
    nonce = uuid.uuid4().hex
    broadcast(stack, web, nonce)
    for lv in stack.live.values():
        wait_until(lambda lv=lv: lv.of("topology_ping", nonce=nonce), timeout, 0.02, f"{web}'s event on {lv.name}")


def test_socketio_events_cross_web_processes(stack: Topology) -> None:
    """An event caused through web A reaches a client on web B (and A's own), and the other way round: both
    web processes listen on the one Socket.IO message queue. Client A uses WebSocket, client B long-polling."""
    wait_until(lambda: stack.channel_subscribers() == 2, 10, 0.1, "both webs' Socket.IO listeners")
    reaches_both(stack, "a")
    reaches_both(stack, "b")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


# seq -> ms from the event's Redis time to when the dashboard applied it (window.PAS.applied: performance.now()
# when its effect was in the DOM); performance.timeOrigin makes that wall time, on this machine's one clock.
PAGE_LAG = """evs => evs.map(([seq, ts]) => seq in window.PAS.applied
    ? performance.timeOrigin + window.PAS.applied[seq] - Date.parse(ts) : null)"""


def test_s3_200_emits_from_a_worker_all_arrive(stack: Topology, browser: Any) -> None:
    """RELIABILITY S3: a job on a Celery worker reports progress 200 times (`pas.jobs.sleep`, steps=200); each
    report is an event the worker emits through the message queue. All 200 reach the clients on both webs and the
    HMI's dashboard in Chromium on web A (the job is posted through web B), with p99 < 500 ms from the event's
    Redis time to its arrival (in the browser: to its effect in the DOM)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.url("a", "/"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    card = {"agent": "topo", "task": "pas.jobs.sleep", "kwargs": {"seconds": 2.0, "steps": 200},
            "resources": {"cpu": 1}}  # fmt: skip
    r = requests.post(stack.url("b", "/jobs"), json=card, timeout=10)
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    wait_until(lambda: requests.get(stack.url("a", f"/jobs/{job_id}"), timeout=5).json()["status"] == "succeeded",
               30, 0.1, "the job")  # fmt: skip
    lags: dict[str, list[float]] = {}
    for lv in stack.live.values():
        wait_until(lambda lv=lv: len(lv.of("job_progress", job_id=job_id)) >= 200, 5, 0.05, f"200 on {lv.name}")
        got = lv.of("job_progress", job_id=job_id)
        assert len(got) == 200 and len({e["seq"] for _, e in got}) == 200
        lags[f"client {lv.name}"] = [(t - datetime.fromisoformat(e["ts"]).timestamp()) * 1000 for t, e in got]
    events = [[e["seq"], e["ts"]] for _, e in stack.live["a"].of("job_progress", job_id=job_id)]
    in_page = wait_until(lambda: (ms := page.evaluate(PAGE_LAG, events)) and None not in ms and ms, 5, 0.05,
                         "all 200 applied in the browser")  # fmt: skip
    lags["Chromium on web a"] = in_page
    context.close()
    for who, lag_ms in lags.items():
        print(f"S3 worker → {who}: {len(lag_ms)}/200, p50 {sorted(lag_ms)[99]:.1f} ms, p99 {p99(lag_ms):.1f} ms")
    assert {who: p99(lag_ms) < 500 for who, lag_ms in lags.items()} == dict.fromkeys(lags, True), lags


def test_l7_skewed_web_clocks_do_not_flap(stack: Topology) -> None:
    """RELIABILITY L7: web A's clock is 30 s ahead, web B's 30 s behind (their OpenAI /v1/models stamps say so);
    10 services beat every 0.8 s (interval 1 s) through A and B in turn for 10 s: no `service_down`, and both
    webs see every one `ok` — liveness is decided on the Redis clock only."""
    for web, skew in SKEW_S.items():
        created = requests.get(stack.url(web, "/v1/models"), timeout=5).json()["data"][0]["created"]
        assert abs(created - time.time() - skew) < 10, (web, created - time.time())
    ids = [f"skew-{i}" for i in range(10)]
    sessions = {web: requests.Session() for web in SKEW_S}
    first_seq = requests.get(stack.url("a", "/api/event-stream/events?after=0&limit=1"), timeout=5).json()["last_seq"]
    for i, sid in enumerate(ids):
        web = "ab"[i % 2]
        body = {"service_id": sid, "name": sid, "type": "tool", "role": "production", "url": "http://x:1",
                "caps": ["c"], "heartbeat_interval_s": 1}  # fmt: skip
        sent = time.monotonic()
        r = sessions[web].post(stack.url(web, "/api/registry/register"), json=body, timeout=5)
        stack.recorder.beat(sid, sent, r.status_code in (200, 201))
        assert r.status_code in (200, 201), r.text
    started = time.monotonic()
    rounds = 0
    while time.monotonic() - started < 10:
        for i, sid in enumerate(ids):
            web = "ab"[(i + rounds) % 2]  # every service alternates between the two webs
            sent = time.monotonic()
            r = sessions[web].put(stack.url(web, "/api/registry/heartbeat"), json={"service_id": sid}, timeout=5)
            stack.recorder.beat(sid, sent, r.status_code == 200)
            assert r.status_code == 200, r.text
        rounds += 1
        time.sleep(max(0.0, started + rounds * 0.8 - time.monotonic()))
    for web in SKEW_S:
        items = sessions[web].get(stack.url(web, "/api/registry/services"), timeout=5).json()["items"]
        assert {i["service_id"]: i["status"] for i in items if i["service_id"] in ids} == dict.fromkeys(ids, "ok")
    events = requests.get(stack.url("a", f"/api/event-stream/events?after={first_seq}&limit=10000"), timeout=5)
    downs = [e for e in events.json()["events"] if e["event_type"] == "alert"
             and e["data"].get("alert_type") == "service_down" and e["data"].get("service_id") in ids]  # fmt: skip
    assert downs == []
    for sid in ids:  # gone on purpose, so they do not die later in the run
        assert sessions["a"].post(stack.url("a", "/api/registry/deregister"), json={"service_id": sid}, timeout=5).ok


LOCK = re.compile(r"\. lock -> `([^`]+)` .*\((\d+)s\)")  # beat's banner: RedBeat's lock key and timeout


def test_c8_two_beats_sweep_once(stack: Topology) -> None:
    """RELIABILITY C8: two beat processes: only the RedBeat lock holder schedules, so the heartbeat sweep runs
    about once per interval (1 s) since the stack came up, not twice. Then the holder is killed (-9, its lock left
    to expire) and a replacement started (as a restart policy would): another beat takes the lock and the sweeps
    resume within the configured lock timeout (+ one tick), and go on once per tick from that one beat alone."""
    elapsed = time.monotonic() - stack.ready_at
    sent = stack.sweeps_sent() - stack.sweeps_at_ready
    print(f"C8: {sent} sweeps sent in {elapsed:.1f} s by two beats")
    assert elapsed - 3 <= sent <= elapsed + 2
    [holder] = [b for b in stack.beats if "beat: Acquired lock" in b.output()]
    [standby] = [b for b in stack.beats if b is not holder]
    assert SWEEP not in standby.output()
    found = LOCK.search(holder.output())
    assert found, holder.output()[-2000:]
    key, timeout_s = found[1], int(found[2])
    token = stack.redis.get(key)
    assert token and 0 < stack.redis.pttl(key) <= timeout_s * 1000  # held, and kept alive by the holder
    kill9(holder)
    killed = time.monotonic()
    holder.p.wait(10)
    stack.beats.remove(holder)
    stack.retired.append(holder)
    replacement = Proc("beat-3", [str(BIN / "pas"), "beat"], stack.env, stack.logs)
    stack.procs.append(replacement)
    stack.beats.append(replacement)
    wait_until(lambda: any(SWEEP in b.output() for b in stack.beats), timeout_s + 5, 0.05, "a sweep by another beat")
    took = time.monotonic() - killed
    [taker] = [b for b in stack.beats if SWEEP in b.output()]
    print(f"C8: {taker.name} took over {took:.1f} s after the holder was killed (lock timeout {timeout_s} s)")
    assert took <= timeout_s + 1.5
    assert "beat: Acquired lock" in taker.output() and stack.redis.get(key) not in (None, token)
    wait_until(lambda: "beat: Starting" in replacement.output(), 30, 0.1, "the replacement beat")
    since, started = {b.name: b.output().count(SWEEP) for b in stack.beats}, time.monotonic()
    time.sleep(5)
    window = time.monotonic() - started
    sent_by = {b.name: b.output().count(SWEEP) - since[b.name] for b in stack.beats}
    print(f"C8: sweeps in the {window:.1f} s after the takeover: {sent_by}")
    assert 0.6 * window <= sent_by.pop(taker.name) <= window + 1  # about one per tick (a busy beat's drift late)
    assert set(sent_by.values()) == {0}  # the other one waits


def test_s4_valkey_restart_webs_resubscribe(stack: Topology) -> None:
    """RELIABILITY S4: Valkey stopped for 8 s and started again (same port, same append-only file): an event
    broadcast after that reaches the clients of both webs within 2.5 s of Valkey being back (each web's listener
    redials every 0.2-1 s), and PUBSUB NUMSUB for the Socket.IO channel is then exactly 2, the number of web
    processes: no listener left behind, none counted twice (python-socketio #1581)."""
    assert stack.channel_subscribers() == 2
    restart_valkey(stack.valkey, down_s=8.0, kill=False)
    back = time.monotonic()

    def heard_by_both() -> bool:
        nonce = uuid.uuid4().hex
        broadcast(stack, "a", nonce)
        deadline = time.monotonic() + 0.25
        while time.monotonic() < deadline:
            if all(lv.of("topology_ping", nonce=nonce) for lv in stack.live.values()):
                return True
            time.sleep(0.02)
        return False

    wait_until(heard_by_both, 10, 0, "an event after the restart on both webs' clients")
    took = time.monotonic() - back
    wait_until(lambda: stack.channel_subscribers() == 2, 10 - took, 0.05, "NUMSUB = 2")
    print(f"S4: both webs' clients hear new events {took:.2f} s after Valkey is back")
    assert took < 2.5
    reaches_both(stack, "b")
    assert stack.channel_subscribers() == 2
    assert [p.name for p in [*stack.webs.values(), *stack.workers, *stack.beats] if not p.alive()] == []


def job(stack: Topology, web: str, seconds: float) -> requests.Response:
    card = {"agent": "topo", "task": "pas.jobs.sleep", "kwargs": {"seconds": seconds, "steps": 3},
            "resources": {"cpu": 1}, "timeout_s": 120}  # fmt: skip
    return requests.post(stack.url(web, "/jobs"), json=card, timeout=10)


def test_c2_worker_killed_mid_job_the_other_finishes_it(stack: Topology) -> None:
    """RELIABILITY C2 in the topology: four jobs of cpu 1 against a capacity of 2 → two run, two are refused
    (409). kill -9 the worker running the first: acks_late keeps its message unacknowledged, and after the
    visibility timeout (10 s) the other worker takes it again and finishes it (attempt 2)."""
    answers = [job(stack, "ab"[i % 2], 3.0) for i in range(4)]
    assert sorted(r.status_code for r in answers) == [201, 201, 409, 409], [r.text for r in answers]
    accepted = [r.json()["job_id"] for r in answers if r.status_code == 201]
    target = accepted[0]
    wait_until(lambda: requests.get(stack.url("a", f"/jobs/{target}"), timeout=5).json()["status"] == "running",
               15, 0.05, "the job running")  # fmt: skip
    victim = next(w for w in stack.workers if f"pas.jobs.run[{target}] received" in w.output())
    kill9(victim)
    killed = time.monotonic()
    victim.p.wait(10)

    def finished() -> bool:
        return all(
            requests.get(stack.url("a", f"/jobs/{j}"), timeout=5).json()["status"] == "succeeded" for j in accepted
        )

    wait_until(finished, 40, 0.2, "both jobs finished by the surviving worker")
    print(f"C2: the killed worker's job finished {time.monotonic() - killed:.1f} s after the kill")
    record = requests.get(stack.url("b", f"/jobs/{target}"), timeout=5).json()
    assert record["attempts"] >= 2
    survivor = next(w for w in stack.workers if w is not victim)
    assert f"pas.jobs.run[{target}] received" in survivor.output()
    cpu = requests.get(stack.url("a", "/api/resource-manager/quotas"), timeout=5).json()["quotas"]["cpu"]
    assert cpu["allocated"] == 0


def chat(stack: Topology, web: str, request_id: str) -> requests.Response:
    return requests.post(stack.url(web, "/v1/chat/completions"), headers={"X-Request-Id": request_id}, timeout=10,
                         json={"model": "topo-mock", "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip


def test_g1_web_killed_mid_gateway_call_leaves_a_receipt(stack: Topology) -> None:
    """RELIABILITY G1 in the topology: calls through both webs succeed with one receipt each; then web B is
    killed (-9) while its call waits on the upstream. The pending receipt it wrote before calling is closed by
    the sweeper (beat → the surviving worker) as `interrupted` once its deadline (timeout 2 s + grace 1 s) passed."""
    for i in range(6):
        rid = f"ok-{i}-{uuid.uuid4().hex[:6]}"
        r = chat(stack, "ab"[i % 2], rid)
        assert r.status_code == 200, r.text
        stack.recorder.gateway_ok(rid)
    up = stack.upstream
    up.reset(Step(delay_s=5.0), default=Step(delay_s=0.05))
    doomed = f"doomed-{uuid.uuid4().hex[:6]}"
    answered: list[object] = []

    def call() -> None:
        try:
            answered.append(chat(stack, "b", doomed).status_code)
        except requests.RequestException as exc:
            answered.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_until(lambda: len(up.requests) >= 1, 10, 0.01, "the call reaching the upstream")
    kill9(stack.webs["b"])
    stack.webs["b"].p.wait(10)
    caller.join(15)
    assert len(answered) == 1 and isinstance(answered[0], requests.ConnectionError), answered

    def closed() -> dict[str, Any] | None:
        receipts = requests.get(stack.url("a", "/api/gateway/receipts/default"), timeout=5).json()["receipts"]
        return next((r for r in receipts if r["request_id"] == doomed), None)

    receipt = wait_until(closed, 20, 0.2, "the interrupted call's receipt")
    assert receipt["status"] == "interrupted"
    assert stack.redis.hlen(f"{stack.prefix}:gateway:pending") == 0


def test_invariants_over_the_whole_run(stack: Topology) -> None:
    """tests/invariants.py over everything above: never over capacity, no `down → up` without a heartbeat,
    every transition and job state change emitted once, one receipt per 2xx call, no event delivered twice."""
    history = stack.recorder.stop()
    costs = stack.artifacts / "costs" / "default.jsonl"
    jsonl = [json.loads(x) for x in costs.read_text().splitlines() if x.strip()] if costs.exists() else []
    print(f"invariants: {len(history.samples)} samples ({stack.recorder.failed_reads} failed reads), "
          f"{len(history.events)} events, {len(history.beats)} beats, {len(history.receipts)} receipts")  # fmt: skip
    assert violations(history) == []
    # nothing in this run had reason to go down: not the skewed beats, not PAS's own (missing) model services
    assert down_episodes(history.samples) == Counter()
    assert receipt_problems(history.gateway_ok, jsonl) == []  # the JSONL has no dedup of its own: check it too
    assert len(history.samples) > 100 and len(history.events) > 200  # the checks above saw the whole run
    # one beat scheduled the whole time, Valkey's outage included (none then: it could not reach the lock)
    assert stack.sweeps_sent() - stack.sweeps_at_ready <= time.monotonic() - stack.ready_at + 2

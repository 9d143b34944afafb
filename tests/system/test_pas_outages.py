"""PAS's own outages under `pas up`, with 200 services heartbeating every second and 3 leases held by healthy
services: the web process stopped (SIGSTOP) for 5 s, and the embedded Valkey killed with -9. Either way it is
PAS that stopped hearing everyone, not the services that went away: nobody is deregistered, no lease expires,
everyone is back to `ok` soon after, and `pas up` keeps running (RELIABILITY L8, L9, decision 9)."""

from __future__ import annotations

import math
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests

from tests.support import (
    BIN,
    Proc,
    base_env,
    own_model_service,
    port_offset_with_free_ports,
    unique_prefix,
    wait_http,
    wait_until,
)

pytestmark = pytest.mark.system
N = 200
HOLDERS = 3


@dataclass
class Swarm:
    """200 services beating every second from 25 threads, the way agents do (a request waits while PAS is away)."""

    reg: str
    stop: threading.Event = field(default_factory=threading.Event)
    not_found: int = 0
    mark: float = math.inf  # after `mark` (monotonic), when PAS first took each service's beat
    first_taken: dict[str, float] = field(default_factory=dict)
    other_errors: list[str] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for k in range(25):
            t = threading.Thread(target=self._beat, args=([f"o{i}" for i in range(k, N, 25)],), daemon=True)
            t.start()
            self.threads.append(t)

    def _beat(self, ids: list[str]) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            started = time.monotonic()
            for sid in ids:
                try:
                    r = session.put(f"{self.reg}/heartbeat", json={"service_id": sid}, timeout=30)
                except requests.RequestException as exc:
                    self.other_errors.append(type(exc).__name__)
                    continue
                if r.status_code == 404:  # deregistered: an agent registers again, as the contract says
                    self.not_found += 1
                    session.post(f"{self.reg}/register", json=service(sid), timeout=30)
                elif r.status_code == 200:
                    if (now := time.monotonic()) > self.mark:
                        self.first_taken.setdefault(sid, now)
                else:
                    self.other_errors.append(str(r.status_code))
            self.stop.wait(max(0.0, 0.8 - (time.monotonic() - started)))

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(40)


def service(sid: str) -> dict:
    return {"service_id": sid, "name": sid, "type": "model", "role": "production", "url": "http://127.0.0.1:1",
            "caps": ["c"], "heartbeat_interval_s": 1}  # fmt: skip


@dataclass
class Pas:
    proc: Proc
    offset: int

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{port + self.offset}{path}"

    def pid(self, child: str) -> int:
        return int(re.findall(rf"started {child} \(pid (\d+)\)", self.proc.output())[-1])

    def events(self, after: int) -> list[dict]:
        out: list[dict] = []
        while True:
            body = requests.get(self.url(6102, f"/events?after={after}&limit=10000"), timeout=10).json()
            out += body["events"]
            if not body["events"]:
                return out
            after = body["events"][-1]["seq"]

    def head(self) -> int:
        return int(requests.get(self.url(6102, "/events?after=0&limit=1"), timeout=10).json()["last_seq"])

    def statuses(self) -> dict[str, str]:
        items = requests.get(self.url(6121, "/services"), timeout=10).json()["items"]
        # the swarm: not the catalogue's agents, not PAS's own model services (adapters, local models: they say
        # `degraded` without a key or a file, and their workers register them again after a restart)
        return {i["service_id"]: i["status"] for i in items if i["type"] != "agent" and not own_model_service(i)}


@pytest.fixture(scope="module")
def pas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pas]:
    tmp = tmp_path_factory.mktemp("outages")
    offset = port_offset_with_free_ports()
    env = base_env(
        PAS_ARTIFACTS_DIR=str(tmp / "artifacts"), PAS_PORT_OFFSET=str(offset), PAS_KEY_PREFIX=unique_prefix("out"),
        PAS_LOG_LEVEL="INFO", PAS_SELF_PRESERVATION_CAP_S="10",
    )  # fmt: skip
    env.pop("REDIS_URL", None)  # the embedded Valkey is part of what is under test
    proc = Proc("pas-up", [str(BIN / "pas"), "up", "--no-flower", "--workers", "2"], env, tmp)
    try:
        wait_http(f"http://127.0.0.1:{6100 + offset}/health", 60)
    except AssertionError:
        proc.stop()
        raise AssertionError(proc.output()[-4000:]) from None
    yield Pas(proc, offset)
    proc.send(signal.SIGINT)
    proc.stop(signal.SIGINT, 40)


@pytest.fixture(scope="module")
def swarm(pas: Pas) -> Iterator[Swarm]:
    reg = pas.url(6121, "")
    for i in range(N):
        assert requests.post(f"{reg}/register", json=service(f"o{i}"), timeout=10).status_code in (200, 201)
    s = Swarm(reg)
    s.start()
    wait_until(lambda: set(pas.statuses().values()) == {"ok"}, 20, 0.5, "all 200 ok")
    for i in range(HOLDERS):  # leases held by healthy services (beating: a slow registration may have let the
        # first ones go down before the swarm started, and a down holder's lease ends)
        body = {"job_id": f"lease-{i}-{time.time_ns()}", "agent": f"o{i}", "service_id": f"o{i}", "cpu": 0.1}
        assert requests.post(pas.url(6104, "/reserve"), json=body, timeout=10).status_code == 201
    time.sleep(2)
    assert active_leases(pas) == HOLDERS
    yield s
    s.close()


def active_leases(pas: Pas) -> int:
    body = requests.get(pas.url(6104, "/reservations?status=active&limit=1000"), timeout=10).json()
    return sum(1 for r in body["reservations"] if (r.get("service_id") or "").startswith("o"))


def monitor_story(events: list[dict]) -> str:
    """What the monitor said about itself, and when the first downs came: the clue when an outage test fails."""
    own = [
        f"{e['ts']} {e['data'].get('action')}: {e['data'].get('message') or ''}"
        for e in events
        if e["event_type"] == "alert" and e["data"].get("alert_type") == "self_preservation"
    ]
    downs = [e["ts"] for e in events if e["event_type"] == "alert" and e["data"].get("alert_type") == "service_down"]
    return f"monitor: {own}; {len(downs)} downs from {downs[:1]} to {downs[-1:]}"


def begin(pas: Pas, swarm: Swarm) -> int:
    """Where a case starts: the stream's head; the swarm's counts start again (a 404 from the registration phase or
    an earlier case is not this case's)."""
    swarm.not_found = 0
    swarm.other_errors.clear()
    return pas.head()


def assert_nothing_lost(pas: Pas, swarm: Swarm, since_seq: int) -> None:
    wait_until(lambda: set(pas.statuses().values()) == {"ok"}, 20, 0.5, "all 200 back to ok")
    events = pas.events(since_seq)
    deregistered = [e for e in events if e["event_type"] == "service_deregistered"]
    expired = [
        e for e in events if e["event_type"].startswith("reservation_") and e["event_type"] != "reservation_created"
    ]
    assert deregistered == [], (
        f"{len(deregistered)} services deregistered by PAS's own outage: {deregistered[:1]}; {monitor_story(events)}"
    )
    assert expired == [], f"{len(expired)} leases ended by PAS's own outage: {expired[:3]}"
    assert swarm.not_found == 0
    assert active_leases(pas) == HOLDERS
    assert len(pas.statuses()) == N


def test_web_stopped_for_5_s_deregisters_nobody_and_keeps_every_lease(pas: Pas, swarm: Swarm) -> None:
    """RELIABILITY L9: the web process stopped (SIGSTOP) for 5 s: everyone goes `down`, nobody is deregistered
    (self-preservation), no lease expires; after SIGCONT PAS has taken a beat of every one of the 200 — each `ok`
    again — within 2 intervals (2 s), and the sweeps that follow deregister none of the stragglers."""
    since = begin(pas, swarm)
    assert set(pas.statuses().values()) == {"ok"}, "the swarm does not keep its beats before the outage (overload?)"
    web = pas.pid("web")
    os.killpg(web, signal.SIGSTOP)
    time.sleep(5)
    swarm.first_taken.clear()
    swarm.mark = resumed = time.monotonic()
    os.killpg(web, signal.SIGCONT)
    # each service is `ok` again once PAS takes its next beat (a beat after `down` restores it): read on the
    # clients' side, so that no polling of the web slows the drain it measures
    wait_until(lambda: len(swarm.first_taken) == N, 4, 0.02, "a beat of every service taken")
    took = max(swarm.first_taken.values()) - resumed
    print(f"L9: all {N} services beating again {took:.2f} s after SIGCONT")
    assert took <= 2.0  # 2 intervals
    assert set(pas.statuses().values()) == {"ok"}
    time.sleep(max(0.0, resumed + 4 - time.monotonic()))  # the sweeps that follow must not deregister stragglers
    assert_nothing_lost(pas, swarm, since)
    assert swarm.other_errors == []  # the backlog waits for pool connections: no false 503


def test_valkey_killed_restarts_from_its_aof_and_nobody_notices(pas: Pas, swarm: Swarm) -> None:
    since = begin(pas, swarm)
    os.kill(pas.pid("valkey"), signal.SIGKILL)
    time.sleep(4)  # restarted with backoff; for a while the services' beats get 503
    wait_until(lambda: pas.proc.output().count("started valkey") >= 2, 20, 0.2, "valkey restarted by pas up")
    assert pas.proc.alive(), pas.proc.output()[-3000:]
    wait_http(pas.url(6100, "/health"), 20)
    time.sleep(4)
    assert_nothing_lost(pas, swarm, since)
    assert pas.proc.alive()


def test_valkey_frozen_past_three_intervals_gives_everyone_a_grace(pas: Pas, swarm: Swarm) -> None:
    """An outage of the store longer than three intervals: every service is past deregistration by the clock
    when the store answers again, and the first thing to reach it may be a service's own heartbeat."""
    since = begin(pas, swarm)
    valkey = pas.pid("valkey")
    os.kill(valkey, signal.SIGSTOP)
    print(f"valkey {valkey} stopped at {time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}")
    time.sleep(4.5)
    os.kill(valkey, signal.SIGCONT)
    print(f"valkey continued at {time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d}")
    time.sleep(3)
    assert_nothing_lost(pas, swarm, since)
    alerts = [e["data"] for e in pas.events(since) if e["event_type"] == "alert"]
    assert any(a.get("alert_type") == "self_preservation" and a.get("action") == "grace" for a in alerts)
    downs = [a for a in alerts if a.get("alert_type") == "service_down"]
    assert downs == [], f"{len(downs)} services marked down for the store's outage"

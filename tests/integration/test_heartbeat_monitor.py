"""Liveness: the miss ladder on the Redis clock, compare-and-set sweeps, self-preservation, alert history."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio
from flask import Flask

from app.factory import create_app, create_tables
from tests.integration.conftest import Live
from tests.integration.steady import DOWN_GAP_S
from tests.support import wait_until

REG, MON = "http://localhost:6121", "http://localhost:6109"


def reg_body(sid: str, interval: int = 1, **over):
    b = {"service_id": sid, "name": sid, "type": "model", "role": "experimental", "url": "http://x:1",
         "caps": ["infer"], "heartbeat_interval_s": interval}  # fmt: skip
    b.update(over)
    return b


def test_ten_of_thirty_die_and_the_rest_never_flap(live: Live) -> None:
    # L10: the store sends no keyspace notifications (PAS never asks for them): the bounds below hold without them
    assert live.redis.config_get("notify-keyspace-events")["notify-keyspace-events"] == ""
    s = requests.Session()
    ids = [f"l1-{i:02d}" for i in range(30)]
    for sid in ids:
        assert s.post(live.url("registry", "/register"), json=reg_body(sid), timeout=5).status_code == 201
    dying, living = ids[:10], ids[10:]
    stop = threading.Event()

    def beat_forever(sid: str) -> None:
        sess = requests.Session()
        while not stop.is_set():
            sess.put(live.url("registry", "/heartbeat"), json={"service_id": sid}, timeout=5)
            stop.wait(0.9 * random.uniform(0.8, 1.2))  # 0.9 s ± 20 %

    threads = [threading.Thread(target=beat_forever, args=(sid,), daemon=True) for sid in living]
    for t in threads:
        t.start()
    last = {}
    for sid in dying:
        s.put(live.url("registry", "/heartbeat"), json={"service_id": sid}, timeout=5)
        last[sid] = time.monotonic()
    down_at: dict[str, float] = {}
    gone_at: dict[str, float] = {}
    misses: dict[str, int] = {}
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and len(gone_at) < len(dying):
        items = {i["service_id"]: i for i in s.get(live.url("registry", "/services"), timeout=5).json()["items"]}
        now = time.monotonic()
        for sid in dying:
            if sid not in items:
                gone_at.setdefault(sid, now)
                down_at.setdefault(sid, now)
            else:
                # L3, sampled every ~50 ms: no beat, so never back up once down, and the miss count never drops
                assert sid not in down_at or items[sid]["status"] == "down", (sid, items[sid])
                assert items[sid]["missed_beats"] >= misses.get(sid, 0), (sid, items[sid], misses.get(sid))
                misses[sid] = items[sid]["missed_beats"]
                if items[sid]["status"] == "down":
                    down_at.setdefault(sid, now)
        for sid in living:
            assert items[sid]["status"] == "ok", f"{sid} flapped: {items[sid]}"
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    for sid in dying:
        assert down_at[sid] - last[sid] <= 3.0, (sid, down_at[sid] - last[sid])
        assert gone_at[sid] - last[sid] <= 4.0, (sid, gone_at[sid] - last[sid])

    # each transition emitted exactly once, in ladder order
    def all_alerts() -> list[dict]:
        return s.get(live.url("heartbeat-monitor", "/alerts"), params={"limit": 1000}, timeout=5).json()["alerts"]

    done = lambda: sum(a["alert_type"] == "service_deregistered" and a["service_id"] in dying for a in all_alerts())  # noqa: E731
    wait_until(lambda: done() == len(dying), 1.0, 0.05, "every deregistration alert")
    alerts = all_alerts()
    for sid in dying:
        mine = [(a["alert_type"], a["last_seen"]) for a in alerts if a["service_id"] == sid]
        # The final silence climbs the whole ladder once. On a loaded machine the gap between registering and
        # the first beat may itself pass an interval: that earlier silence earns its own single warning.
        final = max(seen for _, seen in mine)
        assert [t for t, seen in mine if seen == final] == ["heartbeat_miss", "service_down", "service_deregistered"]
        assert [t for t, seen in mine if seen != final] in ([], ["heartbeat_miss"]), (sid, mine)
    # a beat up to 20 % late may earn a warning, never a down
    assert not [a for a in alerts if a["service_id"] in living and a["alert_type"] != "heartbeat_miss"]


def test_reads_follow_the_clock_without_any_sweep(app: Flask) -> None:
    c = app.test_client()
    c.post(f"{REG}/register", json=reg_body("clock"))
    assert c.get(f"{REG}/services/clock").json["status"] == "ok"
    wait_until(lambda: c.get(f"{REG}/services/clock").json.get("status") == "down", 3, 0.02, "derived down")
    rec = c.get(f"{REG}/services/clock").json
    assert rec["missed_beats"] == 2
    assert c.get(f"{MON}/stats").json["down_services"] == 1
    wait_until(lambda: c.get(f"{REG}/services/clock").status_code == 404, 3, 0.02, "derived deregistration")
    assert c.get(f"{MON}/stats").json["total_services"] == 0
    # a late heartbeat settles what the clock decided, and does not resurrect
    assert c.put(f"{REG}/heartbeat", json={"service_id": "clock"}).status_code == 404
    kinds = [a["alert_type"] for a in c.get(f"{MON}/alerts").json["alerts"]]
    assert kinds == ["heartbeat_miss", "service_down", "service_deregistered"]


def test_heartbeat_after_down_restores_once(app: Flask) -> None:
    c = app.test_client()
    monitor = app.extensions["pas"].heartbeat_monitor
    c.post(f"{REG}/register", json=reg_body("rest", labels={"parent": "boss"}))
    time.sleep(2.1)
    monitor.sweep_once()
    assert c.get(f"{REG}/services/rest").json["status"] == "down"
    r = c.put(f"{REG}/heartbeat", json={"service_id": "rest", "status": "running"})
    assert r.status_code == 200
    assert c.get(f"{REG}/services/rest").json["status"] == "running"
    c.put(f"{REG}/heartbeat", json={"service_id": "rest"})
    alerts = c.get(f"{MON}/alerts?service_id=rest").json["alerts"]
    assert [a["action"] for a in alerts] == ["warning", "marked_down", "restored"]
    assert {a["parent"] for a in alerts} == {"boss"}
    only = c.get(f"{MON}/alerts?alert_type=heartbeat_restored&limit=1").json["alerts"]
    assert len(only) == 1 and only[0]["service_id"] == "rest"


def test_concurrent_sweeps_emit_each_transition_once(app: Flask) -> None:
    c = app.test_client()
    monitor = app.extensions["pas"].heartbeat_monitor
    for i in range(3):  # fewer than the self-preservation minimum
        c.post(f"{REG}/register", json=reg_body(f"cas-{i}"))
    c.post(f"{REG}/register", json=reg_body("cas-keep", interval=3600))
    stop = time.monotonic() + 4.2
    with ThreadPoolExecutor(6) as pool:

        def hammer() -> None:
            while time.monotonic() < stop:
                monitor.sweep_once()
                time.sleep(0.005)

        for f in [pool.submit(hammer) for _ in range(6)]:
            f.result()
    events = app.extensions["pas"].events.after(0, 10_000)
    transitions = [json.loads(e) for e in events]
    alerts = [(t["data"]["service_id"], t["data"]["alert_type"]) for t in transitions if t["event_type"] == "alert"]
    for i in range(3):
        mine = [a for sid, a in alerts if sid == f"cas-{i}"]
        assert mine == ["heartbeat_miss", "service_down", "service_deregistered"], mine
    seqs = [t["seq"] for t in transitions]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # gap-free
    assert c.get(f"{REG}/services/cas-keep").json["status"] == "ok"


def test_self_preservation_holds_mass_deregistration(make_settings) -> None:
    app = create_app(make_settings(pas_self_preservation_min_services=4, pas_self_preservation_cap_s=3.0),
                     serve_socketio=False)  # fmt: skip
    create_tables(app)
    c = app.test_client()
    monitor = app.extensions["pas"].heartbeat_monitor
    for i in range(6):
        c.post(f"{REG}/register", json=reg_body(f"sp-{i}"))
    c.post(f"{REG}/register", json=reg_body("sp-long", interval=3600))
    # everyone with a 1 s interval goes silent at once (PAS cut off from its agents)
    time.sleep(1.05)
    monitor.sweep_once()
    time.sleep(2.0)
    monitor.sweep_once()  # past three intervals: would deregister, but 6 of 7 are silent
    items = {i["service_id"]: i for i in c.get(f"{REG}/services").json["items"]}
    assert len(items) == 7
    assert items["sp-0"]["status"] == "down" and items["sp-0"]["suspect"] is True
    assert c.get(f"{MON}/stats").json["self_preservation"] is True
    held = c.get(f"{MON}/alerts?alert_type=self_preservation").json["alerts"]
    assert len(held) == 1 and held[0]["action"] == "held"
    # one agent comes back; the rest stay held until the cap runs out, then go
    assert c.put(f"{REG}/heartbeat", json={"service_id": "sp-0"}).status_code == 200
    wait_until(lambda: (monitor.sweep_once(), c.get(f"{REG}/services/sp-1").status_code == 404)[1], 5, 0.1,
               "deregistration after the cap")  # fmt: skip
    left = {i["service_id"] for i in c.get(f"{REG}/services").json["items"]}
    assert left == {"sp-0", "sp-long"}
    assert len(c.get(f"{MON}/alerts?alert_type=self_preservation").json["alerts"]) == 1


def test_a_mass_silence_again_while_the_last_hold_runs_out_is_held_from_its_own_start(make_settings) -> None:
    """Everyone silent, heard again, then silent again within the cap (a web process stalling twice): the second
    hold counts from its own start. It used to keep the first one's, so it had run out before anyone was three
    intervals silent, and everyone was deregistered."""
    app = create_app(make_settings(pas_self_preservation_min_services=4, pas_self_preservation_cap_s=3.0),
                     serve_socketio=False)  # fmt: skip
    create_tables(app)
    c = app.test_client()
    monitor = app.extensions["pas"].heartbeat_monitor
    ids = [f"again-{i}" for i in range(6)]
    for sid in ids:
        c.post(f"{REG}/register", json=reg_body(sid))
    c.post(f"{REG}/register", json=reg_body("again-long", interval=3600))
    t0 = time.monotonic()

    def sweep_until(t: float) -> None:
        while time.monotonic() - t0 < t:
            monitor.sweep_once()
            time.sleep(0.25)

    sweep_until(1.6)  # first silence: held
    for sid in ids:  # heard again: the hold now runs out one cap later
        assert c.put(f"{REG}/heartbeat", json={"service_id": sid}).status_code == 200
    sweep_until(2.6)
    sweep_until(5.1)  # silent again from 1.6 s: three intervals at 4.6 s; the first hold ended at ~4.2 s
    items = {i["service_id"]: i for i in c.get(f"{REG}/services").json["items"]}
    assert set(items) == {*ids, "again-long"}, "deregistered although most were silent at once"
    assert all(items[sid]["suspect"] for sid in ids)
    held = [a["action"] for a in c.get(f"{MON}/alerts?alert_type=self_preservation").json["alerts"]]
    assert held.count("held") == 2


def test_the_store_hearing_nothing_gives_a_grace_even_while_sweeps_were_away(make_settings) -> None:
    """Sweeps pause (beat restarting) while heartbeats are still written; then the store hears nothing for more
    than three intervals (Valkey stopped). That silence is PAS's: a grace, nobody deregistered. The grace used to
    be keyed on the gap in sweeps alone, given once per gap: the first one went to the sweep pause, none to the
    store's own outage, and everyone was deregistered."""
    app = create_app(make_settings(pas_monitor_blind_s=1.0), serve_socketio=False)
    create_tables(app)
    c = app.test_client()
    monitor = app.extensions["pas"].heartbeat_monitor
    for sid in ("deaf-a", "deaf-b"):  # fewer than self-preservation's minimum: only the grace can save them
        c.post(f"{REG}/register", json=reg_body(sid))
    monitor.sweep_once()
    stop = time.monotonic() + 1.6
    while time.monotonic() < stop:  # no sweeps; the heartbeats are written
        for sid in ("deaf-a", "deaf-b"):
            assert c.put(f"{REG}/heartbeat", json={"service_id": sid}).status_code == 200
        time.sleep(0.3)
    time.sleep(3.5)  # the store hears nothing at all
    monitor.sweep_once()
    assert {i["service_id"] for i in c.get(f"{REG}/services").json["items"]} == {"deaf-a", "deaf-b"}
    actions = [a["action"] for a in c.get(f"{MON}/alerts?alert_type=self_preservation").json["alerts"]]
    assert actions == ["grace"]


def test_alerts_reach_socketio_clients_from_the_celery_worker(live: Live) -> None:
    received: list[dict] = []
    client = socketio.Client(reconnection=False)
    connected: list[dict] = []
    client.on("connected", connected.append)
    client.on("event", received.append)
    client.connect(live.url(), transports=["websocket"], wait_timeout=10)
    try:
        wait_until(lambda: connected, 5, 0.05, "connected")
        assert connected[0]["last_seq"] >= 0
        requests.post(live.url("registry", "/register"), json=reg_body("sio-1"), timeout=5)
        wait_until(
            lambda: any(e["event_type"] == "alert" and e["data"]["service_id"] == "sio-1"
                        and e["data"]["alert_type"] == "service_down" for e in received),
            6, 0.05, "service_down over Socket.IO")  # fmt: skip
        down = next(e for e in received if e["event_type"] == "alert" and e["data"]["alert_type"] == "service_down"
                    and e["data"]["service_id"] == "sio-1")  # fmt: skip
        assert down["source"] == "heartbeat_monitor" and down["data"]["action"] == "marked_down"
        assert set(down) >= {"event_type", "seq", "ts", "source", "data", "server_timestamp"}
        seqs = [e["seq"] for e in received]
        assert seqs == sorted(seqs)
    finally:
        client.disconnect()


def test_alerts_are_appended_to_the_daily_jsonl(live: Live) -> None:
    requests.post(live.url("registry", "/register"), json=reg_body("jsonl-1"), timeout=5)
    folder = live.settings.artifacts_dir / "hmi" / "events"

    def lines() -> list[dict]:
        out = []
        for f in folder.glob("heartbeat_alerts_*.jsonl"):
            out += [json.loads(line) for line in f.read_text().splitlines()]
        return [x for x in out if x["service_id"] == "jsonl-1"]

    wait_until(lambda: len(lines()) == 3, 8, 0.1, "three JSONL lines")
    assert [x["action"] for x in lines()] == ["warning", "marked_down", "deregistered"]


def test_socketio_refuses_a_foreign_origin(live: Live) -> None:
    client = socketio.Client(reconnection=False)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(live.url(), transports=["websocket"], headers={"Origin": "http://evil.example"},
                           wait_timeout=5)  # fmt: skip
    finally:
        client.disconnect()


@pytest.mark.run_last  # the longer the rest of the run, the longer L2 is watched (at least 60 s in any case)
def test_l2_jittered_heartbeats_never_flap_over_the_whole_run(live: Live) -> None:
    steady = live.steady
    assert steady is not None
    time.sleep(max(0.0, steady.started + 60 - time.monotonic()))
    watched_s = time.monotonic() - steady.started
    steady.stop()
    items = {i["service_id"]: i for i in requests.get(live.url("registry", "/services"), timeout=5).json()["items"]}
    alerts_url = live.url("heartbeat-monitor", "/alerts")
    alerts = [a for sid in steady.ids for a in requests.get(alerts_url, timeout=5,
              params={"limit": "1000", "service_id": sid}).json()["alerts"]]  # fmt: skip
    downs = [a for a in alerts if a["alert_type"] != "heartbeat_miss"]
    # a `down` is a flap unless the service's own heartbeats really stopped (a starved test process) for 2 intervals
    flaps = [a for a in downs if steady.largest_gap_s[a["service_id"]] < DOWN_GAP_S]
    assert flaps == [], (watched_s, flaps, steady.largest_gap_s)
    assert watched_s >= 60 and all(items[sid]["status"] == "ok" for sid in steady.ids if sid not in
                                   {a["service_id"] for a in downs})  # fmt: skip

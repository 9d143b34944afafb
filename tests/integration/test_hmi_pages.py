"""The HMI's pages in real Chromium against the live app (real worker, beat, Socket.IO): sequencer, resources,
alerts, the dashboard's cards, the global settings; the topic rooms with the python-socketio client; the
facade's bad-input answers. Every page gets an agent-supplied `<img onerror>` and must render it inertly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import socketio
from flask import Flask

from tests.integration.conftest import SCREENSHOTS, Live
from tests.support import wait_until

EVIL = '<img src=x onerror="window.__xss=1;alert(1)">'
REG = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"], "heartbeat_interval_s": 3600}


@pytest.fixture
def page(live: Live, browser: Any) -> Iterator[Any]:
    """A fresh page that records console errors, page errors and dialogs (an XSS would open one)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    p = context.new_page()
    p.problems = []
    p.on("console", lambda m: p.problems.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: p.problems.append(str(e)))
    p.on("response", lambda r: p.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def on_dialog(dialog: Any) -> None:
        p.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    p.on("dialog", on_dialog)
    yield p
    assert p.evaluate("window.__xss") is None
    assert p.problems == []
    context.close()


def shot(live: Live, p: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def register(live: Live, **body: Any) -> str:
    r = requests.post(live.url("registry", "/register"), json={**REG, **body}, timeout=5)
    assert r.status_code == 201, r.text
    return str(r.json()["service_id"])


def test_sequencer_rows_by_tier_blocks_live_details_zoom_and_playhead(live: Live, page: Any) -> None:
    register(live, service_id="seq-lead", name="seq-lead", labels={"tier": 1})
    register(live, service_id="seq-evil", name=EVIL, labels={"tier": 2, "parent": "seq-lead"})
    page.goto(live.url(None, "/sequencer"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector('text.agent:text-is("seq-lead")', timeout=10_000)
    # a job for the evil agent appears live, grows while running and turns green when it succeeds
    card = {"agent": "seq-evil", "task": "pas.jobs.sleep", "kwargs": {"seconds": 1.0, "steps": 4}}
    r = requests.post(live.url(None, "/jobs"), json=card, timeout=10)
    assert r.status_code == 201, r.text
    jid = r.json()["job_id"]
    page.wait_for_selector(f'rect.block[data-task="{jid}"]', timeout=10_000)
    page.wait_for_selector(f'rect.block[data-task="{jid}"][fill="#2ecc71"]', timeout=15_000)
    labels = page.eval_on_selector_all("svg#timeline text.tier, svg#timeline text.agent",
                                       "ns => ns.map(n => n.textContent)")  # fmt: skip
    assert labels.index("tier 1") < labels.index("seq-lead") < labels.index("tier 2") < labels.index(EVIL)
    # details on click, inert (frozen on the last minute so the block holds still and is wide enough)
    page.uncheck("#follow")
    page.select_option("#range", "60")
    page.click(f'rect.block[data-task="{jid}"]')
    details = page.text_content("#details")
    assert jid in details and "seq-evil" in details and "succeeded" in details and "pas.jobs.sleep" in details
    page.select_option("#range", "900")
    page.check("#follow")
    # zoom halves and doubles the span
    span = page.evaluate("window.PAS.sequencer.spanMs")
    assert span == 900_000
    page.click("#zoom-in")
    assert page.evaluate("window.PAS.sequencer.spanMs") == span / 2
    page.click("#zoom-out")
    page.click("#zoom-in")
    # play at 100x: the replay starts at the left edge (the job is still ahead: faded) and runs ~100x real time
    page.select_option("#speed", "100")
    page.click("#play")
    assert page.is_checked("#follow") is False
    page.wait_for_selector(f'rect.block.future[data-task="{jid}"]', timeout=2_000)
    t0, p0 = time.monotonic(), page.evaluate("window.PAS.sequencer.playMs")
    time.sleep(1.0)
    t1, p1 = time.monotonic(), page.evaluate("window.PAS.sequencer.playMs")
    rate = (p1 - p0) / ((t1 - t0) * 1000)
    assert 50 < rate < 130, rate
    # it catches up with the present and follows "now" again (450 s at 100x: about 4.5 s)
    wait_until(lambda: page.is_checked("#follow"), 10, 0.1, "the playhead back at now")  # (CSP: no wait_for_function)
    page.wait_for_selector(f'rect.block[data-task="{jid}"]:not(.future)', timeout=2_000)
    shot(live, page, "sequencer")


def test_resources_page_shows_reservations_live(live: Live, page: Any) -> None:
    page.goto(live.url(None, "/resources"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector('#capacity .res[data-resource="cpu"]', timeout=10_000)
    rm = live.url("resource-manager", "/reserve")
    r = requests.post(rm, json={"job_id": "res-ui-1", "agent": EVIL, "cpu": 1, "mem_mb": 128}, timeout=5)
    assert r.status_code in (200, 201), r.text
    rid = r.json()["reservation_id"]
    row = page.wait_for_selector(f'#reservations tbody tr:has(td:text-is("{rid}"))', timeout=5_000)
    cells = [c.text_content() for c in row.query_selector_all("td")]
    assert cells[2] == "res-ui-1" and cells[3] == EVIL and cells[4] == "1" and cells[5] == "128"
    holding = page.wait_for_selector("#holdings tbody tr:has(td:text-is('1'))", timeout=5_000)
    assert holding.query_selector("td").text_content() == EVIL
    shot(live, page, "resources")
    rel = requests.post(live.url("resource-manager", "/release"), json={"reservation_id": rid}, timeout=5)
    assert rel.ok
    page.wait_for_selector(f'#reservations tbody tr:has(td:text-is("{rid}"))', state="detached", timeout=5_000)


def test_alerts_filter_and_acknowledge_audited(live: Live, page: Any) -> None:
    sid = register(live, service_id="alert-ui", name="alert-ui", heartbeat_interval_s=1)

    def down_alert() -> dict[str, Any] | None:
        q = {"service": "alert-ui", "alert_type": "service_down"}
        alerts = requests.get(live.url(None, "/api/alerts"), params=q, timeout=5).json()["alerts"]
        return alerts[-1] if alerts else None

    alert = wait_until(down_alert, 15, 0.2, "service_down for alert-ui")
    assert alert["severity"] == "critical" and alert["acknowledged"] is False
    page.goto(live.url(None, "/alerts"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.fill("#f-service", "alert-ui")
    row = f'#alerts tbody tr[data-seq="{alert["seq"]}"]'
    page.wait_for_selector(row, timeout=5_000)
    page.select_option("#f-severity", "info")  # filters apply on the server
    page.wait_for_selector(row, state="detached", timeout=5_000)
    page.select_option("#f-severity", "critical")
    page.wait_for_selector(row, timeout=5_000)
    assert page.is_visible("#banner")
    shot(live, page, "alerts")
    page.click(f"{row} button")
    page.wait_for_selector(row, state="detached", timeout=5_000)  # the default view lists open alerts
    page.select_option("#f-ack", "true")
    page.wait_for_selector(f"{row}.acked", timeout=5_000)
    acked = requests.get(live.url(None, "/api/alerts"), timeout=5,
                         params={"acknowledged": "true", "service": "alert-ui"}).json()["alerts"]  # fmt: skip
    assert any(a["seq"] == alert["seq"] and a["acknowledged_at"] for a in acked)
    audit = [json.loads(e) for e in live.app.extensions["pas"].events.recent(300)]
    assert any(e["event_type"] == "operator_action" and e["data"]["action"] == "ack_alert"
               and e["data"]["alert_seq"] == alert["seq"] for e in audit)  # fmt: skip
    # acknowledging again keeps the first acknowledgement
    ack = {"action": "ack_alert", "alert_seq": alert["seq"]}
    again = requests.post(live.url(None, "/api/action"), json=ack, timeout=5)
    assert again.status_code == 200
    requests.delete(live.url("registry", f"/deregister/{sid}"), timeout=5)


def test_dashboard_cards_show_context_holdings_and_current_job(live: Live, page: Any) -> None:
    sid = register(live, service_id="dash-card", name="dash-card", labels={"tier": 2})
    tg = requests.post(live.url("token-governor", "/track"), timeout=5,
                       json={"agent": "dash-card", "run_id": "dash", "ctx_used": 300, "ctx_limit": 1000})  # fmt: skip
    assert tg.ok, tg.text
    page.goto(live.url(None, "/"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    card = f'[data-service-id="{sid}"]'
    page.wait_for_selector(card, timeout=10_000)
    assert "300 / 1000" in page.text_content(card)
    assert page.is_visible("#system .card") and "host CPU" in page.text_content("#system")
    r = requests.post(live.url(None, "/jobs"), timeout=10, json={"agent": "dash-card", "task": "pas.jobs.sleep",
                      "kwargs": {"seconds": 3, "steps": 6}, "resources": {"cpu": 1, "mem_mb": 256}})  # fmt: skip
    assert r.status_code == 201, r.text
    page.wait_for_selector(f'{card} .job:has-text("pas.jobs.sleep")', timeout=10_000)
    page.wait_for_selector(f'{card}:has-text("mem 256 MB")', timeout=10_000)
    # every event shows in the feed, in seq order, newest first
    seqs = page.eval_on_selector_all("#feed li", "ns => ns.map(n => Number(n.dataset.seq))")
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(set(seqs))
    shot(live, page, "dashboard-cards")
    # per-agent pause from its card
    page.click(f"{card} button.mini")
    page.wait_for_selector(f"{card}.paused", timeout=5_000)
    assert sid in requests.get(live.url(None, "/api/control"), timeout=5).json()["paused_agents"]
    page.click(f"{card} button.mini")
    page.wait_for_selector(f"{card}:not(.paused)", timeout=5_000)


def test_settings_persist_and_throttle_sounds_and_narration(live: Live, page: Any) -> None:
    page.goto(live.url(None, "/"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    assert not page.is_checked("#sounds") and not page.is_checked("#narration")  # off by default
    assert page.input_value("#freq") == "0"
    page.check("#sounds")
    page.check("#narration")
    page.select_option("#freq", "10000")  # the next application of events is 10 s away
    bc = live.url("event-stream", "/broadcast")
    alert = {"event_type": "alert", "data": {"alert_type": "ui_test", "severity": "critical", "service_name": EVIL}}
    seq = requests.post(bc, json=alert, timeout=5).json()["seq"]
    wait_until(lambda: page.evaluate(f"window.PAS.events.includes({seq})"), 5, 0.05, "the event")  # it arrived ...
    time.sleep(1.0)
    assert page.query_selector(f'#feed li[data-seq="{seq}"]') is None  # ... and waits for the next tick
    page.select_option("#freq", "0")  # back to live: applied at once
    page.wait_for_selector(f'#feed li[data-seq="{seq}"]', timeout=2_000)
    # its tone and its sentence (other tests' alerts may share the batch: the rate limit lets one through)
    tones = [t for t in page.evaluate("window.PAS.sounds") if t["seq"] == seq]
    heard = [h for h in page.evaluate("window.PAS.heard") if h["seq"] == seq]
    assert [t["kind"] for t in tones] == ["critical"] and tones[0]["freq"] == 220
    assert len(heard) == 1 and heard[0]["sentence"] == f"Alert: ui test on {EVIL}."
    spoken = page.evaluate("window.PAS.spoken")
    assert len(spoken) >= 1
    # rate-limited: a burst of alerts right after is no new sentence (one per 4 s)
    for _ in range(5):
        requests.post(bc, json=alert, timeout=5)
    time.sleep(1.0)
    assert len(page.evaluate("window.PAS.spoken")) == len(spoken)
    assert len([h for h in page.evaluate("window.PAS.heard") if not h["spoken"]]) >= 5
    page.reload()
    page.wait_for_selector("#conn.on", timeout=10_000)
    assert page.is_checked("#sounds") and page.is_checked("#narration") and page.input_value("#freq") == "0"
    page.uncheck("#sounds")
    page.uncheck("#narration")
    shot(live, page, "dashboard-settings")


def test_topic_rooms_deliver_only_what_a_page_subscribed_to(live: Live) -> None:
    got: dict[str, list[dict[str, Any]]] = {"costs": [], "all": []}
    clients = []
    for name in got:
        c = socketio.Client(reconnection=False)
        c.on("event", lambda env, n=name: got[n].append(env))
        subscribed: list[Any] = []
        c.on("subscribed", subscribed.append)
        c.connect(live.url(None, "/"), transports=["websocket"], wait_timeout=5)
        if name == "costs":
            c.emit("subscribe", {"topics": ["costs", "nonsense"]})
            wait_until(lambda s=subscribed: s, 5, 0.05, "subscribed")
            assert subscribed[0]["topics"] == ["costs"] and subscribed[0]["last_seq"] >= 0
        clients.append(c)
    try:
        bc = live.url("event-stream", "/broadcast")
        tick = requests.post(bc, json={"event_type": "rooms_tick", "data": {}}, timeout=5).json()["seq"]
        cost = requests.post(bc, json={"event_type": "cost_update", "data": {"x": 1}}, timeout=5).json()["seq"]
        wait_until(lambda: {tick, cost} <= {e["seq"] for e in got["all"]}, 5, 0.05, "everything for the default")
        wait_until(lambda: cost in {e["seq"] for e in got["costs"]}, 5, 0.05, "cost_update for the costs room")
        time.sleep(0.3)
        assert tick not in {e["seq"] for e in got["costs"]}
        assert [e["seq"] for e in got["costs"]].count(cost) == 1  # once, though it is in two rooms
    finally:
        for c in clients:
            c.disconnect()


def test_facade_bad_input_names_the_field(app: Flask) -> None:
    c = app.test_client()
    hmi = "http://localhost:6101"
    r = c.post(f"{hmi}/api/action", json={"action": "ack_alert"})
    assert r.status_code in (400, 422) and r.json["field"] == "alert_seq"
    r = c.post(f"{hmi}/api/action", json={"action": "ack_alert", "alert_seq": 987654})
    assert r.status_code == 404 and r.json["field"] == "alert_seq"
    r = c.post(f"{hmi}/api/action", json={"action": "ack_alert", "alert_seq": "one"})
    assert r.status_code == 422 and "alert_seq" in json.dumps(r.json)
    r = c.get(f"{hmi}/api/alerts?severity=loud")
    assert r.status_code == 422 and "severity" in json.dumps(r.json)
    r = c.get(f"{hmi}/api/alerts?acknowledged=maybe")
    assert r.status_code == 422 and "acknowledged" in json.dumps(r.json)
    # an external "alert" of any shape is listed by the HMI and never breaks the monitor's own list
    odd = {"event_type": "alert", "data": {"alert_type": "ui_test", "severity": "critical", "service_name": "x"}}
    seq = c.post("http://localhost:6102/broadcast", json=odd).json["seq"]
    assert c.get("http://localhost:6109/alerts").status_code == 200
    assert [a["source"] for a in c.get(f"{hmi}/api/alerts").json["alerts"] if a["seq"] == seq] == ["broadcast"]
    swarm = c.get(f"{hmi}/api/swarm").json
    assert swarm["agents"] == [] and {"cpu", "mem_mb"} <= set(swarm["capacity"]) and swarm["host"]["cpus"] >= 1
    res = c.get(f"{hmi}/api/resources").json
    assert res["reservations"] == [] and res["holdings"] == {}

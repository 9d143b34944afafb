"""The HMI: the JSON facade's contract, and the dashboard in real Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask

from models.event_store import EventStore
from models.keys import Keys
from tests.integration.conftest import Live
from tests.support import wait_until

HMI = "http://localhost:6101"


# Records every CSP violation on the page (Playwright's init scripts are not subject to the page's CSP).
CSP_WATCH = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")  # fmt: skip


def assert_strict_csp(header: str) -> None:
    """RELIABILITY decision 10: only our own origin, no inline script or style, no eval, no plugins, no framing,
    no <base> rewriting."""
    policy = {name: set(values) for name, *values in (part.split() for part in header.split(";") if part.strip())}
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == {"'self'"}, policy
    assert policy["connect-src"] == {"'self'"}, policy  # no ws:/wss: to any host
    assert policy["object-src"] == policy["base-uri"] == policy["frame-ancestors"] == {"'none'"}, policy
    assert policy["form-action"] == {"'self'"}, policy
    assert not [v for values in policy.values() for v in values if "unsafe" in v or "*" in v], policy


def test_facade_contract(app: Flask) -> None:
    c = app.test_client()
    h = c.get(f"{HMI}/health").json
    assert h["status"] == "ok" and h["service"] == "hmi_app" and h["port"] == 6101
    assert c.get(f"{HMI}/api/tree").json == {"name": "PAS Root", "status": "idle", "children": []}
    reg = "http://localhost:6121/register"
    base = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"]}
    c.post(reg, json={**base, "name": "architect", "labels": {"tier": 1, "agent_role": "coord"}})
    c.post(reg, json={**base, "name": "coder", "labels": {"parent": "architect", "tier": 2}})
    c.post(reg, json={**base, "name": "orphan", "labels": {"parent": "nobody"}})
    c.post(reg, json={**base, "name": "bare", "labels": None})
    tree = c.get(f"{HMI}/api/tree").json
    assert tree["name"] == "PAS Root" and tree["status"] == "running"
    top = {n["name"]: n for n in tree["children"]}
    assert set(top) == {"architect", "orphan", "bare"}
    assert [k["name"] for k in top["architect"]["children"]] == ["coder"] and top["architect"]["tier"] == 1
    assert top["bare"]["tier"] is None and top["bare"]["agent_role"] is None
    m = c.get(f"{HMI}/api/metrics").json
    assert m["summary"] == {"total_services": 5, "healthy_services": 5, "health_percentage": 100.0}
    assert set(m["services"]) == {"registry", "heartbeat_monitor", "resource_manager", "token_governor",
                                  "event_stream"}  # fmt: skip
    for path in ("/", "/tree", "/sequencer", "/resources", "/costs", "/alerts"):
        page = c.get(f"{HMI}{path}")
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert_strict_csp(page.headers["Content-Security-Policy"])
    assert len(c.get(f"{HMI}/api/services").json["services"]) == 4
    assert c.get(f"{HMI}/api/current-task").json == {"task": None}
    seq = c.get(f"{HMI}/api/sequencer").json
    assert {a["name"] for a in seq["agents"]} == {"architect", "coder", "orphan", "bare"} and seq["tasks"] == []
    assert c.get(f"{HMI}/api/alerts").json == {"alerts": []}


def test_dashboard_live_in_chromium(live: Live, browser, screenshots: Path) -> None:
    shots = screenshots
    page = browser.new_page()
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname not in ("127.0.0.1", "localhost")
            and not r.url.startswith("data:") else None)  # fmt: skip
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.add_init_script(CSP_WATCH)
    assert_strict_csp(page.goto(live.url(None, "/")).headers["content-security-policy"])
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector("#core .card", timeout=10_000)

    evil = '<img src=x onerror="window.__xss=1;alert(1)">'
    r = requests.post(live.url("registry", "/register"), json={
        "service_id": "hmi-evil", "name": evil, "type": "agent", "role": "production", "url": "internal://x",
        "caps": ["c"], "heartbeat_interval_s": 1}, timeout=5)  # fmt: skip
    assert r.status_code == 201
    card = page.wait_for_selector('[data-service-id="hmi-evil"]', timeout=5_000)  # no reload
    assert card.query_selector(".label").text_content() == evil
    assert page.evaluate("window.__xss") is None and dialogs == []
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    # it stops beating: red card and the banner, live
    page.wait_for_selector('[data-service-id="hmi-evil"].down', timeout=6_000)
    assert page.is_visible("#banner")
    # Pause All from the page really pauses (and the button says so); Resume All undoes it
    page.click("#pause")
    page.wait_for_selector("#pause.paused", timeout=5_000)
    assert requests.get(live.url(None, "/api/control"), timeout=5).json()["paused"] is True
    page.click("#pause")
    page.wait_for_selector("#pause:not(.paused)", timeout=5_000)
    assert requests.get(live.url(None, "/api/control"), timeout=5).json()["paused"] is False
    assert page.evaluate("window.__csp") == [], "the live dashboard broke its own CSP"
    for path in ("/tree", "/alerts", "/sequencer", "/resources", "/costs"):
        assert_strict_csp(page.goto(live.url(None, path)).headers["content-security-policy"])
        page.wait_for_selector("#conn.on", timeout=10_000)  # the live socket connects under connect-src 'self'
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"{path.strip('/')}.png"), full_page=True)
        assert page.evaluate("window.__csp") == [], path
    # the policy is enforced, and the watch sees it: an injected inline script neither runs nor goes unnoticed
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.__inline = 1'; document.body.append(s); }""")
    wait_until(lambda: page.evaluate("window.__csp"), 5, 0.05, "the inline script's violation")
    assert page.evaluate("window.__inline") is None and page.evaluate("window.__csp")[0].startswith("script-src")
    errors[:] = [e for e in errors if "Content Security Policy" not in e or "inline script" not in e]
    time.sleep(0.2)
    assert errors == [] and foreign == []
    page.close()
    assert (shots / "alerts.png").exists() and (shots / "dashboard.png").exists()


def test_tree_updates_in_place_and_keeps_folds(live: Live, browser, screenshots: Path) -> None:
    reg = live.url("registry", "/register")
    base = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"], "heartbeat_interval_s": 3600}
    requests.post(reg, json={**base, "name": "tree-boss", "labels": {"tier": 1}}, timeout=5)
    requests.post(reg, json={**base, "name": "tree-kid", "labels": {"parent": "tree-boss", "tier": 2}}, timeout=5)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live.url(None, "/tree"))
    page.wait_for_selector('g.node[data-id="agent-tree-kid"]', timeout=10_000)
    assert page.text_content('g.node[data-id="agent-tree-boss"] text') == "tree-boss"
    page.click('g.node[data-id="agent-tree-boss"] circle')  # fold
    page.wait_for_selector('g.node[data-id="agent-tree-kid"]', state="detached", timeout=5_000)
    # a new agent arrives live: it appears without a reload and the fold is kept
    requests.post(reg, json={**base, "name": "tree-new", "labels": {"tier": 3}}, timeout=5)
    page.wait_for_selector('g.node[data-id="agent-tree-new"]', timeout=5_000)
    assert page.query_selector('g.node[data-id="agent-tree-kid"]') is None
    assert "folded" in (page.get_attribute('g.node[data-id="agent-tree-boss"]', "class") or "")
    page.click('g.node[data-id="agent-tree-boss"] circle')  # unfold
    page.wait_for_selector('g.node[data-id="agent-tree-kid"]', timeout=5_000)
    page.screenshot(path=str(screenshots / "tree-d3.png"), full_page=True)
    assert errors == []
    page.close()


def test_costs_page_shows_receipts_live(live: Live, browser, upstreams, screenshots: Path) -> None:
    up = upstreams[0]
    up.reset()
    name = f"costs-{int(time.time() * 1000)}"
    reg = {"name": name, "model": name, "context_window": 1000, "cost_per_input_token": 1e-6,
           "cost_per_output_token": 2e-6, "endpoint": up.base_url}  # fmt: skip
    assert requests.post(live.url("provider-router", "/register"), json=reg, timeout=5).ok
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    dialogs: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(live.url(None, "/costs"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector("#cost-summary .card", timeout=10_000)
    evil = '<img src=x onerror="window.__xss=1;alert(1)">'
    r = requests.post(live.url("gateway", "/route"), timeout=10, json={
        "request_id": "costs-1", "agent": evil, "run_id": "costs-run", "requirements": {"provider": name},
        "payload": {"messages": [{"role": "user", "content": "hi"}]}})  # fmt: skip
    assert r.status_code == 200, r.text
    row = page.wait_for_selector(f'#receipts tbody tr:has(td:text-is("{name}"))', timeout=5_000)  # no reload
    cells = [c.text_content() for c in row.query_selector_all("td")]
    assert cells[2] == evil and cells[4] == "success"
    page.wait_for_selector(f'#by-provider tbody td:text-is("{name}")', timeout=5_000)
    assert page.evaluate("window.__xss") is None and dialogs == [] and errors == []
    page.screenshot(path=str(screenshots / "costs-live.png"), full_page=True)
    page.close()


def dashboard_view(page: Any) -> dict[str, list[str]]:
    """The dashboard's cards: service id -> [name, status] (the status is the third part of the meta line)."""
    cards = page.eval_on_selector_all(
        "#services [data-service-id]",
        """ns => ns.map(n => [n.dataset.serviceId,
        n.querySelector('.label').textContent, n.querySelector('.meta').textContent.split(' · ')[2]])""",
    )
    return {sid: [name, status] for sid, name, status in cards}


def registry_view(live: Live) -> dict[str, list[str]]:
    items = requests.get(live.url("registry", "/services"), timeout=5).json()["items"]
    return {i["service_id"]: [i["name"], i["status"]] for i in items}


def test_a_page_behind_the_stream_window_resnapshots_to_the_rest_state(live: Live, browser: Any) -> None:
    """RELIABILITY S2 in Chromium: the dashboard's socket is cut while its replay of a gap is in flight (held
    until the page is back, then answered with what the server said before the outage); meanwhile a service
    leaves, one arrives, one degrades, and then more events than the stream's window keep are written (a writer
    with a 100-event window, the product's own trimming), so the page's last seq is older than the window. Back,
    its replay is told to re-snapshot, and the cards (ids, names, statuses) equal the registry's REST state. The
    tab counts as hidden (its 5 s refresh is off) and hears no live event until it has read a snapshot (another
    test's event would make it read one): only the resnapshot instruction can heal it."""
    reg = live.url("registry", "/register")
    base = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"], "heartbeat_interval_s": 3600}
    for sid in ("s2-gone", "s2-kept"):
        assert requests.post(reg, json={**base, "service_id": sid, "name": sid}, timeout=5).status_code == 201
    context = browser.new_context()
    page = context.new_page()
    page.add_init_script("Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});")
    state = {"away": False, "back": False, "hold": False, "joined": 0}
    sockets: list[Any] = []
    held: list[tuple[Any, Any]] = []  # (route, the server's answer when it was asked)
    answers: list[Any] = []  # every replay answer the page got
    snaps: list[Any] = []  # the dashboard's snapshots read since it is back

    def on_server_message(ws: Any, m: str | bytes) -> None:
        text = str(m)
        state["joined"] += text.startswith('42["connected"')
        if not (state["back"] and not snaps and text.startswith('42["event"')):
            ws.send(m)

    def socket_route(ws: Any) -> None:  # every Socket.IO WebSocket of the page goes through here
        if state["away"]:
            ws.close()
            return
        server = ws.connect_to_server()
        sockets.extend((ws, server))
        ws.on_message(server.send)
        server.on_message(lambda m: on_server_message(ws, m))

    def replay_route(route: Any) -> None:
        if state["hold"] and not held:
            held.append((route, route.fetch()))
        else:
            route.continue_()

    page.route_web_socket(re.compile(r"/socket\.io/"), socket_route)
    page.route(re.compile(r"/api/event-stream/events\?"), replay_route)
    page.on("response", lambda r: answers.append(r) if "/api/event-stream/events?" in r.url else None)
    page.on("response", lambda r: snaps.append(r) if "/api/swarm" in r.url and state["back"] else None)
    page.goto(live.url(None, "/"))
    page.wait_for_selector("#conn.on", timeout=10_000)
    page.wait_for_selector('[data-service-id="s2-gone"]', timeout=10_000)
    pas = live.app.extensions["pas"]
    state["hold"] = True
    pas.events.append("s2_unsent", "test", {})  # never emitted: the next live event shows the page a gap
    requests.post(live.url("event-stream", "/broadcast"), json={"event_type": "s2_gap", "data": {}}, timeout=5)
    wait_until(lambda: page.wait_for_timeout(20) or held, 5, 0, "the page's replay of the gap")
    state["away"] = True
    for ws in sockets:
        ws.close()
    page.wait_for_selector("#conn.off", timeout=5_000)
    assert requests.post(live.url("registry", "/deregister"), json={"service_id": "s2-gone"}, timeout=5).ok
    assert requests.post(reg, json={**base, "service_id": "s2-new", "name": "s2-new"}, timeout=5).status_code == 201
    beat = {"service_id": "s2-kept", "status": "degraded", "message": "slow"}
    assert requests.put(live.url("registry", "/heartbeat"), json=beat, timeout=5).ok
    head = pas.events.last_seq()
    # the durable copies (archive, monitor alerts) hold everything so far: the short window costs them nothing
    wait_until(lambda: min(pas.events.archived(), pas.events.shipped()) >= head, 10, 0.05, "the archive shipped")
    narrow = EventStore(live.redis, Keys(live.settings.pas_key_prefix), maxlen=100)
    for i in range(300):
        narrow.append("s2_flood", "test", {"i": i})
    assert pas.events.length() < 300
    joined = state["joined"]
    state["away"], state["back"] = False, True
    page.wait_for_selector("#conn.on", timeout=10_000)  # socket.io-client's own reconnect (about 1 s)
    wait_until(lambda: page.wait_for_timeout(20) or state["joined"] > joined, 5, 0, "the server's hello")
    route, stale = held[0]
    route.fulfill(response=stale)  # the replay that was in flight lands only now, its answer from before
    # (Playwright hands over the page's events only inside its own calls: each poll waits on the page a little)
    told = lambda: [(r.url.split("?")[1], r.json()["resnapshot"]) for r in list(answers)]  # noqa: E731
    try:
        wait_until(lambda: page.wait_for_timeout(20) or any(t for _, t in told()), 10, 0, "the resnapshot")
    except AssertionError:
        raise AssertionError(f"never told to re-snapshot; the page's replays: {told()}") from None
    wait_until(lambda: page.wait_for_timeout(20) or snaps, 5, 0, "a snapshot read after the resnapshot instruction")
    wait_until(lambda: dashboard_view(page) == registry_view(live), 5, 0.1, "the cards equal the registry")
    view = dashboard_view(page)
    assert "s2-gone" not in view and view["s2-new"] == ["s2-new", "ok"] and view["s2-kept"] == ["s2-kept", "degraded"]
    context.close()
    requests.post(live.url("registry", "/deregister"), json={"service_id": "s2-kept"}, timeout=5)
    requests.post(live.url("registry", "/deregister"), json={"service_id": "s2-new"}, timeout=5)

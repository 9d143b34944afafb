"""RELIABILITY V8 in real Chromium: every hostile name of the catalogue that the API accepts is stored verbatim and
rendered inertly on every HMI page that shows a client-chosen name; the ones it refuses are refused by a documented
pattern. The store side (verbatim, never a raw Redis key, the refusals field by field) is
tests/integration/test_registry_api.py::test_hostile_names_are_stored_verbatim and
::test_control_and_bidi_characters_in_ids_are_refused; the pattern's documentation,
tests/unit/test_contracts.py::test_every_id_a_client_stores_has_a_documented_pattern."""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests

from tests.integration.conftest import Live
from tests.integration.hook_payloads import tool_call
from tests.integration.test_hmi_pages import page, shot  # noqa: F401 (the page fixture)
from tests.support import wait_until

# RELIABILITY V8's list (the accepted part), and payloads that would set window.__xss if anything ran them.
ACCEPTED = [
    "<script>alert(1)</script>",
    "'; DROP TABLE x;--",
    "../../etc/passwd",
    "{{7*7}}",
    "a:b*{c}",
    "emoji 🚀👩‍💻",
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<svg onload=window.__xss=2>",
    "${window.__xss=3}",
    "{{constructor.constructor('window.__xss=4')()}}",
    "<b>" * 33 + "!",  # the longest name accepted (100)
]
REFUSED = {"nul": "a\x00b", "rlo": "\u202eevil", "10k": "x" * 10_000}  # ID_PATTERN, max_length (README)
HI = {"messages": [{"role": "user", "content": "hi"}]}
AGENT = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"], "heartbeat_interval_s": 3600}


def texts(p: Any, selector: str) -> list[str]:
    return list(p.eval_on_selector_all(selector, "ns => ns.map(n => n.textContent)"))


def inert(p: Any, where: str) -> None:
    """Nothing ran (no flag, no dialog: the page fixture records those) and no markup became an element."""
    assert p.evaluate("window.__xss") is None, where
    assert p.evaluate("document.querySelectorAll('img, [onerror], [onload]').length") == 0, where
    assert not [x for x in p.problems if x.startswith("dialog")], where


def test_hostile_names_render_inertly_on_every_page(live: Live, page: Any, upstreams: Any) -> None:  # noqa: F811
    reg, beat = live.url("registry", "/register"), live.url("registry", "/heartbeat")
    for what, bad in REFUSED.items():
        r = requests.post(reg, json={**AGENT, "service_id": f"v8-refused-{what}", "name": bad}, timeout=5)
        assert r.status_code == 422 and r.json()["field"] == "name", (what, r.text)
        assert r.json()["errors"][0]["type"] in ("string_pattern_mismatch", "string_too_long"), r.text
    # each accepted name: an agent (with the name as its status message too), a tool that stops beating (its
    # service_down alert names it), a reservation, a gateway call (agent and run id), a Claude Code tool call
    up = upstreams[0]
    provider = f"v8-{int(time.time() * 1000)}"
    pr = {"name": provider, "model": provider, "context_window": 1000, "cost_per_input_token": 1e-6,
          "cost_per_output_token": 2e-6, "endpoint": up.base_url}  # fmt: skip
    assert requests.post(live.url("provider-router", "/register"), json=pr, timeout=5).ok
    reservations = []
    session = str(uuid.uuid4())
    for i, name in enumerate(ACCEPTED):
        assert requests.post(reg, json={**AGENT, "service_id": f"v8-{i}", "name": name, "labels": {"tier": 7}},
                             timeout=5).status_code == 201  # fmt: skip
        assert requests.put(beat, json={"service_id": f"v8-{i}", "message": name}, timeout=5).ok
        dying = {**AGENT, "type": "tool", "service_id": f"v8-dying-{i}", "name": name, "heartbeat_interval_s": 1}
        assert requests.post(reg, json=dying, timeout=5).status_code == 201
        r = requests.post(live.url("resource-manager", "/reserve"), json={"job_id": f"v8-job-{i}", "agent": name,
                          "mem_mb": 1}, timeout=5)  # fmt: skip
        assert r.status_code in (200, 201), r.text
        reservations.append(r.json()["reservation_id"])
        call = {"request_id": f"v8-call-{i}-{provider}", "agent": name, "run_id": name,
                "requirements": {"provider": provider}, "payload": HI}  # fmt: skip
        r = requests.post(live.url("gateway", "/route"), json=call, timeout=10)
        assert r.status_code == 200, r.text
        tool_call(live.url(None, "/"), session, None, name, f"toolu_v8_{session[:8]}_{i}", 100)
    prefix = live.settings.pas_key_prefix
    keys = list(live.redis.scan_iter(f"{prefix}:*", count=1000))
    assert not [k for k in keys if any(name in k for name in ACCEPTED)], "a client string used as a raw Redis key"

    page.goto(live.url(None, "/"))
    page.wait_for_selector('[data-service-id="v8-0"]', timeout=10_000)
    for i, name in enumerate(ACCEPTED):
        card = f'[data-service-id="v8-{i}"]'
        assert page.text_content(f"{card} .label") == name
        assert name in texts(page, f"{card} .meta")  # the status message, its own line
    inert(page, "dashboard")
    page.goto(live.url(None, "/tree"))
    page.wait_for_selector('g.node[data-id="v8-0"]', timeout=10_000)
    assert [page.text_content(f'g.node[data-id="v8-{i}"] text.label') for i in range(len(ACCEPTED))] == ACCEPTED
    inert(page, "tree")
    page.goto(live.url(None, "/sequencer"))
    page.wait_for_selector(f'rect.tool-block[data-tool="toolu_v8_{session[:8]}_0"]', timeout=10_000)
    assert [n for n in ACCEPTED if n not in texts(page, "svg#timeline text.agent")] == []
    assert [n for n in ACCEPTED if n not in texts(page, "svg#timeline g.tool text.tool-name")] == []
    inert(page, "sequencer")
    page.goto(live.url(None, "/resources"))
    page.wait_for_selector(f'#reservations tbody td:text-is("{reservations[0]}")', timeout=10_000)
    assert [n for n in ACCEPTED if n not in texts(page, "#holdings tbody td:nth-child(1)")] == []
    assert [n for n in ACCEPTED if n not in texts(page, "#reservations tbody td:nth-child(4)")] == []
    inert(page, "resources")
    page.goto(live.url(None, "/costs"))
    page.wait_for_selector(f'#by-provider tbody td:text-is("{provider}")', timeout=10_000)
    for column in (2, 3):  # run id, agent
        assert [n for n in ACCEPTED if n not in texts(page, f"#receipts tbody td:nth-child({column})")] == []
    assert [n for n in ACCEPTED if n not in texts(page, "#by-agent tbody td:nth-child(1)")] == []
    inert(page, "costs")

    def alerted() -> bool:
        alerts = requests.get(live.url(None, "/api/alerts"), params={"alert_type": "service_down"}, timeout=5)
        named = {a.get("service_name") for a in alerts.json()["alerts"] if str(a.get("service_id")).startswith("v8-")}
        return set(ACCEPTED) <= named

    wait_until(alerted, 15, 0.2, "service_down for every dying tool")
    page.goto(live.url(None, "/alerts"))
    page.wait_for_selector("#alerts tbody tr", timeout=10_000)
    wait_until(lambda: set(ACCEPTED) <= set(texts(page, "#alerts tbody td:nth-child(4)")), 5, 0.1, "the alert rows")
    inert(page, "alerts")
    shot(live, page, "alerts-hostile")
    for rid in reservations:
        requests.post(live.url("resource-manager", "/release"), json={"reservation_id": rid}, timeout=5)
    for i in range(len(ACCEPTED)):
        requests.post(reg.replace("/register", "/deregister"), json={"service_id": f"v8-{i}"}, timeout=5)

"""The user's phase-0 flow over real HTTP on the legacy ports, with a real Celery worker and beat sweeping."""

from __future__ import annotations

import time

import requests

from tests.integration.conftest import Live
from tests.support import wait_until


def test_phase0_flow_on_legacy_ports(live: Live) -> None:
    reg, mon = (lambda p: live.url("registry", p)), (lambda p: live.url("heartbeat-monitor", p))
    assert '"status":"ok"' in requests.get(reg("/health"), timeout=5).text
    assert '"status":"ok"' in requests.get(mon("/health"), timeout=5).text

    # register a model service with a 60 s heartbeat, discover it, heartbeat it
    r = requests.post(reg("/register"), timeout=5, json={
        "name": "phase0-model", "type": "model", "role": "experimental", "url": "http://localhost:8050",
        "caps": ["infer", "chat"], "heartbeat_interval_s": 60, "labels": {"parent": "architect"},
    })  # fmt: skip
    assert r.status_code == 201
    sid = r.json()["service_id"]
    found = requests.get(reg("/discover"), params={"name": "phase0-model"}, timeout=5).json()
    assert found["items"][0]["service_id"] == sid
    assert requests.put(reg("/heartbeat"), json={"service_id": sid}, timeout=5).json()["success"] is True
    stats = requests.get(mon("/stats"), timeout=5).json()
    assert isinstance(stats["total_services"], int) and stats["total_services"] >= 1
    filtered = requests.get(reg("/discover?type=model&role=experimental&cap=infer"), timeout=5).json()
    assert len(filtered["items"]) >= 1

    # a short-interval service that stops beating: down (still listed, counted), alert, then deregistered
    r = requests.post(reg("/register"), timeout=5, json={
        "name": "phase0-short", "type": "model", "role": "experimental", "url": "http://localhost:8051",
        "caps": ["infer"], "heartbeat_interval_s": 1,
    })  # fmt: skip
    short = r.json()["service_id"]
    requests.put(reg("/heartbeat"), json={"service_id": short}, timeout=5)
    last_beat = time.monotonic()

    def status() -> str | None:
        items = requests.get(reg("/discover"), params={"name": "phase0-short"}, timeout=5).json()["items"]
        return items[0]["status"] if items else None

    wait_until(lambda: status() == "down", 5, 0.05, "phase0-short down")
    assert time.monotonic() - last_beat < 3.0
    assert requests.get(mon("/stats"), timeout=5).json()["down_services"] >= 1

    def alerts() -> list[dict]:
        return requests.get(mon("/alerts"), params={"service_id": short}, timeout=5).json()["alerts"]

    # reads derive `down` from the clock at once; the sweep's alert follows within milliseconds
    wait_until(lambda: any(a["alert_type"] == "service_down" and a["action"] == "marked_down" for a in alerts()),
               1.0, 0.02, "service_down alert")  # fmt: skip
    assert all(a["ts"] and a["service_name"] == "phase0-short" for a in alerts())
    wait_until(lambda: status() is None, 5, 0.05, "phase0-short deregistered")
    assert time.monotonic() - last_beat < 4.5
    ladder = ["heartbeat_miss", "service_down", "service_deregistered"]
    wait_until(lambda: [a["alert_type"] for a in alerts()] == ladder, 1.0, 0.02, "the whole ladder of alerts")
    # the 60 s service is untouched
    assert requests.get(reg(f"/services/{sid}"), timeout=5).json()["status"] == "ok"
    assert requests.put(reg("/heartbeat"), json={"service_id": short}, timeout=5).status_code == 404

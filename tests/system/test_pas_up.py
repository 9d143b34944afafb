"""`pas up` as a user runs it: real processes (embedded Valkey, gunicorn+gevent, worker, beat), a real stop
and start, and the data still there afterwards."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

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


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def start(env: dict[str, str], logs: Path) -> Proc:
    proc = Proc("pas-up", [str(BIN / "pas"), "up", "--no-flower", "--workers", "2"], env, logs)
    main = int(env["PAS_PORT_OFFSET"]) + 6100
    try:
        wait_http(f"http://127.0.0.1:{main}/health", 60)
    except AssertionError:
        proc.stop()
        raise AssertionError(proc.output()[-4000:]) from None
    return proc


def test_stop_and_start_keeps_services_statuses_and_alerts(tmp_path: Path) -> None:
    offset = port_offset_with_free_ports()
    env = base_env(
        PAS_ARTIFACTS_DIR=str(tmp_path / "artifacts"),
        PAS_PORT_OFFSET=str(offset),
        PAS_KEY_PREFIX=unique_prefix("up"),
        PAS_LOG_LEVEL="INFO",
    )
    env.pop("REDIS_URL", None)  # the embedded Valkey and its append-only file are what is under test
    reg = f"http://127.0.0.1:{6121 + offset}"
    mon = f"http://127.0.0.1:{6109 + offset}"
    proc = start(env, tmp_path)
    try:
        out = proc.output()
        assert "embedded Valkey" in out and "PAS_API_TOKEN is unset" in out
        for i in range(3):
            body = {"service_id": f"keep-{i}", "name": f"keep-{i}", "type": "agent" if i == 0 else "model",
                    "role": "production", "url": "http://127.0.0.1:1", "caps": ["c"], "heartbeat_interval_s": 3600,
                    "labels": {"parent": "root"}}  # fmt: skip
            assert requests.post(f"{reg}/register", json=body, timeout=5).status_code == 201
        requests.put(f"{reg}/heartbeat", json={"service_id": "keep-1", "status": "running", "p95_ms": 7.5}, timeout=5)
        short = {"service_id": "short", "name": "short", "type": "tool", "role": "canary", "url": "http://x:1",
                 "caps": ["c"], "heartbeat_interval_s": 1}  # fmt: skip
        requests.post(f"{reg}/register", json=short, timeout=5)

        def short_alerts() -> list[str]:
            alerts = requests.get(f"{mon}/alerts?service_id=short", timeout=5).json()["alerts"]
            return [a["alert_type"] for a in alerts]

        wait_until(lambda: len(short_alerts()) == 3, 15, 0.2, "short's three alerts (real beat + worker)")
        before_services = requests.get(f"{reg}/services", timeout=5).json()["items"]
        before_alerts = requests.get(f"{mon}/alerts?limit=1000", timeout=5).json()["alerts"]
    finally:
        proc.send(signal.SIGINT)
        assert proc.stop(signal.SIGINT, 40) == 0, proc.output()[-3000:]
    first_output = proc.output()
    assert "stopped" in first_output
    wait_until(lambda: port_free(6121 + offset) and port_free(6100 + offset), 10, 0.2, "ports released")

    proc = start(env, tmp_path)
    try:
        after_services = requests.get(f"{reg}/services", timeout=5).json()["items"]
        after_alerts = requests.get(f"{mon}/alerts?limit=1000", timeout=5).json()["alerts"]
        # PAS's own model services (adapters, local models) are registered again by their workers at each start
        strip = lambda items: [{k: v for k, v in i.items() if k != "missed_beats"} for i in items  # noqa: E731
                               if not own_model_service(i)]  # fmt: skip
        assert strip(after_services) == strip(before_services)
        assert {s["service_id"]: s["status"] for s in after_services
                if not s["service_id"].startswith("agent-") and not own_model_service(s)} == {
            "keep-0": "ok", "keep-1": "running", "keep-2": "ok"}  # fmt: skip
        # `pas up` registered the catalogue at its first start; the restart kept those records as they were
        assert sum(s["service_id"].startswith("agent-") for s in after_services) == 42
        assert "agents: 42 in the catalogue, 42 registered now" in first_output
        assert "agents: 42 in the catalogue, 0 registered now" in proc.output()
        assert after_alerts[: len(before_alerts)] == before_alerts
        assert requests.put(f"{reg}/heartbeat", json={"service_id": "keep-2"}, timeout=5).status_code == 200
        assert requests.get(f"{reg}/discover?name=keep-1", timeout=5).json()["items"][0]["p95_ms"] == 7.5
    finally:
        proc.stop(signal.SIGINT, 40)

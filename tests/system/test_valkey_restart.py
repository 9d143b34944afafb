"""kill -9 of the embedded Valkey and a restart from its append-only file (RELIABILITY L8)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.factory import create_app, create_tables
from app.valkey import EmbeddedValkey
from config.settings import Settings

pytestmark = pytest.mark.system


def test_registrations_survive_kill_9_and_self_preservation_holds_them(tmp_path: Path, database_url: str) -> None:
    valkey = EmbeddedValkey(tmp_path / "valkey").start()
    try:
        settings = Settings(
            redis_url=valkey.url, database_url=database_url, pas_key_prefix="l8", pas_async_mode="threading",
            pas_artifacts_dir=tmp_path, pas_self_preservation_min_services=4, pas_self_preservation_cap_s=5,
        )  # fmt: skip
        app = create_app(settings, serve_socketio=False)
        create_tables(app)
        c = app.test_client()
        for i in range(500):
            body = {"service_id": f"s{i}", "name": f"s{i}", "type": "model", "role": "production",
                    "url": "http://x:1", "caps": ["c"], "heartbeat_interval_s": 1}  # fmt: skip
            assert c.post("/api/registry/register", json=body).status_code == 201
        valkey.stop(kill=True)
        app.extensions["redis"].connection_pool.disconnect()
        valkey.start()  # same port, same append-only file
        # the outage took longer than three intervals: everyone is silent at once
        monitor = app.extensions["pas"].heartbeat_monitor
        import time

        time.sleep(3.1)
        monitor.sweep_once()
        items = c.get("/api/registry/services").json["items"]
        assert len(items) == 500  # held: none deregistered in the grace window
        assert all(i["status"] == "down" for i in items)
        for i in range(500):
            assert c.put("/api/registry/heartbeat", json={"service_id": f"s{i}"}).status_code == 200
        statuses = {i["status"] for i in c.get("/api/registry/services").json["items"]}
        assert statuses == {"ok"}
    finally:
        valkey.stop()


def test_reservations_survive_kill_9(tmp_path: Path, database_url: str) -> None:
    valkey = EmbeddedValkey(tmp_path / "valkey").start()
    try:
        settings = Settings(redis_url=valkey.url, database_url=database_url, pas_key_prefix="q8",
                            pas_async_mode="threading", pas_artifacts_dir=tmp_path)  # fmt: skip
        app = create_app(settings, serve_socketio=False)
        create_tables(app)
        c = app.test_client()
        c.post("/api/resource-manager/quotas/update", json={"resource_type": "mem_mb", "new_capacity": 100_000})
        for i in range(500):
            r = c.post("/api/resource-manager/reserve", json={"job_id": f"j{i}", "agent": "a", "mem_mb": 10})
            assert r.status_code == 201
        before = c.get("/api/resource-manager/quotas").json["quotas"]["mem_mb"]
        valkey.stop(kill=True)
        app.extensions["redis"].connection_pool.disconnect()
        valkey.start()
        after = c.get("/api/resource-manager/quotas").json["quotas"]["mem_mb"]
        assert after == before and after["allocated"] == 5000
        active = c.get("/api/resource-manager/reservations?status=active&limit=1000").json["reservations"]
        assert len(active) == 500
    finally:
        valkey.stop()

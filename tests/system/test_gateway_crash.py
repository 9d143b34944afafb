"""RELIABILITY G1: 500 calls, the web process killed with -9 at a random moment and restarted; after the sweeper,
every 2xx has exactly one success receipt, every call the upstream logged (by its X-PAS-Receipt-Id) has a receipt,
and none is doubled."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from app.factory import create_app
from config.settings import Settings
from tests.support import (
    base_env,
    port_offset_with_free_ports,
    start_web,
    unique_prefix,
    wait_http,
    wait_until,
)
from tests.upstream import Step, start_upstream

pytestmark = pytest.mark.system

CALLS = 500


def test_kill_9_mid_calls_leaves_a_receipt_for_each(redis_url: str, database_url: str, tmp_path: Path) -> None:
    up = start_upstream()
    up.reset(default=Step(delay_s=0.05))
    offset, prefix = port_offset_with_free_ports(), unique_prefix("crash")
    env = base_env(
        REDIS_URL=redis_url, DATABASE_URL=database_url, PAS_KEY_PREFIX=prefix, PAS_PORT_OFFSET=str(offset),
        PAS_ARTIFACTS_DIR=str(tmp_path), PAS_LOG_LEVEL="WARNING", PAS_UPSTREAM_ALLOWLIST=f"127.0.0.1:{up.port}",
        PAS_GATEWAY_TIMEOUT_S="2", PAS_GATEWAY_INTERRUPTED_GRACE_S="1",
    )  # fmt: skip
    web = start_web("crash-web", env, tmp_path)
    base = f"http://127.0.0.1:{6100 + offset}"
    wait_http(f"{base}/health", 40)
    reg = {"name": "crashy", "model": "m", "context_window": 1000, "cost_per_input_token": 1e-6,
           "cost_per_output_token": 1e-6, "endpoint": up.base_url}  # fmt: skip
    assert requests.post(f"http://127.0.0.1:{6103 + offset}/register", json=reg, timeout=5).ok

    calls = iter(range(CALLS))  # the 500 request ids, shared by the clients before and after the restart
    ok_ids: list[str] = []
    lock = threading.Lock()
    serving = threading.Event()
    serving.set()
    kill_after = random.Random(1).randint(100, 400)  # the kill falls at a (seeded) random moment of the run

    def client() -> None:
        while True:
            with lock:
                n = next(calls, None)
            if n is None:
                return
            serving.wait()
            rid = f"call-{n}"
            try:
                r = requests.post(f"{base}/v1/chat/completions", headers={"X-Request-Id": rid}, timeout=5,
                                  json={"model": "crashy", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
            except requests.RequestException:
                continue
            if r.status_code == 200:
                with lock:
                    ok_ids.append(rid)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: len(up.requests) >= kill_after, 60, 0.01, "calls reaching the upstream")
    serving.clear()  # no new call until the restart; the ones in flight are cut by the kill
    web.send(signal.SIGKILL)
    web.p.wait(10)
    web.stop()

    web = start_web("crash-web-2", env, tmp_path)  # restarted: the sweeper runs in any process
    try:
        wait_http(f"{base}/health", 40)
        serving.set()
        for t in threads:
            t.join()
        settings = Settings(redis_url=redis_url, database_url=database_url, pas_key_prefix=prefix,
                            pas_artifacts_dir=tmp_path, pas_async_mode="threading")  # fmt: skip
        app = create_app(settings, serve_socketio=False)
        gateway = app.extensions["pas"].gateway
        time.sleep(3.2)  # past the pending receipts' deadline (timeout 2 s + grace 1 s)
        gateway.close_interrupted(app.extensions["pas"].events.now_ms())
        lines = [json.loads(x) for x in (tmp_path / "costs" / "default.jsonl").read_text().splitlines()]
        by_id: dict[str, list[dict]] = {}
        for r in lines:
            by_id.setdefault(r["receipt_id"], []).append(r)
        assert all(len(v) == 1 for v in by_id.values()), "a receipt written twice"
        success = [r for r in lines if r["status"] == "success"]
        interrupted = [r for r in lines if r["status"] == "interrupted"]
        for rid in ok_ids:
            assert sum(1 for r in success if r["request_id"] == rid) == 1, rid
        assert len(ok_ids) > CALLS // 2  # most calls were served, before and after the kill
        # every request the upstream logged names its receipt: each one is there, settled or interrupted
        assert len(up.headers) == len(up.requests) >= CALLS // 2
        sent = {h["x-pas-receipt-id"] for h in up.headers}
        missing = sent - {r["receipt_id"] for r in success + interrupted}
        assert missing == set(), f"{len(missing)} upstream calls without a receipt"
        assert gateway.pending_count() == 0
        app.extensions["redis"].close()
    finally:
        web.stop()
        up.server.shutdown()

"""RELIABILITY G1: kill -9 the web process while calls are in flight; after a restart and the sweeper, every
2xx has exactly one success receipt, every call that reached the upstream has a receipt, and none is doubled."""

from __future__ import annotations

import json
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

    ok_ids: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            rid = f"c{n}-{i}"
            i += 1
            try:
                r = requests.post(f"{base}/v1/chat/completions", headers={"X-Request-Id": rid}, timeout=5,
                                  json={"model": "crashy", "messages": [{"role": "user", "content": "x"}]})  # fmt: skip
            except requests.RequestException:
                continue
            if r.status_code == 200:
                with lock:
                    ok_ids.append(rid)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    wait_until(lambda: len(ok_ids) >= 20, 20, 0.05, "calls succeeding")
    web.send(signal.SIGKILL)
    web.p.wait(10)
    stop.set()
    for t in threads:
        t.join()
    web.stop()
    upstream_calls = len(up.requests)

    web = start_web("crash-web-2", env, tmp_path)  # restarted: the sweeper runs in any process
    try:
        wait_http(f"{base}/health", 40)
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
        assert len(success) + len(interrupted) >= upstream_calls  # each upstream call has its receipt
        assert gateway.pending_count() == 0
        app.extensions["redis"].close()
    finally:
        web.stop()
        up.server.shutdown()

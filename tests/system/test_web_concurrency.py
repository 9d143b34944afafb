"""More concurrent requests than redis-py's default pool holds (100), against the production web process
(gunicorn + gevent): each waits for a free connection instead of failing with a false 503 "Redis is
unreachable", and the hot scripts' own connections never use up the pool's slots."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests

from tests.support import base_env, port_offset_with_free_ports, start_web, unique_prefix, wait_http

pytestmark = pytest.mark.system
CLIENTS = 150


def burst(urls: Sequence[tuple[str, str, dict | None]]) -> Counter[int]:
    """One request per client, all released at once."""
    gate = threading.Barrier(len(urls))
    codes: Counter[int] = Counter()
    lock = threading.Lock()

    def one(method: str, url: str, body: dict | None) -> None:
        gate.wait()
        try:
            code = requests.request(method, url, json=body, timeout=60).status_code
        except requests.RequestException:
            code = -1
        with lock:
            codes[code] += 1

    threads = [threading.Thread(target=one, args=u) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return codes


def test_150_concurrent_clients_get_no_false_503(redis_url: str, database_url: str, tmp_path: Path) -> None:
    offset = port_offset_with_free_ports()
    env = base_env(
        REDIS_URL=redis_url, DATABASE_URL=database_url, PAS_KEY_PREFIX=unique_prefix("conc"),
        PAS_PORT_OFFSET=str(offset), PAS_ARTIFACTS_DIR=str(tmp_path), PAS_LOG_LEVEL="WARNING",
    )  # fmt: skip
    web = start_web("conc-web", env, tmp_path)
    try:
        reg = f"http://127.0.0.1:{6121 + offset}"
        wait_http(f"http://127.0.0.1:{6100 + offset}/health", 40)
        for i in range(CLIENTS):
            body = {"service_id": f"c{i}", "name": f"c{i}", "type": "tool", "role": "staging",
                    "url": "http://x:1", "caps": ["c"], "heartbeat_interval_s": 60}  # fmt: skip
            assert requests.post(f"{reg}/register", json=body, timeout=10).status_code == 201
        # A burst on the hot script path first (it used to keep pool slots it had made), then mixed rounds.
        beats = [("PUT", f"{reg}/heartbeat", {"service_id": f"c{i}"}) for i in range(90)]
        assert burst(beats) == Counter({200: 90})
        for _round in range(3):
            mixed = [
                ("PUT", f"{reg}/heartbeat", {"service_id": f"c{i}"}) if i % 3 == 0
                else ("GET", f"{reg}/services/c{i}", None) if i % 3 == 1
                else ("GET", f"{reg}/discover?name=c{i}", None)
                for i in range(CLIENTS)
            ]  # fmt: skip
            codes = burst(mixed)
            assert codes == Counter({200: CLIENTS}), f"round {_round}: {dict(codes)}\n{web.output()[-2000:]}"
    finally:
        web.stop()

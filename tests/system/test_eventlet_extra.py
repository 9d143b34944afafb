"""The `eventlet` extra still starts the app: gunicorn < 26 with its eventlet worker, PAS_ASYNC_MODE=eventlet.

The extra pins a gunicorn older than the default install, so the test installs it into a side directory
(pip, from the index or its cache) and puts that first on the path of the web process only.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
import socketio

from tests.support import (
    ROOT,
    base_env,
    port_offset_with_free_ports,
    start_web,
    unique_prefix,
    wait_http,
    wait_until,
)

pytestmark = pytest.mark.system


def extra_requirements() -> list[str]:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["eventlet"]


@pytest.fixture(scope="module")
def eventlet_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("eventlet-site")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *extra_requirements()],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot install the eventlet extra here: {done.stderr[-500:]}")
    return target


def test_app_starts_under_gunicorn_eventlet_worker(eventlet_site: Path, redis_url: str, tmp_path: Path) -> None:
    offset = port_offset_with_free_ports()
    env = base_env(
        REDIS_URL=redis_url, PAS_KEY_PREFIX=unique_prefix("evt"), PAS_ASYNC_MODE="eventlet",
        PAS_PORT_OFFSET=str(offset), PAS_ARTIFACTS_DIR=str(tmp_path),
    )  # fmt: skip
    env["PYTHONPATH"] = f"{eventlet_site}:{ROOT}"
    web = start_web("eventlet-web", env, tmp_path)
    try:
        base = f"http://127.0.0.1:{6100 + offset}"
        try:
            wait_http(f"{base}/health", 40)
        except AssertionError:
            raise AssertionError(web.output()[-3000:]) from None
        probe = "import gunicorn, eventlet; print(gunicorn.__version__)"
        version = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        assert int(version.stdout.split(".")[0]) < 26
        body = {"name": "evt", "type": "tool", "role": "staging", "url": "http://x:1", "caps": ["c"]}
        assert requests.post(f"http://127.0.0.1:{6121 + offset}/register", json=body, timeout=5).status_code == 201
        got: list[dict] = []
        client = socketio.Client(reconnection=False)
        client.on("connected", got.append)
        client.connect(base, transports=["websocket"], wait_timeout=10)
        try:
            wait_until(lambda: got, 5, 0.05, "Socket.IO connected under eventlet")
            assert got[0]["last_seq"] >= 1
        finally:
            client.disconnect()
        assert web.alive()
    finally:
        web.stop()

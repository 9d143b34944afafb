"""The production web process (gunicorn + gevent) with PAS_API_TOKEN: REST and Socket.IO both need it, and the
token never reaches the log."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import socketio

from tests.support import (
    base_env,
    port_offset_with_free_ports,
    start_web,
    unique_prefix,
    wait_http,
    wait_until,
)

pytestmark = pytest.mark.system
TOKEN = "canary-7d1f0c2b9e"


def test_gevent_web_with_token(redis_url: str, database_url: str, tmp_path: Path) -> None:
    offset = port_offset_with_free_ports()
    env = base_env(
        REDIS_URL=redis_url, DATABASE_URL=database_url, PAS_KEY_PREFIX=unique_prefix("gev"), PAS_API_TOKEN=TOKEN,
        PAS_PORT_OFFSET=str(offset), PAS_ARTIFACTS_DIR=str(tmp_path), PAS_LOG_LEVEL="INFO",
    )  # fmt: skip
    web = start_web("gevent-web", env, tmp_path)
    try:
        base, reg = f"http://127.0.0.1:{6100 + offset}", f"http://127.0.0.1:{6121 + offset}"
        wait_http(f"{base}/health", 40)
        body = {"name": "g", "type": "tool", "role": "staging", "url": "http://x:1", "caps": ["c"]}
        assert requests.post(f"{reg}/register", json=body, timeout=5).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert requests.post(f"{reg}/register", json=body, headers=auth, timeout=5).status_code == 201

        no_token: list[dict[str, str] | None] = [None, {"token": "wrong"}, {"token": TOKEN.upper()}]
        for presented in no_token:  # S6: no token, a wrong one
            refused = socketio.Client(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                refused.connect(base, transports=["websocket"], auth=presented, wait_timeout=5)
            refused.disconnect()

        got: list[dict] = []
        client = socketio.Client(reconnection=False)
        client.on("connected", got.append)
        client.connect(base, transports=["websocket"], auth={"token": TOKEN}, wait_timeout=10)
        try:
            wait_until(lambda: got, 5, 0.05, "connected")
        finally:
            client.disconnect()
        log = web.output()
        assert '"event": "request"' in log and "/api/registry/register" in log
        assert TOKEN not in log
    finally:
        web.stop()

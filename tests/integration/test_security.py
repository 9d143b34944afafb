"""Security items of RELIABILITY.md proven against real processes: the web open on every interface without a token
(A3), Flower's exposure (A4), and the gateway never following an upstream's redirect (X3; the vendor adapters' SDKs
are tested in test_adapters.py)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import requests

from tests.integration.conftest import Live
from tests.support import (
    PYTHON,
    Listener,
    Proc,
    base_env,
    free_port,
    port_offset_with_free_ports,
    unique_prefix,
    wait_until,
)
from tests.upstream import Step, Upstream

FLOWER_AUTH = "ops:flower-canary-1f2e3d"


def _refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return False
    except OSError:
        return True


def _flower(redis_url: str, logs: Path, **extra: str) -> tuple[Proc, int]:
    port = free_port()
    env = base_env(REDIS_URL=redis_url, PAS_KEY_PREFIX=unique_prefix("fl"), PAS_FLOWER_PORT=str(port), **extra)
    return Proc("flower", [PYTHON, "-m", "app.cli", "flower"], env, logs), port


def test_the_web_refuses_every_interface_without_a_token(redis_url: str, database_url: str, tmp_path: Path) -> None:
    """A3, the documented choice (README, Configuration): with PAS_HOST=0.0.0.0 and no PAS_API_TOKEN, `pas web`,
    `pas up` and gunicorn on PAS's config file each refuse to start, saying why, and nothing listens."""
    offset = port_offset_with_free_ports()
    env = base_env(REDIS_URL=redis_url, DATABASE_URL=database_url, PAS_KEY_PREFIX=unique_prefix("a3"),
                   PAS_HOST="0.0.0.0", PAS_PORT_OFFSET=str(offset), PAS_ARTIFACTS_DIR=str(tmp_path))  # fmt: skip
    starts = {"pas web": [PYTHON, "-m", "app.cli", "web"], "pas up": [PYTHON, "-m", "app.cli", "up"],
              "gunicorn": [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]}  # fmt: skip
    procs = {name: Proc(name.replace(" ", "-"), argv, env, tmp_path) for name, argv in starts.items()}
    try:
        for name, proc in procs.items():
            assert proc.p.wait(30) == 1, (name, proc.output())
            out = " ".join(proc.output().split())
            assert "PAS_API_TOKEN is unset and PAS_HOST=0.0.0.0 is not loopback" in out, (name, out)
            assert "Set PAS_API_TOKEN, or PAS_HOST=127.0.0.1" in out, (name, out)
        assert _refused("127.0.0.1", 6100 + offset) and _refused("127.0.0.2", 6121 + offset)
    finally:
        for proc in procs.values():
            proc.stop()


def test_flower_listens_on_loopback_only_and_wider_only_behind_basic_auth(redis_url: str, tmp_path: Path) -> None:
    """A4: by default Flower (a real one) answers on 127.0.0.1 and nowhere else (127.0.0.2 is loopback too, so a
    wildcard bind would answer there); bound to every interface it refuses to start without PAS_FLOWER_BASIC_AUTH,
    and with it asks every request for the password, which is in no process's argv."""
    local, local_port = _flower(redis_url, tmp_path)
    wide, wide_port = _flower(redis_url, tmp_path, PAS_FLOWER_ADDRESS="0.0.0.0", PAS_FLOWER_BASIC_AUTH=FLOWER_AUTH)
    bare, _ = _flower(redis_url, tmp_path, PAS_FLOWER_ADDRESS="0.0.0.0")
    try:
        assert bare.p.wait(30) != 0
        assert "PAS_FLOWER_BASIC_AUTH" in bare.output()
        wait_until(lambda: not _refused("127.0.0.1", local_port), 30, 0.1, "Flower on 127.0.0.1")
        assert requests.get(f"http://127.0.0.1:{local_port}/", timeout=5).status_code == 200
        assert _refused("127.0.0.2", local_port)
        wait_until(lambda: not _refused("127.0.0.2", wide_port), 30, 0.1, "Flower on every interface")
        url = f"http://127.0.0.2:{wide_port}"
        user, password = FLOWER_AUTH.split(":")
        for path in ("/", "/api/tasks", "/api/workers"):
            assert requests.get(url + path, timeout=5).status_code == 401, path
            assert requests.get(url + path, auth=(user, "wrong"), timeout=5).status_code == 401, path
        assert requests.get(url + "/", auth=(user, password), timeout=5).status_code == 200
        cmdline = Path(f"/proc/{wide.p.pid}/cmdline").read_bytes()
        assert b"celery" in cmdline and password.encode() not in cmdline
    finally:
        for proc in (local, wide, bare):
            proc.stop()


def test_a_redirect_from_an_allowlisted_upstream_is_not_followed(live: Live, upstreams: list[Upstream]) -> None:
    """X3: an allowlisted upstream answers 302 to an internal address (here a listener standing in for Redis):
    no call, streamed or not, through /route or /v1, ever connects there; each is one attempt and a clear 502."""
    inside = Listener()
    up = upstreams[2]
    name = f"redir-{uuid.uuid4().hex[:8]}"
    chat = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    try:
        up.reset(default=Step(status=302, location=f"http://127.0.0.1:{inside.port}/"))
        provider = {"name": name, "model": f"{name}-m", "context_window": 4000, "cost_per_input_token": 1e-6,
                    "cost_per_output_token": 1e-6, "endpoint": up.base_url}  # fmt: skip
        assert requests.post(live.url("provider-router", "/register"), json=provider, timeout=10).ok
        route = {"request_id": name, "agent": "tester", "requirements": {"provider": name}, "payload": chat}
        r = requests.post(live.url("gateway", "/route"), json=route, timeout=30)
        assert r.status_code == 502 and "http_302" in r.json()["detail"], r.text
        for stream in (False, True):
            v1 = requests.post(live.url(path="/v1/chat/completions"), json={"model": name, "stream": stream, **chat},
                               timeout=10)  # fmt: skip
            assert v1.status_code == 502 and "Location" not in v1.headers, (stream, v1.status_code, v1.text)
            assert v1.json()["error"]["code"] == "upstream_error", v1.text
        assert len(up.requests) == 3 and inside.hits == 0
    finally:
        inside.close()
        up.reset()

"""No call can loop back into PAS for ever: PAS's own gateway is refused as an upstream at registration, and every
outbound call carries X-PAS-Hops, so a loop through a proxy or a second PAS ends after MAX_HOPS gateways."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from app.domain.gateway.upstream import MAX_HOPS
from app.factory import create_app, create_tables
from config.settings import Settings
from tests.integration.conftest import Live
from tests.support import free_port
from tests.upstream import Step, Upstream

CHAT = {"messages": [{"role": "user", "content": "Say hello"}], "max_tokens": 5}
STOP_AFTER = 30  # the tests' own brake: without the guard a loop would run until the deadline


def uid(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}"


def provider(name: str, endpoint: str) -> dict[str, Any]:
    return {"name": name, "model": name, "context_window": 4000, "cost_per_input_token": 1e-6,
            "cost_per_output_token": 1e-6, "endpoint": endpoint}  # fmt: skip


def test_pas_own_gateway_is_refused_as_an_upstream(live: Live) -> None:
    offset = live.settings.pas_port_offset
    main, gateway, router = 6100 + offset, 6120 + offset, 6103 + offset
    refused = [f"http://{host}:{main}/v1" for host in ("127.0.0.1", "localhost", "[::1]", "0.0.0.0", "127.0.0.2",
                                                       "LOCALHOST", "[::ffff:127.0.0.1]", "[::]")]  # fmt: skip
    refused += [f"http://127.0.0.1:{gateway}/v1", f"http://localhost:{router}", f"https://127.0.0.1:{main}/v1"]
    for url in refused:
        r = requests.post(live.url("provider-router", "/register"), json=provider(uid("self"), url), timeout=5)
        assert r.status_code == 422 and r.json()["field"] == "endpoint", (url, r.text)
        assert "PAS's own" in r.json()["detail"], (url, r.text)
    for port in (8050, 8103):  # PAS's own model services and adapters stay allowed (pas:<port>)
        own = provider(uid("own-model"), f"http://127.0.0.1:{port + offset}/v1")
        r = requests.post(live.url("provider-router", "/register"), json=own, timeout=5)
        assert r.status_code in (200, 201), r.text


def test_the_allowlist_cannot_let_pas_own_gateway_in(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(pas_upstream_allowlist="127.0.0.1,localhost,127.0.0.1:6100"), serve_socketio=False)
    create_tables(app)
    c = app.test_client()
    for url in ("http://127.0.0.1:6100/v1", "http://localhost:6120/v1"):
        r = c.post("/api/provider-router/register", json=provider(uid("self"), url))
        assert r.status_code == 422 and r.get_json()["field"] == "endpoint", r.get_data(as_text=True)
    other = c.post("/api/provider-router/register", json=provider(uid("other"), "http://127.0.0.1:7000/v1"))
    assert other.status_code == 201  # the allowlist still works for everything else on this host


def test_a_loop_through_a_proxy_ends_after_max_hops(live: Live, upstreams: list[Upstream]) -> None:
    proxy = upstreams[1]  # forwards back to PAS's /v1, passing X-PAS-* headers on, as a proxy would
    for path in ("/v1/chat/completions", "/api/gateway/route"):
        name = uid("loop")  # one each: the failed levels of one loop trip its provider's breaker
        r = requests.post(live.url("provider-router", "/register"), json=provider(name, proxy.base_url), timeout=5)
        assert r.status_code in (200, 201), r.text
        proxy.reset(*[Step(forward_to=live.url(path="/v1/chat/completions"))] * STOP_AFTER, default=Step(status=400))
        body: dict[str, Any] = {"model": name, **CHAT}
        if path.endswith("route"):
            body = {"request_id": uid("req"), "agent": "looper", "requirements": {"provider": name}, "payload": CHAT}
        r = requests.post(live.url(path=path), json=body, timeout=30)
        assert r.status_code == 508, (path, r.status_code, r.text)
        assert "loop_detected" in r.text and "X-PAS-Hops" in r.text
        assert [h.get("x-pas-hops") for h in proxy.headers] == [str(n) for n in range(1, MAX_HOPS + 1)], path
    proxy.reset()


def test_bad_hop_headers_are_422(live: Live) -> None:
    for value in ("-1", "x", "1.5", "9" * 20):
        r = requests.post(live.url(path="/v1/chat/completions"), json={"model": "nothing", **CHAT},
                          headers={"X-PAS-Hops": value}, timeout=5)  # fmt: skip
        assert r.status_code == 422 and "X-PAS-Hops" in r.text, (value, r.text)
    r = requests.post(live.url("gateway", "/route"), headers={"X-PAS-Hops": str(MAX_HOPS)}, timeout=5,
                      json={"request_id": uid("r"), "agent": "a", "requirements": {"model": "m"}})  # fmt: skip
    assert r.status_code == 508 and r.json()["error"] == "loop_detected" and r.json()["field"] == "X-PAS-Hops"


class _Counting:
    """WSGI middleware: counts chat calls, and answers 400 past STOP_AFTER (so an unguarded loop still ends)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/v1/chat/completions":
            with self.lock:
                self.calls += 1
                over = self.calls > STOP_AFTER
            if over:
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [b'{"error":{"message":"the test stopped the loop","type":"test"}}']
        return self.app(environ, start_response)


@pytest.fixture
def two_pas(make_settings: Callable[..., Settings]) -> Iterator[tuple[tuple[Flask, int, _Counting], ...]]:
    """Two PAS apps on their own main ports, each allowlisting the other."""
    ports = free_port(), free_port()
    out, servers = [], []
    for mine, other in (ports, ports[::-1]):
        app = create_app(make_settings(pas_port=mine, pas_legacy_ports=False, pas_gateway_backoff_s=0.01,
                                       pas_upstream_allowlist=f"127.0.0.1:{other}"), serve_socketio=False)  # fmt: skip
        create_tables(app)
        counting = _Counting(app)
        server = make_server("127.0.0.1", mine, counting, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        out.append((app, mine, counting))
    yield tuple(out)
    for server in servers:
        server.shutdown()
        server.server_close()


def test_two_pas_pointing_at_each_other_stop_after_max_hops(two_pas: tuple[tuple[Flask, int, _Counting], ...]) -> None:
    (a, a_port, a_calls), (b, b_port, b_calls) = two_pas
    name = uid("ping")
    for app, other in ((a, b_port), (b, a_port)):
        reg = app.test_client().post(
            "/api/provider-router/register", json=provider(name, f"http://127.0.0.1:{other}/v1")
        )
        assert reg.status_code == 201, reg.get_data(as_text=True)
    r = requests.post(f"http://127.0.0.1:{a_port}/v1/chat/completions", json={"model": name, **CHAT}, timeout=30)
    assert r.status_code == 508 and r.json()["error"]["type"] == "loop_detected", r.text
    assert a_calls.calls + b_calls.calls == MAX_HOPS + 1  # hops 0, 1, 2 answered; hop 3 refused

"""The same HTTP edges on the development server (werkzeug, what the integration tests serve): chunked bodies held
to the body limit, a stalled body cut off with a 408; and, through the test client, `Allow` on every 405 and
`Content-Type` meaning exactly application/json."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.factory import create_app
from config.settings import Settings
from tests.raw_http import chunked, exchange, padded, post_head

LIMIT = 64 * 1024
BODY_TIMEOUT_S = 1.0
BROADCAST = "/api/event-stream/broadcast"


@pytest.fixture(scope="module")
def served(make_settings: Callable[..., Settings]) -> Iterator[int]:
    app = create_app(make_settings(pas_max_body_bytes=LIMIT, pas_body_timeout_s=BODY_TIMEOUT_S),
                     serve_socketio=False)  # fmt: skip
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.port
    server.shutdown()
    server.server_close()
    app.extensions["redis"].close()


def test_chunked_bodies_are_held_to_the_body_limit_on_the_dev_server(served: int) -> None:
    body = {"event_type": "edge.dev", "data": {}}
    over = exchange(served, post_head(BROADCAST, "Transfer-Encoding: chunked\r\n"), chunked(padded(body, 3 * LIMIT)))
    assert over.status == 413 and over.json()["error"] == "payload_too_large", over
    ok = exchange(served, post_head(BROADCAST, "Transfer-Encoding: chunked\r\n"), chunked(padded(body, LIMIT - 10)))
    assert ok.status == 200 and ok.json()["status"] == "broadcasted", ok


def test_a_stalled_body_is_cut_off_with_a_408_on_the_dev_server(served: int) -> None:
    answer = exchange(served, post_head(BROADCAST, "Content-Length: 100\r\n"), [b'{"eve'])
    assert answer.status == 408 and answer.json()["error"] == "request_timeout", answer
    assert answer.seconds < BODY_TIMEOUT_S + 2 and answer.closed, answer


def test_every_405_names_the_allowed_methods(app: Flask) -> None:
    c = app.test_client()
    cases = [
        ("DELETE", "/api/registry/register", {"POST"}),
        ("POST", "/health", {"GET"}),
        ("PUT", "/api/agent-router/health", {"GET"}),  # a service built in part: was 501
        ("PUT", "/api/agent-router/hooks/claude-code", {"POST"}),
    ]
    for method, path, allowed in cases:
        r = c.open(path, method=method)
        assert r.status_code == 405 and r.is_json and r.json["error"] == "method_not_allowed", (path, r.data)
        assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}, (path, r.headers)


@pytest.mark.parametrize("ctype", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_application_json_with_or_without_parameters_is_json(app: Flask, ctype: str) -> None:
    r = app.test_client().post(BROADCAST, data='{"event_type": "edge.ct"}', content_type=ctype)
    assert r.status_code == 200, (ctype, r.data)

"""The HTTP edges of the production web process (gunicorn + gevent, as `pas up` runs it), over raw sockets:
chunked bodies are held to the body limit, a stalled body is cut off with a 408, and gunicorn's own refusals
(request line, headers) answer in PAS's JSON error shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.raw_http import chunked, exchange, padded, post_head
from tests.support import Proc, base_env, port_offset_with_free_ports, start_web, unique_prefix, wait_http

pytestmark = pytest.mark.system
LIMIT = 64 * 1024
BODY_TIMEOUT_S = 2.0


@dataclass
class Web:
    offset: int
    proc: Proc

    def port(self, legacy: int) -> int:
        return legacy + self.offset


@pytest.fixture(scope="module")
def web(redis_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    tmp = tmp_path_factory.mktemp("edges")
    offset = port_offset_with_free_ports()
    env = base_env(
        REDIS_URL=redis_url, DATABASE_URL=database_url, PAS_KEY_PREFIX=unique_prefix("edge"),
        PAS_PORT_OFFSET=str(offset), PAS_ARTIFACTS_DIR=str(tmp), PAS_LOG_LEVEL="INFO",
        PAS_MAX_BODY_BYTES=str(LIMIT), PAS_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
    )  # fmt: skip
    proc = start_web("edges-web", env, Path(tmp))
    try:
        wait_http(f"http://127.0.0.1:{6100 + offset}/health", 40)
        yield Web(offset, proc)
    finally:
        proc.stop()


def test_chunked_bodies_are_held_to_the_body_limit(web: Web) -> None:
    reserve: dict[str, object] = {"job_id": "edge-job", "agent": "edge", "cpu": 0.1}
    broadcast: dict[str, object] = {"event_type": "edge.test", "data": {"k": 1}}
    for port, path, body in [(6104, "/reserve", reserve), (6102, "/broadcast", broadcast)]:
        over = exchange(web.port(port), post_head(path, "Transfer-Encoding: chunked\r\n"),
                        chunked(padded(body, 3 * LIMIT)))  # fmt: skip
        assert over.status == 413, (path, over)
        assert over.headers["content-type"] == "application/json" and over.json()["error"] == "payload_too_large"
        sized = padded(body, 3 * LIMIT)
        by_length = exchange(web.port(port), post_head(path, f"Content-Length: {len(sized)}\r\n"), iter([sized]))
        assert by_length.status == 413 and by_length.json()["error"] == "payload_too_large", (path, by_length)
    # Under the limit a chunked body is read whole and served, on the same keep-alive footing as any other.
    ok = exchange(web.port(6102), post_head("/broadcast", "Transfer-Encoding: chunked\r\n"),
                  chunked(padded(broadcast, LIMIT - 100), size=1000))  # fmt: skip
    assert ok.status == 200 and ok.json()["status"] == "broadcasted" and not ok.closed, ok
    # requests sends a generator chunked, all of it before reading the answer: the 413 still reaches it.
    big = (b" " * 8192 for _ in range(5 * LIMIT // 8192))
    r = requests.post(f"http://127.0.0.1:{web.port(6102)}/broadcast", data=big,
                      headers={"Content-Type": "application/json"}, timeout=10)  # fmt: skip
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_a_stalled_body_is_cut_off_with_a_408(web: Web) -> None:
    answer = exchange(web.port(6104), post_head("/reserve", "Content-Length: 100\r\n"), iter([b'{"job_']))
    assert answer.status == 408 and answer.headers["content-type"] == "application/json", answer
    assert answer.json()["error"] == "request_timeout" and "PAS_BODY_TIMEOUT_S" in answer.json()["detail"]
    assert BODY_TIMEOUT_S - 0.5 < answer.seconds < BODY_TIMEOUT_S + 2, answer.seconds
    assert answer.closed
    stalled_chunks = exchange(web.port(6102), post_head("/broadcast", "Transfer-Encoding: chunked\r\n"),
                              iter([b"5\r\n{\"eve"]))  # fmt: skip
    assert stalled_chunks.status == 408 and stalled_chunks.closed, stalled_chunks


def test_a_trickled_body_is_cut_off_at_the_deadline_too(web: Web) -> None:
    """One byte every half second never stalls a read for long: only a deadline on the whole body stops it."""

    def trickle() -> Iterator[bytes]:
        for _ in range(40):
            yield b" "
            time.sleep(0.25)

    answer = exchange(web.port(6104), post_head("/reserve", "Content-Length: 100\r\n"), trickle())
    assert answer.status == 408 and answer.seconds < BODY_TIMEOUT_S + 2, answer


@pytest.mark.parametrize(
    ("head", "status", "error"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: pas\r\n\r\n", 414, "uri_too_long"),
        (b"GET / HTTP/1.1\r\nHost: pas\r\n" + b"X-Many: 1\r\n" * 120 + b"\r\n", 431,
         "request_header_fields_too_large"),
        (b"GET / HTTP/1.1\r\nHost: pas\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n", 431,
         "request_header_fields_too_large"),
        (b"GARBAGE\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/1.1\r\nHost: pas\r\nBad Header: x\r\n\r\n", 400, "bad_request"),
    ],
    ids=["request-line", "header-count", "header-size", "request-line-malformed", "header-name"],
)  # fmt: skip
def test_gunicorn_refusals_answer_in_the_json_error_shape(web: Web, head: bytes, status: int, error: str) -> None:
    answer = exchange(web.port(6100), head)
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    body = answer.json()
    assert body["error"] == error and isinstance(body["detail"], str) and body["detail"], body
    assert answer.closed


def test_the_log_names_each_refused_body(web: Web) -> None:
    exchange(web.port(6102), post_head("/broadcast", "Transfer-Encoding: chunked\r\n"), chunked(b" " * 2 * LIMIT))
    log = web.proc.output()
    assert '"event": "request_body_refused"' in log and '"status": 413' in log

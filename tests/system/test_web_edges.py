"""The HTTP edges of the production web process (gunicorn + gevent, as `pas up` runs it), over raw sockets:
chunked bodies are held to the body limit, a stalled body or head is cut off with a 408, one client address cannot
fill the worker with slow connections, and gunicorn's own refusals (request line, headers) answer in PAS's JSON
error shape."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.raw_http import chunked, exchange, padded, post_head, read_answer
from tests.support import Proc, base_env, port_offset_with_free_ports, start_web, unique_prefix, wait_http

pytestmark = pytest.mark.system
LIMIT = 64 * 1024
BODY_TIMEOUT_S = HEAD_TIMEOUT_S = 2.0
CONNECTIONS, PER_IP = 100, 50  # the worker's pool per port, and what one address may hold
SLOW_CLIENT = "127.0.0.2"  # another machine, as far as the worker can tell; the tests' other clients are 127.0.0.1


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
        PAS_MAX_BODY_BYTES=str(LIMIT), PAS_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S), PAS_HEADER_TIMEOUT_S=str(HEAD_TIMEOUT_S),
        PAS_WEB_CONNECTIONS=str(CONNECTIONS), PAS_WEB_CONNECTIONS_PER_IP=str(PER_IP),
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
                  chunked(padded(broadcast, LIMIT - 100), size=1000), close_wait_s=HEAD_TIMEOUT_S / 2)  # fmt: skip
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


def test_a_trickled_head_is_cut_off_with_a_408_and_an_idle_connection_closed(web: Web) -> None:
    """gunicorn's keep-alive wait (it was 30 s) bounds a request head too, but cuts it without an answer."""

    def trickle() -> Iterator[bytes]:
        for _ in range(40):
            yield b"a"
            time.sleep(0.25)

    with socket.create_connection(("127.0.0.1", web.port(6100)), timeout=HEAD_TIMEOUT_S + 2) as idle:
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: pas\r\n\r\n")
        assert read_answer(idle, time.monotonic(), close_wait_s=0.01).status == 200
        answered = time.monotonic()
        answer = exchange(web.port(6121), b"GET /services HTTP/1.1\r\nHost: pas\r\nX-Slow: ", trickle())
        # Answered, then idle: closed at the deadline, without a word (an unasked-for 408 could pass for an answer).
        assert idle.recv(1) == b"" and time.monotonic() - answered < HEAD_TIMEOUT_S + 2
    assert answer.status == 408 and answer.headers["content-type"] == "application/json", answer
    assert answer.json()["error"] == "request_timeout" and "PAS_HEADER_TIMEOUT_S" in answer.json()["detail"]
    assert HEAD_TIMEOUT_S - 0.5 < answer.seconds < HEAD_TIMEOUT_S + 2 and answer.closed, answer


def test_one_address_cannot_fill_the_worker_with_slow_connections(web: Web) -> None:
    """Four times PER_IP stalled heads from one address: PER_IP are held (until their 408), the others are answered
    429 at once, and a client elsewhere is served on the same port while they are held. Without the cap the first
    CONNECTIONS fill the port's pool, which then accepts nobody until the head deadline frees it (4 s here)."""
    slow: list[socket.socket] = []
    try:
        opened = time.monotonic()
        for _ in range(4 * PER_IP):
            s = socket.create_connection(("127.0.0.1", web.port(6100)), timeout=HEAD_TIMEOUT_S + 10,
                                         source_address=(SLOW_CLIENT, 0))  # fmt: skip
            s.sendall(b"GET /health HTTP/1.1\r\nHost: pas\r\nX-Slow: ")
            slow.append(s)
        served = requests.get(f"http://127.0.0.1:{web.port(6100)}/api/registry/services", timeout=10)
        served_at = time.monotonic()
        answers = [read_answer(s, opened, close_wait_s=1) for s in slow]
    finally:
        for s in slow:
            s.close()
    assert served.status_code == 200 and served_at - opened < 1.0, served_at - opened
    endings = Counter((a.status, a.json()["error"], a.closed) for a in answers)
    assert endings == {(408, "request_timeout", True): PER_IP, (429, "too_many_requests", True): 3 * PER_IP}, endings
    assert min(a.seconds for a in answers if a.status == 408) > HEAD_TIMEOUT_S - 0.5  # held until the deadline
    assert '"event": "connections_refused"' in web.proc.output()


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

"""Raw HTTP/1.1 over a socket, for the edges a client library smooths over: chunked bodies, stalls, bad heads."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the answer
    seconds: float

    def json(self) -> dict:
        return json.loads(self.body)


def exchange(
    port: int, head: bytes, body_parts: Iterable[bytes] = (), wait_s: float = 15.0, close_wait_s: float = 3.0
) -> Answer:
    """Send `head` and then `body_parts`, read one answer (by Content-Length) and whether the server closes
    within close_wait_s."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(head)
        try:
            for part in body_parts:
                if select.select([s], [], [], 0)[0]:
                    break  # answered (or closed) before the body was all sent
                s.sendall(part)
        except OSError:
            pass  # the server may stop reading once it has answered
        return read_answer(s, started, close_wait_s)


def read_answer(s: socket.socket, started: float, close_wait_s: float = 3.0) -> Answer:
    """One answer off `s` (by Content-Length), and whether the server closes within close_wait_s."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before an answer: {data!r}")
        data += chunk
    raw_head, _, rest = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    seconds = time.monotonic() - started
    s.settimeout(close_wait_s)
    try:
        closed = s.recv(1) == b""
    except TimeoutError:
        closed = False
    except ConnectionResetError:  # closed, and reset by what the client sent after that
        closed = True
    return Answer(int(lines[0].split()[1]), headers, rest[:length], closed, seconds)


def chunked(data: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def post_head(path: str, extra: str) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: pas\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


def padded(body: dict, size: int) -> bytes:
    """Valid JSON followed by whitespace: cut anywhere past the object, it still parses."""
    raw = json.dumps(body).encode()
    return raw + b" " * (size - len(raw))

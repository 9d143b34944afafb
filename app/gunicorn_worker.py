"""The gevent worker PAS's web runs (`worker_class` in config/gunicorn.conf.py): gunicorn's own, with the two bounds
on slow clients that no gunicorn setting gives.

- A request's head (request line and headers) must arrive whole within PAS_HEADER_TIMEOUT_S of the connection's
  opening or of the previous answer. gunicorn's gevent worker has that timer already (its `keepalive`, whole
  seconds) but cuts silently; here a client that has begun a head is answered 408 in PAS's JSON shape. An idle
  keep-alive connection is still closed without a word: an answer nobody asked for could be read as the answer
  to a request sent at that instant.
- One client address holds at most PAS_WEB_CONNECTIONS_PER_IP of the worker's PAS_WEB_CONNECTIONS
  (`worker_connections`) at once; over that it is answered 429 and closed, so one slow client cannot fill the
  worker's pool (a full pool stops the worker accepting anyone).

Bodies have their own deadline, PAS_BODY_TIMEOUT_S (app/request_body.py)."""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import gevent
from gevent import socket as green_socket
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

from config.settings import get_settings

log = logging.getLogger("pas.http")


class HeadTimeout(Exception):
    """A request head was begun and not finished in time."""


class _Client(green_socket.socket):  # type: ignore[misc]  # gevent ships no types
    """A connection's socket that notes whether anything arrived since `heard` was last cleared."""

    __slots__ = ("heard",)

    def recv(self, *args: Any) -> bytes:
        data: bytes = super().recv(*args)
        if data:
            self.heard = True
        return data


class PasGeventWorker(GeventWorker):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.head_timeout_s = settings.pas_header_timeout_s
        self.per_ip = settings.pas_web_connections_per_ip
        self.open_by_ip: Counter[str] = Counter()
        self.clients: dict[Any, _Client] = {}  # greenlet -> its connection, for timeout_ctx
        self.refused, self.refused_logged_at = 0, -1.0

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        ip = addr[0] if isinstance(addr, tuple) and addr else ""
        if ip and self.per_ip and self.open_by_ip[ip] >= self.per_ip:
            self.refuse(client, ip)
            return
        if type(client) is green_socket.socket:  # not TLS: its layer cannot be moved to another object
            client = _Client(client.family, client.type, client.proto, fileno=client.detach())
        me = gevent.getcurrent()
        self.open_by_ip[ip] += 1
        if isinstance(client, _Client):
            self.clients[me] = client
        try:
            super().handle(listener, client, addr)
        finally:
            self.clients.pop(me, None)
            self.open_by_ip[ip] -= 1
            if self.open_by_ip[ip] <= 0:
                del self.open_by_ip[ip]

    @contextlib.contextmanager
    def timeout_ctx(self) -> Iterator[None]:
        """Around each read of a request head (gunicorn's keep-alive loop), the first one included."""
        client = self.clients.get(gevent.getcurrent())
        if client is not None:
            client.heard = False
        timer = gevent.Timeout(self.head_timeout_s)
        timer.start()
        try:
            yield
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            if client is not None and client.heard:
                raise HeadTimeout from None
            # Nothing of a request: gunicorn sees none and closes the connection.
        finally:
            timer.close()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, HeadTimeout):
            super().handle_error(req, client, addr, exc)
            return
        log.warning("request_head_refused", extra={"status": 408, "error": "request_timeout"})
        detail = f"the request head did not arrive within {self.head_timeout_s:g} s (PAS_HEADER_TIMEOUT_S)"
        _answer_before_close(client, 408, "Request Timeout", detail)  # gunicorn closes it next

    def refuse(self, client: Any, ip: str) -> None:
        self.refused += 1
        now = time.monotonic()
        if now - self.refused_logged_at >= 1.0:  # a flood of refusals is one line a second, with its count
            log.warning("connections_refused", extra={"status": 429, "error": "too_many_requests", "client": ip,
                                                      "count": self.refused})  # fmt: skip
            self.refused, self.refused_logged_at = 0, now
        detail = f"this address has {self.per_ip} connections open (PAS_WEB_CONNECTIONS_PER_IP)"
        _answer_before_close(client, 429, "Too Many Requests", detail)
        util.close(client)


def _answer_before_close(client: Any, status: int, reason: str, detail: str) -> None:
    """A JSON error (app/gunicorn_tuning.json_error_pages), the write side shut, and what the client has already
    sent read off: a close with unread data resets the connection, and the reset can overtake the answer. Nothing
    is waited for."""
    with contextlib.suppress(OSError):
        util.write_error(client, status, reason, detail)
        client.shutdown(socket.SHUT_WR)
        client.setblocking(False)
        for _ in range(16):
            if not client.recv(65536):
                break

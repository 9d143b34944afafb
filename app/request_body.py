"""Every request body is read here, whole, before the app sees it: held to PAS_MAX_BODY_BYTES whether it comes with
a Content-Length or chunked, and to PAS_BODY_TIMEOUT_S however slowly it arrives.

Why not leave it to werkzeug: on a chunked body its max_content_length stops reading at the limit and hands the
view the first MAX bytes, so JSON padded with whitespace past the limit was served; and neither gunicorn nor
werkzeug's dev server bounds how long a body read may block, so a client that announces 100 bytes and sends 5 holds
its connection for as long as it likes. The refusals (413, 408, 400) answer in app/errors.py's JSON shape
(OpenAI's under /v1).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import ssl
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from werkzeug.wsgi import get_content_length

log = logging.getLogger("pas.http")

_PIECE = 64 * 1024


class _Stalled(Exception):
    """The body's deadline passed."""


class _Refusal:
    """A JSON error answer; after it is written, the rest of the body is drained (so a client that sends it all
    before reading sees the answer) until the deadline, or the read side is shut so the server closes."""

    def __init__(self, guard: RequestBodyGuard, environ: dict[str, Any], body: bytes, drain: int | None) -> None:
        self._guard, self._environ, self._body, self._drain = guard, environ, body, drain

    def __iter__(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        self._guard.finish_refusal(self._environ, self._drain)


def _green_timeout() -> Any:
    """gevent's Timeout when gevent has patched the socket module (gunicorn's gevent worker), else None."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("socket"):
        return None
    import gevent

    return gevent.Timeout


class RequestBodyGuard:
    def __init__(self, wsgi_app: Any, max_bytes: int, timeout_s: float) -> None:
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        # A greenlet timeout bounds the whole read, however the client trickles it; a socket timeout (threads)
        # bounds each blocking read, which catches a stalled client.
        self._green_timeout = _green_timeout()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        te = environ.get("HTTP_TRANSFER_ENCODING")
        if not te and environ.get("CONTENT_LENGTH", "0") in ("", "0"):
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]  # no body: the hot path
        length = get_content_length(environ)  # None when chunked
        if length is None and not (te and "wsgi.input_terminated" in environ):
            # No length and a server that does not end the stream: werkzeug reads such a body as empty.
            return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        environ["pas.body_deadline"] = time.monotonic() + self.timeout_s
        environ["pas.body_stream"] = stream = environ["wsgi.input"]
        if length is not None and length > self.max_bytes:
            return self._refuse(environ, start_response, 413, drain=length)
        try:
            body, ended = self._read(environ, stream, self.max_bytes + 1 if length is None else length)
        except _Stalled:
            return self._refuse(environ, start_response, 408)
        except OSError:  # the client went away, or (dev server) sent a malformed chunk
            return self._refuse(environ, start_response, 400)
        if len(body) > self.max_bytes:
            return self._refuse(environ, start_response, 413, drain=-1)
        if length is not None and not ended and len(body) < length:
            return self._refuse(environ, start_response, 400)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # the body is now whole, of that length
        return self.wsgi_app(environ, start_response)  # type: ignore[no-any-return]

    def _read(self, environ: dict[str, Any], stream: Any, most: int, keep: bool = True) -> tuple[bytes, bool]:
        """Up to `most` bytes of the body before the deadline, and whether the stream ended first."""
        deadline: float = environ["pas.body_deadline"]
        sock = None if self._green_timeout else (environ.get("gunicorn.socket") or environ.get("werkzeug.socket"))
        pieces: list[bytes] = []
        got = 0
        ended = False
        limit = (
            self._green_timeout(max(deadline - time.monotonic(), 0.001), _Stalled())
            if self._green_timeout is not None
            else contextlib.nullcontext()
        )
        previous = sock.gettimeout() if sock is not None else None
        try:
            with limit:
                while got < most:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _Stalled
                    if sock is not None:
                        sock.settimeout(left)
                    piece = stream.read(min(_PIECE, most - got))
                    if not piece:
                        ended = True
                        break
                    got += len(piece)
                    if keep:
                        pieces.append(piece)
        except TimeoutError as exc:  # a socket timeout (threads)
            raise _Stalled from exc
        finally:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.settimeout(previous)
        return b"".join(pieces), ended

    def _refuse(self, environ: dict[str, Any], start_response: Any, status: int, drain: int | None = None) -> _Refusal:
        code, reason, detail = {
            400: ("bad_request", "Bad Request", "the request body ended early or is malformed"),
            408: ("request_timeout", "Request Timeout",
                  f"the request body did not arrive within {self.timeout_s:g} s (PAS_BODY_TIMEOUT_S)"),
            413: ("payload_too_large", "Request Entity Too Large",
                  f"the request body is over {self.max_bytes} bytes (PAS_MAX_BODY_BYTES)"),
        }[status]  # fmt: skip
        shape: dict[str, Any] = {"error": code, "detail": detail}
        if str(environ.get("PATH_INFO", "")).startswith("/v1/"):  # the OpenAI surface answers in OpenAI's shape
            shape = {"error": {"message": detail, "type": code, "param": None, "code": code}}
        body = json.dumps(shape, separators=(",", ":")).encode()
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if drain is None:  # the connection is not fit for another request
            headers.append(("Connection", "close"))  # werkzeug honours it; gunicorn drops hop-by-hop headers …
            server_response: Any = getattr(start_response, "__self__", None)
            if callable(getattr(server_response, "force_close", None)):
                server_response.force_close()  # … but closes when its Response is told to
        start_response(f"{status} {reason}", headers)
        log.warning(
            "request_body_refused",
            extra={"method": environ.get("REQUEST_METHOD"), "path": environ.get("PATH_INFO"), "status": status,
                   "error": code, "port": environ.get("SERVER_PORT")},
        )  # fmt: skip
        return _Refusal(self, environ, body, drain)

    def finish_refusal(self, environ: dict[str, Any], drain: int | None) -> None:
        """After a refusal: drain what is left of the body (drain: its length, -1 to its end) before the deadline,
        so the connection may serve the next request; otherwise shut its read side, so the server closes it."""
        if drain is not None:
            try:
                self._read(environ, environ["pas.body_stream"], sys.maxsize if drain < 0 else drain, keep=False)
                return  # the body is all read: the connection is fit for the next request
            except (_Stalled, OSError):
                pass
        sock: Any = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
        if hasattr(sock, "shutdown") and not isinstance(sock, ssl.SSLSocket):  # TLS would lose its layer
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)

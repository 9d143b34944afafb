"""One write per small response: gunicorn sends the status line and headers, then the body, as two writes (two
syscalls, often two TCP segments the client reads separately). For a response of known length whose whole body
comes in the first write, this sends both at once. Applied to the gunicorn in use only where its Response has
the attributes this relies on; otherwise gunicorn is left as it is."""

from __future__ import annotations

from typing import Any


def coalesce_headers_with_body() -> bool:
    try:
        from gunicorn import util
        from gunicorn.http.wsgi import Response
    except ImportError:
        return False
    needed = ("default_headers", "headers_sent", "chunked", "response_length", "sent", "_omits_body")
    probe = Response.__init__.__code__.co_names + tuple(vars(Response))
    if getattr(Response, "_pas_coalesced", False) or not all(n in probe for n in needed):
        return False
    original = Response.write

    def write(self: Any, arg: bytes) -> None:
        if (
            type(self) is not Response  # e.g. HTTP/2's response frames differently
            or self.headers_sent
            or not isinstance(arg, bytes)
            or not arg
            or self._omits_body
            or self.chunked
            or self.response_length is None
            or len(arg) > self.response_length
        ):
            original(self, arg)
            return
        tosend = self.default_headers()
        tosend.extend([f"{k}: {v}\r\n" for k, v in self.headers])
        head = util.to_bytestring("{}\r\n".format("".join(tosend)), "latin-1")
        self.headers_sent = True
        self.sent += len(arg)
        util.write(self.sock, head + arg)

    Response.write = write
    Response._pas_coalesced = True
    return True

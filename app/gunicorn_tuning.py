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


def json_error_pages() -> bool:
    """gunicorn answers what it refuses to parse (request line too long → 414, too many or too large headers → 431,
    a malformed line → 400) itself, as an HTML page; this makes that answer PAS's JSON error shape. Applied only
    where the worker sends it through util.write_error(sock, status_int, reason, mesg) (gunicorn 20 to 27)."""
    import inspect
    from http import HTTPStatus

    try:
        from gunicorn import util
        from gunicorn.workers.base import Worker
    except ImportError:
        return False
    original = util.write_error
    if getattr(original, "_pas_json", False):
        return False
    if list(inspect.signature(original).parameters) != ["sock", "status_int", "reason", "mesg"] or (
        "write_error" not in Worker.handle_error.__code__.co_names or not hasattr(util, "write_nonblock")
    ):
        return False

    phrases = {s.phrase: s.value for s in HTTPStatus}

    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        import json

        # gunicorn 27 answers an unsupported transfer coding 501 under the reason "Bad Request": a reason that
        # names another status gives way to this one's.
        if phrases.get(reason, status_int) != status_int:
            reason = HTTPStatus(status_int).phrase
        code = "internal_error" if status_int == 500 else reason.lower().replace(" ", "_").replace("-", "_")
        body = json.dumps({"error": code, "detail": (mesg or reason)[:300]}, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        util.write_nonblock(sock, head.encode("latin-1") + body)

    write_error._pas_json = True  # type: ignore[attr-defined]
    util.write_error = write_error
    return True

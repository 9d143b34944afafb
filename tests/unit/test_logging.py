"""Log records carry no secret: message, traceback and extra fields are scrubbed (app/logging.py)."""

from __future__ import annotations

import io
import logging
import sys
import uuid

from pythonjsonlogger.json import JsonFormatter

from app.logging import SecretFilter, _redacting_factory, redact_secrets


def test_message_traceback_and_extra_fields_lose_the_secret_and_the_rest_stays() -> None:
    secret = f"sk-unit-{uuid.uuid4().hex}"
    redact_secrets([secret])
    try:
        raise ConnectionError(f"GET https://vendor.example/v1?key={secret} failed")
    except ConnectionError:
        exc_info = sys.exc_info()
    record = _redacting_factory("pas.test", logging.ERROR, __file__, 1, "call to %s", (secret,), exc_info)
    record.detail = {"upstream": [f"Bearer {secret}"]}  # what `extra=` attaches after the factory
    record.provider = "vendor-a"
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretFilter())
    handler.handle(record)
    line = out.getvalue()
    assert secret not in line and secret[:16] not in line
    assert "?key=[REDACTED] failed" in line and "Bearer [REDACTED]" in line and "call to [REDACTED]" in line
    assert '"provider": "vendor-a"' in line and "ConnectionError" in line
    assert record.exc_info is None and record.exc_text and "[REDACTED]" in record.exc_text  # only scrubbed text
    try:
        raise ValueError("nothing secret")
    except ValueError:
        clean_exc = sys.exc_info()
    calm = _redacting_factory("pas.test", logging.INFO, __file__, 1, "nothing secret %s", ("here",), clean_exc)
    assert (calm.msg, calm.args, calm.exc_info) == ("nothing secret %s", ("here",), clean_exc)  # untouched

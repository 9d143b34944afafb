"""Schemathesis hooks for the OpenAPI fuzz (schemathesis.toml `hooks`): kept minimal, each with its reason."""

from __future__ import annotations

import ast
import sys
import threading
from typing import Any

import schemathesis

if sys.version_info < (3, 12):
    # CPython 3.11's ast.parse is not safe across threads ("SystemError: AST constructor recursion depth
    # mismatch", python/cpython#106905): Hypothesis parses lambda sources while describing strategies, and
    # Schemathesis runs two workers. One parse at a time, in this process only.
    _parse, _parse_lock = ast.parse, threading.Lock()

    def _serial_parse(*args: Any, **kwargs: Any) -> Any:
        with _parse_lock:
            return _parse(*args, **kwargs)

    ast.parse = _serial_parse


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """No global pause: `pause_all` would stop the workers taking work for the rest of the run, so every later
    POST /summarize would wait PAS_SUMMARIZE_WAIT_S and answer 504 (by design, and 5xx). It becomes `resume_all`
    (the same shape); every other action is sent as generated."""
    body = case.body
    if case.operation.path == "/api/action" and isinstance(body, dict) and body.get("action") == "pause_all":
        body["action"] = "resume_all"

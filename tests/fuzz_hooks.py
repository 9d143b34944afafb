"""Schemathesis hooks for the OpenAPI fuzz (schemathesis.toml `hooks`): kept minimal, each with its reason."""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """No global pause: `pause_all` would stop the workers taking work for the rest of the run, so every later
    POST /summarize would wait PAS_SUMMARIZE_WAIT_S and answer 504 (by design, and 5xx). It becomes `resume_all`
    (the same shape); every other action is sent as generated."""
    body = case.body
    if case.operation.path == "/api/action" and isinstance(body, dict) and body.get("action") == "pause_all":
        body["action"] = "resume_all"

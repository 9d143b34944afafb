"""Schemathesis hooks for the OpenAPI fuzz (schemathesis.toml `hooks`) and PAS's own check (V4), each with its
reason."""

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


def _resolve(spec: dict[str, Any], schema: Any) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def _members(spec: dict[str, Any], schema: Any) -> list[dict[str, Any]]:
    """A schema and, through anyOf/oneOf/allOf, every schema a value of it may match."""
    schema = _resolve(spec, schema)
    out = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            out += _members(spec, sub)
    return out


def _at(spec: dict[str, Any], roots: dict[str, Any], path: str) -> list[dict[str, Any]] | None:
    """The schemas the field path leads to in the operation (a parameter or the body), None if it leads nowhere."""
    parts = path.split(".")
    if parts == ["body"]:
        return [{}]
    if parts[0] not in roots:
        return None
    found = _members(spec, roots[parts[0]])
    for part in parts[1:]:
        step: list[dict[str, Any]] = []
        for s in found:
            if part.isdigit() and "items" in s:
                step += _members(spec, s["items"])
            elif part in s.get("properties", {}):
                step += _members(spec, s["properties"][part])
            elif s.get("additionalProperties") not in (None, False):  # a mapping: any key
                step += _members(spec, s["additionalProperties"] if isinstance(s["additionalProperties"], dict) else {})
        if not step:
            return None
        found = step
    return found


@schemathesis.check
def refusal_names_the_field(ctx: Any, response: Any, case: Any) -> None:
    """RELIABILITY V4: every 422 names the field path it refuses — a parameter or a path into the body schema, in
    PAS's shape (`field`, `errors[].field`), OpenAI's (`error.param`) or Anthropic's (`error.field`) — and an
    enum's refusal lists every allowed value. An unknown field (extra_forbidden) is not looked up: its key is
    unknown by definition."""
    if response.status_code != 422:
        return
    body = response.json()
    if isinstance(body.get("error"), dict):  # /v1, /anthropic: one field, pydantic's message (so its kind) after it
        msg = body["error"].get("message", "")
        kind = "extra_forbidden" if "Extra inputs are not permitted" in msg else ""
        items = [{"field": body["error"].get("param") or body["error"].get("field"), "msg": msg, "type": kind}]
    else:  # PAS's: `field` is the first of `errors` (a domain refusal has no list)
        items = body.get("errors") or [{"field": body.get("field"), "msg": body.get("detail", ""), "type": ""}]
        assert body.get("field") == items[0].get("field"), f"`field` is not the first error's: {body}"
    spec = case.operation.schema.raw_schema
    op = _resolve(spec, spec["paths"][case.operation.path][case.operation.method.lower()])
    roots: dict[str, Any] = {p["name"]: p.get("schema", {}) for p in map(lambda p: _resolve(spec, p),
                                                                         op.get("parameters", []))}  # fmt: skip
    content = _resolve(spec, op.get("requestBody", {})).get("content", {}).get("application/json", {})
    for member in _members(spec, content.get("schema", {})):
        roots.update(member.get("properties", {}))
    for item in items:
        field = item.get("field")
        assert isinstance(field, str) and field, f"a 422 that names no field: {body}"
        if item["type"] == "extra_forbidden":
            # the key named is unknown by definition, and may hold dots itself ("a.b" at the root, or under a
            # field): nothing to look up (test_bad_input_everywhere names it exactly, V5)
            schemas: list[dict[str, Any]] | None = [{}]
        else:
            schemas = _at(spec, roots, field)
        assert schemas is not None, f"the 422 names {field!r}, which is no field of {case.operation.label}: {body}"
        if item["type"] in ("enum", "literal_error"):
            allowed = [v for s in schemas for v in s.get("enum", [s["const"]] if "const" in s else [])]
            missing = [v for v in allowed if repr(v) not in item["msg"] and str(v) not in item["msg"]]
            assert allowed and not missing, f"the 422 on enum {field!r} lists not {missing or 'its values'}: {body}"

"""Every body-taking route, walked from url_map: malformed JSON, a wrong Content-Type (any but application/json),
an oversized body and an unknown field are clear 4xx JSON answers, never a 500; an unknown id in a path is a 404
naming it; a wrong type or an unlisted enum value in any field is a 422 naming its path (RELIABILITY V1 to V6), and
none of it changes one Redis key or SQL row of the app (V7)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from flask import Flask

from tests.support import store_snapshot

BODY_METHODS = {"POST", "PUT", "PATCH"}
# Flask's is_json takes any "+json" type; PAS takes application/json alone (parameters such as charset aside).
NOT_JSON = ["application/vnd.evil+json", "application/json-patch+json", "text/json", "application/jsonx"]
# Claude Code's hook events carry fields PAS does not know yet: accepted and ignored (README and
# test_agent_hooks_untrusted.py).
ACCEPTS_UNKNOWN_FIELDS = {"/api/agent-router/hooks/claude-code"}
# Anthropic's Messages API grows fields with every Claude Code release: they pass through to the upstream.
ACCEPTS_UNKNOWN_FIELDS |= {"/anthropic/v1/messages", "/anthropic/v1/messages/count_tokens"}
# ... and events PAS does not know yet: an unlisted hook_event_name is one of them (OtherHook), not an error.
OPEN_ENUMS = {("/api/agent-router/hooks/claude-code", "hook_event_name")}


def body_routes(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("meta_") or ("<" in rule.rule and "<job_id>" not in rule.rule):
            continue  # the 501 catch-alls of services not built yet
        for method in sorted((rule.methods or set()) & BODY_METHODS):
            out.append((method, rule.rule.replace("<job_id>", "nope")))
    return out


def test_malformed_wrong_type_and_oversized_bodies(app: Flask) -> None:
    c = app.test_client()
    routes = body_routes(app)
    assert ("POST", "/api/registry/register") in routes and ("POST", "/jobs") in routes
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    assert c.post("/jobs", json={"agent": "v7", "task": "pas.jobs.echo"}).status_code == 201  # a row to keep
    before = store_snapshot(app)
    for method, path in routes:
        malformed = c.open(path, method=method, data="{oops", content_type="application/json")
        error = malformed.json["error"]  # /v1 and /anthropic answer in their vendor's shape: {"error": {"code": …}}
        code = error["code"] if path.startswith(("/v1/", "/anthropic/")) else error
        assert malformed.status_code == 400 and code == "malformed_json", (method, path)
        wrong = c.open(path, method=method, data="a=1", content_type="application/x-www-form-urlencoded")
        assert wrong.status_code == 415 and wrong.is_json, (method, path, wrong.status_code)
        for ctype in NOT_JSON:  # a JSON body under another media type is still not application/json
            other = c.open(path, method=method, data='{"a": 1}', content_type=ctype)
            assert other.status_code == 415 and other.is_json, (method, path, ctype, other.status_code)
        huge = c.open(path, method=method, data=big, content_type="application/json")
        assert huge.status_code == 413 and huge.is_json, (method, path)
        empty_object = c.open(path, method=method, json={"unexpected_field": 1})
        assert 400 <= empty_object.status_code < 500 and empty_object.is_json, (method, path, empty_object.data)
        if path not in ACCEPTS_UNKNOWN_FIELDS and not path.startswith("/v1/"):  # V5: refused by name
            named = {(e["field"], e["type"]) for e in empty_object.json["errors"]}
            assert ("unexpected_field", "extra_forbidden") in named, (method, path, empty_object.json)
        assert store_snapshot(app) == before, (method, path)  # V7: not one Redis key nor SQL row changed
    chat = {"model": "m", "messages": [{"role": "user", "content": "x"}], "unexpected_field": 1}
    v1 = c.post("/v1/chat/completions", json=chat)  # OpenAI's error shape names one param: the unknown one
    assert v1.status_code == 422 and v1.json["error"]["param"] == "unexpected_field", v1.json
    assert store_snapshot(app) == before


def test_an_unknown_id_in_the_path_is_404_naming_it(app: Flask) -> None:
    """V6 over url_map: every route with an id in its path answers an unknown one with a 404 naming the field and
    the id; the per-run receipts and budgets answer empty instead, as API-CONTRACT fixes."""
    c = app.test_client()
    checked = []
    before = store_snapshot(app)
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint.startswith("meta_") or rule.endpoint == "static":
            continue
        (arg,) = rule.arguments
        path = rule.rule.replace(f"<{arg}>", "nope-v6").replace(f"<path:{arg}>", "nope-v6")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            r = c.open(path, method=method, json={})
            if "/receipts/" in path or "/budget/" in path:
                assert r.status_code == 200 and r.json["receipts" if "/receipts/" in path else "budget_set"] in (
                    [], False), (method, path, r.json)  # fmt: skip
                continue
            assert r.status_code == 404 and r.json["field"] == arg and "nope-v6" in r.json["detail"], (method, path)
            checked.append((method, path))
    assert ("GET", "/api/registry/services/nope-v6") in checked and ("DELETE", "/api/provider-router/providers/"
                                                                    "nope-v6") in checked  # fmt: skip
    assert store_snapshot(app) == before  # V7


@pytest.mark.parametrize("value", [None, 0, "", [], {}, 1e308, -1, True, "\u0000", "a" * 5000])
def test_odd_values_in_every_field_of_register_never_500(app: Flask, value) -> None:
    base = {"name": "n", "type": "model", "role": "staging", "url": "http://x", "caps": ["c"]}
    c = app.test_client()
    for field in [*base, "labels", "ctx_limit", "cost_hint", "heartbeat_interval_s", "ttl_s", "service_id"]:
        r = c.post("/api/registry/register", json={**base, field: value})
        assert r.status_code < 500, (field, value, r.data)


@pytest.mark.parametrize(
    "path",
    [
        "/api/alerts?limit=5&limit=6",
        "/api/registry/discover?role=canary&role=staging",
        "/api/resource-manager/reservations?limit=1&limit=2",
        "/api/event-stream/events?after=1&after=2",
    ],
)
def test_a_query_parameter_given_twice_is_422_not_the_first_taken(app: Flask, path: str) -> None:
    """The schema says one value (found by Schemathesis: `?role=a&role=b` was served with the first)."""
    r = app.test_client().get(path)
    name = path.split("?")[1].split("=", maxsplit=1)[0]
    assert r.status_code == 422 and r.json["field"] == name, r.get_data(as_text=True)
    assert app.test_client().get(path.split("&", maxsplit=1)[0]).status_code == 200


def test_budget_and_clear_refuse_a_query_field_given_twice(app: Flask) -> None:
    client = app.test_client()
    before = store_snapshot(app)
    r = client.post("/api/gateway/budget?run_id=a&run_id=b&budget_usd=1")
    assert r.status_code == 422 and r.json["field"] == "run_id", r.get_data(as_text=True)
    r = client.post("/api/token-governor/clear?agent=a&agent=b")
    assert r.status_code == 422 and r.json["field"] == "agent", r.get_data(as_text=True)
    assert store_snapshot(app) == before  # V7


# Schema walking for the wrong-type and unknown-enum cases: each body route's own schema (/openapi.json) gives its
# fields; a minimal valid body (the required fields) carries one wrong value at a time.
WRONG_VALUES = {"object": {"wrong": [1]}, "array": [{"wrong": 1}], "string": "wrong-type"}


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _branches(spec: dict, schema: dict) -> list[dict]:
    schema = _resolve(spec, schema)
    alternatives = None if "properties" in schema else schema.get("anyOf") or schema.get("oneOf")  # else constraints
    return [b for alt in alternatives for b in _branches(spec, alt)] if alternatives else [schema]


def _valid(spec: dict, schema: dict) -> object:
    s = next(b for b in _branches(spec, schema) if b.get("type") != "null")
    if "const" in s or "enum" in s:
        return s.get("const", (s.get("enum") or [None])[0])
    kind = s.get("type")
    if kind == "object":
        return {k: _valid(spec, s["properties"][k]) for k in s.get("required", [])}
    if kind == "array":
        return [_valid(spec, s.get("items", {})) for _ in range(max(1, s.get("minItems", 1)))]
    if kind in ("integer", "number"):
        return max(1, s.get("minimum", 1))
    if kind == "boolean":
        return False
    return "http://127.0.0.1:1/x" if "://" in s.get("pattern", "") else "x" * max(1, s.get("minLength", 1))


def _fields(spec: dict, schema: dict, path: tuple = (), depth: int = 2):
    """(path, schema) of every property, nested objects (and an array's first item) down to `depth`."""
    for b in _branches(spec, schema):
        items = _resolve(spec, b.get("items", {})) if b.get("type") == "array" else {}
        target, at = (items, (*path, 0)) if "properties" in items else (b, path)
        for name, sub in target.get("properties", {}).items():
            yield (*at, name), sub
            if depth > 1:
                yield from _fields(spec, sub, (*at, name), depth - 1)


def _types(spec: dict, schema: dict) -> set[str] | None:
    """The JSON types a field takes; None when anything goes."""
    out: set[str] = set()
    for b in _branches(spec, schema):
        if "type" not in b:
            return None
        out.add(b["type"])
    return out


def _put(body: object, path: tuple, value: object) -> object:
    """A copy of body with value at path (the objects and lists on the way made where missing)."""
    body = json.loads(json.dumps(body))
    node: Any = body
    for part, after in itertools.pairwise(path):
        if isinstance(part, int):
            node = node[part]
            continue
        if not isinstance(node.get(part), dict | list):
            node[part] = [{}] if isinstance(after, int) else {}
        node = node[part]
    node[path[-1]] = value
    return body


def _named(answer: dict) -> dict[str, str]:
    """field path -> message, in any error shape (PAS's `errors`, OpenAI's one `param`, Anthropic's `field`)."""
    if isinstance(answer.get("error"), dict):
        err = answer["error"]
        return {err.get("param") or err.get("field") or "": err["message"]}
    return {e["field"]: e["msg"] for e in answer.get("errors", [])} or {answer.get("field", ""): answer["detail"]}


def test_wrong_types_and_unknown_enums_on_every_body_route_are_422_naming_them_and_change_nothing(app: Flask) -> None:
    """V4 and V7 over url_map: every field of every body route (nested objects too), given a value of a type it
    does not take, or a value outside its enum, is a 422 naming its path (an enum's with every allowed value), and
    not one Redis key nor SQL row of the app changes."""
    c = app.test_client()
    spec: dict = c.get("/openapi.json").get_json()
    assert c.post("/jobs", json={"agent": "v7", "task": "pas.jobs.echo"}).status_code == 201  # a row to keep
    before = store_snapshot(app)
    cases = 0
    for method, path in body_routes(app):
        op = spec["paths"][path.replace("/nope/", "/{job_id}/")][method.lower()]
        body_schema = op["requestBody"]["content"]["application/json"]["schema"]
        for base_schema in _branches(spec, body_schema):  # a discriminated union: each member
            base = _valid(spec, base_schema)
            for field, sub in _fields(spec, base_schema):
                name = ".".join(map(str, field))
                enums = [
                    b for b in _branches(spec, sub) if len(b.get("enum", ())) > 1 and (path, name) not in OPEN_ENUMS
                ]
                types = _types(spec, sub)
                wrong = next((v for k, v in WRONG_VALUES.items() if types is not None and k not in types), None)
                for value, allowed in [(wrong, None)] * (wrong is not None) + [
                    ("not-listed", e["enum"]) for e in enums
                ]:
                    r = c.open(path, method=method, json=_put(base, field, value))
                    cases += 1
                    assert r.status_code == 422, (method, path, name, value, r.status_code, r.get_data(as_text=True))
                    named = _named(r.get_json())
                    assert name in named, (method, path, name, value, r.json)
                    assert allowed is None or all(repr(v) in named[name] for v in allowed), (path, name, named[name])
        assert store_snapshot(app) == before, (method, path)
    assert cases > 300, cases

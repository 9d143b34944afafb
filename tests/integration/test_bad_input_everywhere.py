"""Every body-taking route, walked from url_map: malformed JSON, a wrong Content-Type (any but application/json),
an oversized body and an unknown field are clear 4xx JSON answers, never a 500; an unknown id in a path is a 404
naming it (RELIABILITY V1 to V3, V5, V6)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.integration.test_registry_api import store_snapshot

BODY_METHODS = {"POST", "PUT", "PATCH"}
# Flask's is_json takes any "+json" type; PAS takes application/json alone (parameters such as charset aside).
NOT_JSON = ["application/vnd.evil+json", "application/json-patch+json", "text/json", "application/jsonx"]
# Claude Code's hook events carry fields PAS does not know yet: accepted and ignored (README and
# test_agent_hooks_untrusted.py).
ACCEPTS_UNKNOWN_FIELDS = {"/api/agent-router/hooks/claude-code"}


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
    before = store_snapshot(app)
    for method, path in routes:
        malformed = c.open(path, method=method, data="{oops", content_type="application/json")
        error = malformed.json["error"]  # /v1 answers in OpenAI's shape: {"error": {"code": …}}
        code = error["code"] if path.startswith("/v1/") else error
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
    chat = {"model": "m", "messages": [{"role": "user", "content": "x"}], "unexpected_field": 1}
    v1 = c.post("/v1/chat/completions", json=chat)  # OpenAI's error shape names one param: the unknown one
    assert v1.status_code == 422 and v1.json["error"]["param"] == "unexpected_field", v1.json
    assert store_snapshot(app) == before  # V7: not one Redis key or value changed by any of it


def test_an_unknown_id_in_the_path_is_404_naming_it(app: Flask) -> None:
    """V6 over url_map: every route with an id in its path answers an unknown one with a 404 naming the field and
    the id; the per-run receipts and budgets answer empty instead, as API-CONTRACT fixes."""
    c = app.test_client()
    checked = []
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
    r = client.post("/api/gateway/budget?run_id=a&run_id=b&budget_usd=1")
    assert r.status_code == 422 and r.json["field"] == "run_id", r.get_data(as_text=True)
    r = client.post("/api/token-governor/clear?agent=a&agent=b")
    assert r.status_code == 422 and r.json["field"] == "agent", r.get_data(as_text=True)

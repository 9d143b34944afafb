"""PAS_API_TOKEN: every mutating route needs the bearer token; a new route cannot forget the guard."""

from __future__ import annotations

import logging

import pytest
from flask import Flask

from app.factory import create_app, create_tables

TOKEN = "canary-token-5f1e2d"  # a canary: it must appear nowhere but the header


@pytest.fixture
def secured(make_settings) -> Flask:
    app = create_app(make_settings(pas_api_token=TOKEN), serve_socketio=False)
    create_tables(app)
    return app


def mutating_rules(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            path = rule.rule.replace("<path:rest>", "x").replace("<path:service_id>", "x")
            out.append((method, path))
    return out


def test_every_mutating_route_requires_the_token(secured: Flask, caplog: pytest.LogCaptureFixture) -> None:
    client = secured.test_client()
    rules = mutating_rules(secured)
    assert ("POST", "/api/registry/register") in rules and ("PUT", "/api/registry/heartbeat") in rules
    caplog.set_level(logging.INFO)
    for method, path in rules:
        none = client.open(path, method=method, json={})
        assert none.status_code == 401, (method, path)
        assert none.headers["WWW-Authenticate"] == "Bearer"
        error = none.json["error"]  # /v1 answers in OpenAI's shape, everything else in ErrorBody's
        vendor_shape = path.startswith(("/v1/", "/anthropic/"))  # OpenAI's and Anthropic's: {"error": {"code": …}}
        assert (error["code"] if vendor_shape else error) == "unauthorized", (method, path, none.json)
        wrong = client.open(path, method=method, json={}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401, (method, path)
        right = client.open(path, method=method, json={}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert right.status_code != 401, (method, path)
    assert TOKEN not in caplog.text


def test_token_in_the_query_string_is_not_accepted(secured: Flask) -> None:
    r = secured.test_client().post(f"/api/registry/deregister?access_token={TOKEN}", json={"service_id": "x"})
    assert r.status_code == 401


def test_reads_stay_open_and_legacy_ports_are_guarded(secured: Flask) -> None:
    client = secured.test_client()
    assert client.get("http://localhost:6121/health").status_code == 200
    body = {"name": "a", "type": "tool", "role": "staging", "url": "http://x", "caps": ["c"]}
    assert client.post("http://localhost:6121/register", json=body).status_code == 401
    ok = client.post("http://localhost:6121/register", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 201

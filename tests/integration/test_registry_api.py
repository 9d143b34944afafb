"""The registry's REST surface through the test client, on the legacy port (6121) and the main-port prefix."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support import store_snapshot

REG = "http://localhost:6121"


def body(**over):
    b = {
        "name": "svc",
        "type": "model",
        "role": "experimental",
        "url": "http://localhost:8050",
        "caps": ["infer", "chat"],
        "heartbeat_interval_s": 60,
    }
    b.update(over)
    return b


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_register_then_upsert_same_id(client: FlaskClient) -> None:
    r = client.post(f"{REG}/register", json=body(service_id="m-1"))
    assert r.status_code == 201
    assert r.json["service_id"] == "m-1" and r.json["created"] is True and r.json["epoch"] == 1
    r = client.post(f"{REG}/register", json=body(service_id="m-1", caps=["infer"]))
    assert r.status_code == 200 and r.json["created"] is False and r.json["epoch"] == 2
    rec = client.get(f"{REG}/services/m-1").json
    assert rec["caps"] == ["infer"] and rec["status"] == "ok" and rec["missed_beats"] == 0
    # the old cap index no longer finds it
    assert client.get(f"{REG}/discover?cap=chat").json["items"] == []


def test_raw_body_is_compact_and_greppable(client: FlaskClient) -> None:
    client.post(f"{REG}/register", json=body(service_id="g-1"))
    raw = client.get(f"{REG}/health").get_data(as_text=True)
    assert '"status":"ok"' in raw and ": " not in raw


def test_agent_without_id_upserts_by_name(client: FlaskClient) -> None:
    a = client.post(f"{REG}/register", json=body(name="architect", type="agent", caps=["planning"]))
    assert a.status_code == 201 and a.json["service_id"] == "agent-architect"
    b = client.post(f"{REG}/register", json=body(name="architect", type="agent", caps=["planning", "x"]))
    assert b.status_code == 200 and b.json["service_id"] == "agent-architect"
    # an agent registered under a custom id is still found by name
    client.post(f"{REG}/register", json=body(service_id="custom-7", name="coder", type="agent"))
    c = client.post(f"{REG}/register", json=body(name="coder", type="agent"))
    assert c.json["service_id"] == "custom-7" and c.json["created"] is False
    agents = [s for s in client.get(f"{REG}/services").json["items"] if s["type"] == "agent"]
    assert sorted(s["service_id"] for s in agents) == ["agent-architect", "custom-7"]


def test_discover_filters_and_order(client: FlaskClient) -> None:
    client.post(f"{REG}/register", json=body(service_id="old", name="dup"))
    client.post(f"{REG}/register", json=body(service_id="new", name="dup"))
    client.post(f"{REG}/register", json=body(service_id="a", name="alpha", role="production", caps=["x"]))
    client.post(f"{REG}/register", json=body(service_id="t", name="tool", type="tool", caps=["infer"]))
    items = client.get(f"{REG}/discover?name=dup").json["items"]
    assert [i["service_id"] for i in items] == ["new", "old"]  # newest registration first
    assert [i["service_id"] for i in client.get(f"{REG}/discover").json["items"]][:1] == ["a"]  # by name
    got = client.get(f"{REG}/discover?type=model&role=experimental&cap=infer").json["items"]
    assert {i["service_id"] for i in got} == {"new", "old"}
    assert client.get(f"{REG}/discover?status=ok&cap=x&ignored=1").json["items"][0]["service_id"] == "a"
    bad = client.get(f"{REG}/discover?type=robot")
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "type"
    assert "model" in bad.json["errors"][0]["msg"]  # the allowed values are named


def test_heartbeat_keeps_unsent_metrics_and_reports_skew(client: FlaskClient) -> None:
    client.post(f"{REG}/register", json=body(service_id="hb"))
    r = client.put(f"{REG}/heartbeat", json={"service_id": "hb", "p95_ms": 12.5, "queue_depth": 3})
    assert r.status_code == 200 and r.json["success"] is True and r.json["status"] == "ok"
    client.put(f"{REG}/heartbeat", json={"service_id": "hb", "status": "running", "ts": "2000-01-01T00:00:00Z"})
    rec = client.get(f"{REG}/services/hb").json
    assert rec["p95_ms"] == 12.5 and rec["queue_depth"] == 3 and rec["status"] == "running"
    assert rec["clock_skew_ms"] < -(10**11)  # shown, never used for liveness
    for hours in (1, -1):  # a client clock an hour ahead or behind (L6): accepted, skew shown, liveness unmoved
        sent = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        assert client.put(f"{REG}/heartbeat", json={"service_id": "hb", "ts": sent}).status_code == 200
        rec = client.get(f"{REG}/services/hb").json
        assert rec["status"] == "ok" and rec["missed_beats"] == 0
        assert abs(rec["clock_skew_ms"] - hours * 3_600_000) < 60_000, rec["clock_skew_ms"]
        seen = dt.datetime.fromisoformat(rec["last_heartbeat_ts"].replace("Z", "+00:00"))
        assert abs((dt.datetime.now(dt.UTC) - seen).total_seconds()) < 60  # the server's time, not the client's


def test_heartbeat_unknown_and_deregistered_ids_are_404(client: FlaskClient) -> None:
    r = client.put(f"{REG}/heartbeat", json={"service_id": "nope"})
    assert r.status_code == 404 and r.json["field"] == "service_id" and r.json["error"] == "not_found"
    client.post(f"{REG}/register", json=body(service_id="gone"))
    assert client.post(f"{REG}/deregister", json={"service_id": "gone"}).json["success"] is True
    assert client.put(f"{REG}/heartbeat", json={"service_id": "gone"}).status_code == 404  # no resurrection
    assert client.get(f"{REG}/services/gone").status_code == 404
    assert client.post(f"{REG}/deregister", json={"service_id": "gone"}).status_code == 404


def test_heartbeat_from_an_old_epoch_is_refused(client: FlaskClient) -> None:
    e1 = client.post(f"{REG}/register", json=body(service_id="ep")).json["epoch"]
    e2 = client.post(f"{REG}/register", json=body(service_id="ep")).json["epoch"]
    assert e2 == e1 + 1
    r = client.put(f"{REG}/heartbeat", json={"service_id": "ep", "epoch": e1})
    assert r.status_code == 409 and r.json["field"] == "epoch" and r.json["current_epoch"] == e2
    assert client.put(f"{REG}/heartbeat", json={"service_id": "ep", "epoch": e2}).status_code == 200


def test_promote(client: FlaskClient) -> None:
    client.post(f"{REG}/register", json=body(service_id="p1", name="pm", role="canary"))
    client.post(f"{REG}/register", json=body(service_id="p2", name="pm", role="canary"))
    r = client.post(f"{REG}/promote", json={"name": "pm", "from_role": "canary", "to_role": "production"})
    assert r.status_code == 200 and r.json["updated_instances"] == 2
    assert {i["role"] for i in client.get(f"{REG}/discover?name=pm").json["items"]} == {"production"}
    assert client.get(f"{REG}/discover?name=pm&role=canary").json["items"] == []
    again = client.post(f"{REG}/promote", json={"name": "pm", "from_role": "canary", "to_role": "production"})
    assert again.status_code == 404


def test_promote_skips_a_service_whose_record_went_while_it_ran(app: Flask, client: FlaskClient) -> None:
    # A sweep can deregister a service between promote reading the index and reading its record (CI's
    # Schemathesis run hit it: 500). The same path, made certain: the record gone, its index entries left.
    client.post(f"{REG}/register", json=body(service_id="gone", name="pz", role="canary"))
    client.post(f"{REG}/register", json=body(service_id="kept", name="pz", role="canary"))
    r = app.extensions["redis"]
    prefix = app.extensions["settings"].pas_key_prefix
    [gone_key] = [k for k in r.scan_iter(f"{prefix}:*gone*") if r.type(k) == "hash"]
    r.delete(gone_key)
    res = client.post(f"{REG}/promote", json={"name": "pz", "from_role": "canary", "to_role": "production"})
    assert res.status_code == 200 and res.json["updated_instances"] == 1
    assert [i["service_id"] for i in client.get(f"{REG}/discover?name=pz&role=production").json["items"]] == ["kept"]
    r.delete(next(k for k in r.scan_iter(f"{prefix}:*kept*") if r.type(k) == "hash"))
    res = client.post(f"{REG}/promote", json={"name": "pz", "from_role": "production", "to_role": "canary"})
    assert res.status_code == 404 and res.json["field"] == "name"


def test_promote_answers_for_a_stored_record_it_cannot_read(app: Flask, client: FlaskClient) -> None:
    client.post(f"{REG}/register", json=body(service_id="bad", name="pb", role="canary"))
    r = app.extensions["redis"]
    prefix = app.extensions["settings"].pas_key_prefix
    [key] = [k for k in r.scan_iter(f"{prefix}:*bad*") if r.type(k) == "hash"]
    r.hset(key, "reg", "{not json")
    res = client.post(f"{REG}/promote", json={"name": "pb", "from_role": "canary", "to_role": "production"})
    assert res.status_code == 404 and res.json["field"] == "name"


def test_long_intervals_and_null_labels_are_accepted(client: FlaskClient) -> None:
    for i, hb in enumerate((3600, 86400)):
        r = client.post(f"{REG}/register", json=body(service_id=f"l{i}", heartbeat_interval_s=hb, labels=None))
        assert r.status_code == 201
    assert client.get(f"{REG}/services/l1").json["labels"] is None


def test_main_port_prefix_is_the_same_service(client: FlaskClient) -> None:
    client.post("/api/registry/register", json=body(service_id="mp"))
    a = client.get(f"{REG}/services/mp")
    b = client.get("/api/registry/services/mp")
    assert a.status_code == b.status_code == 200 and a.json == b.json


@pytest.mark.parametrize(
    ("send", "status", "error", "field"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json", None),
        ({"data": "name=x", "content_type": "application/x-www-form-urlencoded"}, 415, None, None),
        ({"json": {**body(), "heartbeat_interval_s": "60"}}, 422, "validation_error", "heartbeat_interval_s"),
        ({"json": {k: v for k, v in body().items() if k != "url"}}, 422, "validation_error", "url"),
        ({"json": {**body(), "role": "boss"}}, 422, "validation_error", "role"),
        ({"json": {**body(), "caps": [1]}}, 422, "validation_error", "caps.0"),
        ({"json": {**body(), "api_base": "http://evil"}}, 422, "validation_error", "api_base"),
        ({"json": {**body(), "url": "file:///etc/passwd"}}, 422, "validation_error", "url"),
        ({"json": {**body(), "heartbeat_interval_s": 86401}}, 422, "validation_error", "heartbeat_interval_s"),
        ({"json": {**body(), "name": "x" * 101}}, 422, "validation_error", "name"),
        ({"data": json.dumps({**body(), "labels": {"x": "y" * (1 << 20)}}), "content_type": "application/json"},
         413, None, None),
        ({"json": [1, 2]}, 422, "validation_error", None),
    ],
    ids=["malformed", "form", "string-int", "missing-url", "bad-enum", "cap-type", "unknown-field",
         "file-url", "interval-range", "long-name", "too-large", "array-body"],
)  # fmt: skip
def test_bad_register_input_is_4xx_json_and_changes_nothing(app: Flask, send, status, error, field) -> None:
    client = app.test_client()
    client.post(f"{REG}/register", json=body(service_id="keep"))
    before = store_snapshot(app)
    r = client.post(f"{REG}/register", **send)
    assert r.status_code == status, r.data
    assert r.is_json
    if error:
        assert r.json["error"] == error
    if field:
        assert r.json["field"] == field and r.json["errors"][0]["field"] == field
    assert store_snapshot(app) == before


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script>",
        "'; DROP TABLE x;--",
        "../../etc/passwd",
        "{{7*7}}",
        "a:b*{c}",
        "emoji 🚀",
        "名前",
    ],
)
def test_hostile_names_are_stored_verbatim(app: Flask, client: FlaskClient, name: str) -> None:
    sid = f"id:{name}*{{x}}"
    r = client.post(f"{REG}/register", json=body(service_id=sid, name=name, caps=[name]))
    assert r.status_code == 201
    keys = list(app.extensions["redis"].scan_iter(f"{app.extensions['settings'].pas_key_prefix}:*"))
    assert not [k for k in keys if name in k or sid in k], "a client string used as a raw Redis key"
    got = client.get(f"{REG}/discover", query_string={"name": name}).json["items"]
    assert [(g["service_id"], g["name"]) for g in got] == [(sid, name)]
    assert client.get(f"{REG}/discover", query_string={"cap": name}).json["items"][0]["service_id"] == sid


@pytest.mark.parametrize("bad", ["a\u0000b", "\u202eevil", "x\u2066y", "tab\t", "\x7f"])
def test_control_and_bidi_characters_in_ids_are_refused(client: FlaskClient, bad: str) -> None:
    """Ids and names are printable text (emoji welcome): no Cc characters, no bidi overrides (README)."""
    for field, fields in (("name", {"service_id": "ok", "name": bad}), ("service_id", {"service_id": bad})):
        r = client.post(f"{REG}/register", json=body(**fields))
        assert r.status_code == 422 and r.json["field"] == field, r.json
    assert client.get(f"{REG}/services/ok").status_code == 404  # nothing half-written


def test_unknown_paths_and_unbuilt_services(client: FlaskClient) -> None:
    r = client.get(f"{REG}/nothing-here")
    assert r.status_code == 404 and r.is_json
    r = client.get("http://localhost:8050/info")  # a local model, not loaded: its facts still answer
    assert r.status_code == 200 and r.json["service_name"] == "llm_llama31_8b"
    r = client.post("http://localhost:8050/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 503 and r.json["error"] == "model_unavailable" and "llm_llama31_8b.gguf" in r.json["detail"]
    r = client.post("http://localhost:8100/chat/completions", json={})  # built: a body without messages is refused
    assert r.status_code == 422 and r.json["field"] == "messages"


def test_every_port_serves_index_openapi_and_docs(client: FlaskClient) -> None:
    from config.ports import SERVICES

    for s in SERVICES:
        base = f"http://localhost:{s.port}"
        spec = client.get(f"{base}/openapi.json")
        assert spec.status_code == 200 and spec.json["info"]["title"], s.slug
        assert client.get(f"{base}/docs").status_code == 200
        if s.slug != "hmi":
            idx = client.get(f"{base}/").json
            assert idx["port"] == s.port and idx["docs"] == "/docs"
    reg = client.get(f"{REG}/openapi.json").json
    assert "/register" in reg["paths"] and "/heartbeat" in reg["paths"]
    main = client.get("/openapi.json").json
    assert "/api/registry/register" in main["paths"] and "/api/heartbeat-monitor/alerts" in main["paths"]
    schema = main["paths"]["/api/registry/register"]["post"]["requestBody"]["content"]["application/json"]
    assert schema["schema"]["$ref"].split("/")[-1].startswith("RegisterRequest")


def test_openapi_links_lead_from_each_created_resource_to_its_reads(client: FlaskClient) -> None:
    """POST /jobs → GET /jobs/{job_id} and its kill, register → GET /services/{service_id}, a provider → its read and
    delete: each link names an operation the document has and a path parameter of it (the fuzz's stateful phase and
    clients follow them); the id the link reads is really where it points in the answer."""
    spec = client.get("/openapi.json").json
    ops = {op["operationId"]: (path, op) for path, item in spec["paths"].items() for op in item.values()}
    links = [(path, link) for path, item in spec["paths"].items() for op in item.values()
             for response in op["responses"].values() for link in response.get("links", {}).values()]  # fmt: skip
    assert {path for path, _ in links} == {"/jobs", "/api/registry/register", "/api/provider-router/register"}
    for _, link in links:
        target_path, target = ops[link["operationId"]]
        path_params = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
        assert set(link["parameters"]) == path_params, (link, target_path)
    r = client.post(f"{REG}/register", json=body(service_id="linked"))
    assert r.status_code == 201 and r.json["service_id"] == "linked"  # $response.body#/service_id

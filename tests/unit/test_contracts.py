"""The committed JSON Schemas are the export of the Pydantic models, and both accept and refuse the same bodies."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from contracts.export import DIR, SCHEMAS, export

GOOD: dict[str, dict] = {
    "service_registration": {"name": "m", "type": "model", "role": "canary", "url": "internal://m", "caps": ["x"],
                             "labels": {"parent": "architect"}, "heartbeat_interval_s": 86400, "ttl_s": 604800},
    "service_heartbeat": {"service_id": "m", "status": "running", "p95_ms": 12.5, "queue_depth": 2, "progress": 50},
    "service_discovery_query": {"type": "model", "role": "experimental", "cap": "infer"},
    "heartbeat_alert": {"alert_type": "service_down", "service_id": "m", "service_name": "m", "missed_beats": 2,
                        "last_seen": "2026-01-01T00:00:00.000Z", "action": "marked_down",
                        "ts": "2026-01-01T00:00:02.000Z", "parent": None, "seq": 7, "severity": "critical"},
    "event_envelope": {"event_type": "alert", "seq": 1, "ts": "t", "source": "s", "data": {},
                       "server_timestamp": "t"},
    "job_card": {"agent": "a", "task": "pas.jobs.echo", "args": [1], "resources": {"cpu": 0.5, "ports": [8080]}},
    "resource_request": {"job_id": "j", "agent": "a", "cpu": 4, "mem_mb": 8192, "gpu": 1, "gpu_mem_mb": 4096},
    "agent_config": {"name": "architect", "display_name": "Architect", "agent_role": "coord", "tier": 1,
                     "capabilities": ["planning"]},
    "provider_registration": {"name": "test-gpt-3.5", "model": "gpt-3.5-turbo", "context_window": 16385,
                              "cost_per_input_token": 5e-7, "cost_per_output_token": 1.5e-6,
                              "endpoint": "http://localhost:8100", "slo": {"latency_p95_ms": 900}},
    "provider_select": {"requirements": {"capability": "chat", "context_window": 4000}, "optimization": "latency"},
    "route_request": {"request_id": "r1", "agent": "a", "run_id": "test-run", "requirements": {"model": "gpt-4"},
                      "payload": {"messages": [{"role": "user", "content": "hi"}]}},
    "invoke_request": {"target": {"type": "model", "require_caps": ["chat"]}, "policy": {"prefer": "fastest"}},
    "receipt": {"receipt_id": "x", "request_id": "r", "run_id": "d", "agent": "a", "timestamp": "t", "provider": "p",
                "model": "m", "input_tokens": 1, "output_tokens": 2, "tokens_exact": True, "cost_usd": 0.1,
                "latency_ms": 3.5, "status": "success"},
    "chat_completion_request": {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": True},
}  # fmt: skip

BAD: list[tuple[str, dict, str]] = [
    ("service_registration", {"type": "model", "role": "canary", "url": "http://x", "caps": ["x"]}, "missing name"),
    ("service_registration", {**GOOD["service_registration"], "type": "robot"}, "bad enum"),
    ("service_registration", {**GOOD["service_registration"], "caps": []}, "no caps"),
    ("service_registration", {**GOOD["service_registration"], "url": "ftp://x"}, "bad url"),
    ("service_registration", {**GOOD["service_registration"], "heartbeat_interval_s": 0}, "interval 0"),
    ("service_registration", {**GOOD["service_registration"], "heartbeat_interval_s": 86401}, "interval too big"),
    ("service_registration", {**GOOD["service_registration"], "api_base": "x"}, "unknown field"),
    ("service_registration", {**GOOD["service_registration"], "heartbeat_interval_s": "60"}, "string int"),
    ("service_heartbeat", {"status": "ok"}, "missing id"),
    ("service_heartbeat", {"service_id": "m", "status": "sleepy"}, "bad status"),
    ("service_heartbeat", {"service_id": "m", "queue_depth": -1}, "negative"),
    ("service_discovery_query", {"type": "robot"}, "bad enum"),
    ("heartbeat_alert", {**GOOD["heartbeat_alert"], "action": "panic"}, "bad action"),
    ("job_card", {"agent": "a"}, "missing task"),
    ("job_card", {**GOOD["job_card"], "priority": 10}, "priority range"),
    ("job_card", {**GOOD["job_card"], "resources": {"cpu": -1}}, "negative cpu"),
    ("resource_request", {**GOOD["resource_request"], "mem_mb": -5}, "negative mem"),
    ("resource_request", {**GOOD["resource_request"], "ports": [0]}, "port 0"),
    ("resource_request", {"agent": "a"}, "missing job_id"),
    ("agent_config", {**GOOD["agent_config"], "agent_role": "boss"}, "bad role"),
    ("agent_config", {**GOOD["agent_config"], "tier": "1"}, "string tier"),
    ("provider_registration", {**GOOD["provider_registration"], "context_window": 0}, "context 0"),
    ("provider_registration", {**GOOD["provider_registration"], "cost_per_input_token": -1}, "negative cost"),
    ("provider_registration", {**GOOD["provider_registration"], "api_key": "sk"}, "unknown field"),
    ("provider_select", {"optimization": "cheapest"}, "bad enum"),
    ("route_request", {**GOOD["route_request"], "request_id": ""}, "empty id"),
    ("route_request", {"agent": "a", "requirements": {}}, "missing request_id"),
    ("invoke_request", {"target": {"type": "robot"}}, "bad type"),
    ("receipt", {**GOOD["receipt"], "status": "maybe"}, "bad status"),
    ("chat_completion_request", {**GOOD["chat_completion_request"], "base_url": "http://evil"}, "unknown field"),
    ("chat_completion_request", {"model": "m", "messages": []}, "no messages"),
]


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((DIR / f"{name}.schema.json").read_text()))


def test_committed_schemas_equal_a_fresh_export() -> None:
    assert export(check=True) == []
    for name in SCHEMAS:
        assert (DIR / f"{name}.schema.json").is_file()


@pytest.mark.parametrize("name", sorted(GOOD))  # service_record is a response: the API tests cover it
def test_good_examples_pass_model_and_schema(name: str) -> None:
    model: type[BaseModel] = SCHEMAS[name]
    if name == "service_discovery_query":  # a query model: parsed from the query string's dict
        model.model_validate(GOOD[name])
    else:
        model.model_validate_json(json.dumps(GOOD[name]))
    assert schema(name).is_valid(GOOD[name])


@pytest.mark.parametrize(("name", "body", "why"), BAD, ids=[f"{n}-{w}" for n, _b, w in BAD])
def test_bad_examples_fail_model_and_schema(name: str, body: dict, why: str) -> None:
    model: type[BaseModel] = SCHEMAS[name]
    with pytest.raises(ValidationError):
        if name == "service_discovery_query":
            model.model_validate(body)
        else:
            model.model_validate_json(json.dumps(body))
    assert not schema(name).is_valid(body), why


def test_query_models_ignore_unknown_parameters() -> None:
    query = SCHEMAS["service_discovery_query"].model_validate({"type": "model", "utm_source": "x"})
    assert query.model_dump(exclude_none=True) == {"type": "model"}

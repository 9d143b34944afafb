"""The committed JSON Schemas are the export of the Pydantic models, and both accept and refuse the same bodies."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from contracts.common import Request
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
                     "capabilities": ["planning"], "rights": ["Read", "Grep"], "budget_class": "coordinator",
                     "token_target": 0.5, "token_hard_max": 0.75, "resources": {"cpu": 1.0, "mem_mb": 1024},
                     "heartbeat_interval_s": 30, "model_preferences": {"capability": "reasoning"},
                     "description": "Use first for any multi-step goal.", "claude_model": "opus",
                     "system_prompt": "You are the Architect. " * 10},
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
    "agent_discover_request": {"capabilities": ["planning"], "agent_role": "coord", "tier": 1, "limit": 50},
    "agent_invoke_request": {"request_id": "r1", "agent_name": "architect", "run_id": "run-1", "timeout_s": 10,
                             "payload": {"goal": "plan", "n": [1]}, "transport": "mcp"},
}  # fmt: skip

BAD: list[tuple[str, dict, str]] = [
    ("agent_invoke_request", {"request_id": "r1"}, "neither agent_name nor capabilities"),
    ("agent_invoke_request", {"request_id": "r1", "agent_name": None}, "agent_name null"),
    ("agent_invoke_request", {"request_id": "r1", "capabilities": []}, "no capabilities"),
    ("agent_invoke_request", {"agent_name": "architect"}, "no request_id"),
    ("agent_invoke_request", {"request_id": "r1", "agent_name": "architect", "transport": "smtp"}, "bad transport"),
    ("agent_invoke_request", {"request_id": "r1", "agent_name": "architect", "timeout_s": 0}, "timeout 0"),
    ("agent_discover_request", {"tier": "1"}, "tier as a string"),
    ("agent_discover_request", {"limit": 0}, "limit 0"),
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
    ("agent_config", {**GOOD["agent_config"], "rights": ["Read", "Teleport"]}, "unknown Claude Code tool"),
    ("agent_config", {**GOOD["agent_config"], "name": "Architect_1"}, "not lowercase-hyphen"),
    ("agent_config", {**GOOD["agent_config"], "claude_model": "gpt-4"}, "bad Claude model"),
    ("agent_config", {**GOOD["agent_config"], "description": ""}, "no description"),
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


def request_models() -> list[type[BaseModel]]:
    """Every model a client's body or query string is parsed into."""
    import importlib
    import pkgutil

    import contracts
    from contracts.common import Query

    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, Request | Query) and obj not in (Request, Query):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def _numbers(node: object, path: str = "") -> list[tuple[str, dict]]:
    """The int and float nodes of a pydantic core schema, with where they were found."""
    out: list[tuple[str, dict]] = []
    if isinstance(node, dict):
        if node.get("type") in ("int", "float"):
            out.append((path, node))
        for k, v in node.items():
            out += _numbers(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _numbers(v, f"{path}[{i}]")
    return out


@pytest.mark.parametrize("model", request_models(), ids=lambda m: m.__qualname__)
def test_every_number_a_client_sends_fits_its_storage_exactly(model: type[BaseModel]) -> None:
    """Integers within ±(2^53 - 1) (Lua doubles, SQL BIGINT, JSON readers), floats finite: one rule, everywhere."""
    from contracts.common import MAX_SAFE_INT

    for where, node in _numbers(model.__pydantic_core_schema__):
        if node["type"] == "float":
            assert node.get("allow_inf_nan") is False, f"{model.__qualname__}{where}: inf/nan allowed"
            continue
        upper = node.get("le", node.get("lt"))
        lower = node.get("ge", node.get("gt"))
        assert upper is not None and upper <= MAX_SAFE_INT, f"{model.__qualname__}{where}: no safe upper bound"
        assert lower is not None and lower >= -MAX_SAFE_INT, f"{model.__qualname__}{where}: no safe lower bound"


@pytest.mark.parametrize(("value", "ok"), [(343.0, True), (1e3, True), (343.5, False), ("343", False), (True, False),
                                           (1e300, False)])  # fmt: skip
def test_an_integral_float_is_an_integer_and_nothing_else_is(value: object, ok: bool) -> None:
    """JSON Schema's `integer` takes 343.0 (one JSON number type): so does every integer field, top-level, optional,
    nested or in a list; the committed schema and the model agree."""
    from contracts.provider_router import ProviderRegisterRequest, SelectRequest
    from contracts.registry import HeartbeatRequest
    from contracts.resource_manager import ResourceRequest

    cases: list[tuple[type[BaseModel], dict, str]] = [
        (ProviderRegisterRequest, {**GOOD["provider_registration"], "context_window": value}, "provider_registration"),
        (HeartbeatRequest, {"service_id": "m", "queue_depth": value}, "service_heartbeat"),
        (SelectRequest, {"requirements": {"context_window": value}}, "provider_select"),
        (ResourceRequest, {**GOOD["resource_request"], "ports": [value]}, "resource_request"),
    ]
    for model, body, name in cases:
        if ok:
            model.model_validate_json(json.dumps(body))
            assert schema(name).is_valid(body), name
        else:
            with pytest.raises(ValidationError):
                model.model_validate_json(json.dumps(body))
            assert not schema(name).is_valid(body), name
    got = ProviderRegisterRequest.model_validate_json(json.dumps(cases[0][1])).context_window if ok else None
    assert got is None or (type(got) is int and got == value)


ID_FIELDS = {"service_id", "agent", "run_id", "job_id", "reservation_id", "request_id", "parent_job_id"}


def _has_pattern(prop: dict) -> bool:
    return "pattern" in prop or any(_has_pattern(p) for p in prop.get("anyOf", []))


@pytest.mark.parametrize("model", [m for m in request_models() if issubclass(m, Request)], ids=lambda m: m.__qualname__)
def test_every_id_a_client_stores_has_a_documented_pattern(model: type[BaseModel]) -> None:
    props = model.model_json_schema()["properties"]
    for name in ID_FIELDS & set(props):
        assert _has_pattern(props[name]), f"{model.__qualname__}.{name} has no pattern"


@pytest.mark.parametrize(
    "value",
    [
        "llm_tinyllama_1b",
        "agent-123",
        "6f1c2a5e-9b7d-4c1e-8f00-0a1b2c3d4e5f",
        "run/../1",
        "a:b*{c}",
        "<script>alert(1)</script>",
        "🤖 agent",
        "名前",
    ],
)
def test_ids_the_clients_use_are_accepted(value: str) -> None:
    from contracts.registry import HeartbeatRequest, RegisterRequest
    from contracts.token_governor import TrackRequest

    HeartbeatRequest.model_validate_json(json.dumps({"service_id": value}))
    RegisterRequest.model_validate_json(json.dumps({**GOOD["service_registration"], "service_id": value,
                                                    "name": value[:100]}))  # fmt: skip
    TrackRequest.model_validate_json(json.dumps({"agent": value, "run_id": value, "ctx_used": 1, "ctx_limit": 2}))
    assert schema("service_heartbeat").is_valid({"service_id": value})


@pytest.mark.parametrize("value", ["a\u0000b", "evil\u202egpj.exe", "\u2066x", "tab\there", "new\nline", "\x7f",
                                   "\u0085", ""])  # fmt: skip
def test_ids_with_control_or_bidi_characters_are_refused(value: str) -> None:
    from contracts.registry import HeartbeatRequest, RegisterRequest
    from contracts.token_governor import TrackRequest

    cases: list[tuple[type[BaseModel], dict, str]] = [
        (HeartbeatRequest, {"service_id": value}, "service_id"),
        (RegisterRequest, {**GOOD["service_registration"], "name": value}, "name"),
        (TrackRequest, {"agent": value, "ctx_used": 1, "ctx_limit": 2}, "agent"),
        (TrackRequest, {"agent": "a", "run_id": value, "ctx_used": 1, "ctx_limit": 2}, "run_id"),
    ]
    for model, body, field in cases:
        with pytest.raises(ValidationError) as err:
            model.model_validate_json(json.dumps(body))
        assert err.value.errors()[0]["loc"][0] == field
    assert not schema("service_heartbeat").is_valid({"service_id": value})


def test_each_hook_event_is_valid_against_exactly_one_branch_of_the_hook_schema() -> None:
    """A known event is its own model, never also OtherHook (Schemathesis: a SessionEnd matched two `oneOf` branches,
    so a valid hook read as schema-invalid)."""
    from contracts.hooks import KNOWN_EVENTS

    validator = schema("claude_code_hook")
    for name in [*KNOWN_EVENTS, "Notification"]:
        body = {"session_id": "s", "hook_event_name": name, "tool_name": "Read", "tool_use_id": "u", "agent_id": "a",
                "agent_type": "t"}  # fmt: skip
        assert validator.is_valid(body), name


def test_an_integral_float_is_an_integer_in_a_union_with_a_string_too() -> None:
    """`keep_alive: str | int` (Ollama's "5m" or seconds): 300.0 is the integer 300, not a float the string member
    passes on (the fuzz's positive_data_acceptance found it refused)."""
    from contracts.models import GenerateRequest

    def keep_alive(value: object) -> object:
        return GenerateRequest.model_validate_json(json.dumps({"prompt": "p", "keep_alive": value})).keep_alive

    assert keep_alive(300.0) == 300 and type(keep_alive(300.0)) is int
    assert keep_alive("5m") == "5m" and keep_alive(0) == 0
    for bad in (300.5, True, [1]):
        with pytest.raises(ValidationError):
            keep_alive(bad)

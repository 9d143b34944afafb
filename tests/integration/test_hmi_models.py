"""Models in the HMI tree (issue 12): type "model" records — the local GGUF models and the vendor adapters, as they
register themselves — under a root-level "models" branch grouped by provider, with status, reason, provider, model
and caps; a status change by heartbeat is a status_update carrying the reason. Registered over the real registry
API (no model worker needed); a reason in HTML is data, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

HMI = "http://localhost:6101"
MAIN = "http://localhost:6100"
EVIL_REASON = "model file missing: <img src=x onerror=alert(1)>"


@pytest.fixture
def c(app: Flask) -> FlaskClient:
    return app.test_client()


def local_model(service_id: str, model: str, caps: list[str], **labels: Any) -> dict[str, Any]:
    """What app/domain/local_models registers for a configured model."""
    return {"service_id": service_id, "name": service_id, "type": "model", "role": "production",
            "url": "http://127.0.0.1:8051", "caps": caps, "ctx_limit": 2048, "cost_hint": {"usd_per_1k": 0},
            "labels": {"provider": "local", "model": model, "kind": "chat", "context_window": 2048, **labels},
            "heartbeat_interval_s": 3600}  # fmt: skip


VENDOR_PORTS = {"openai": 8100, "anthropic": 8101, "gemini": 8102, "grok": 8103}


def vendor_model(provider: str, model: str) -> dict[str, Any]:
    """What a vendor adapter registers (API-CONTRACT §12): `<provider>-<model>`, labels naming the provider."""
    return {"service_id": f"{provider}-{model}", "name": f"{provider}-{model}", "type": "model",
            "role": "production", "url": f"http://127.0.0.1:{VENDOR_PORTS[provider]}",
            "caps": ["planning", "reasoning"], "heartbeat_interval_s": 3600,
            "labels": {"provider": provider, "model": model, "context_window": 128000}}  # fmt: skip


def register(c: FlaskClient, body: dict[str, Any]) -> None:
    r = c.post(f"{MAIN}/api/registry/register", json=body)
    assert r.status_code in (200, 201), r.json


def beat(c: FlaskClient, service_id: str, status: str, message: str | None = None) -> None:
    body = {"service_id": service_id, "status": status, **({"message": message} if message is not None else {})}
    r = c.put(f"{MAIN}/api/registry/heartbeat", json=body)
    assert r.status_code == 200, r.json


def register_all(c: FlaskClient) -> None:
    register(c, local_model("llm_tinyllama_1b", "tinyllama-1.1b-chat", ["classification", "tagging"],
                            file="llm_tinyllama_1b.gguf", file_model="pas-tiny", host="h1"))  # fmt: skip
    register(c, local_model("tlc_domain_classifier", "tinyllama-1.1b-chat", ["domain_classification"],
                            missing="tinyllama.gguf"))  # fmt: skip
    register(c, vendor_model("openai", "gpt-4-turbo"))
    register(c, vendor_model("anthropic", "claude-sonnet-4-5-20250929"))
    # an agent that names a model as its parent stays among the agents: models hang under no one, and no one
    # under them
    register(c, {"name": "planner", "type": "agent", "role": "production", "url": "internal://p", "caps": ["c"],
                 "labels": {"parent": "llm_tinyllama_1b"}})  # fmt: skip


def branch_of(tree: Any) -> dict[str, Any]:
    (models,) = [n for n in tree["children"] if n["group"] == "models"]
    return models


def test_models_branch_groups_by_provider_with_status_reason_and_caps(c: FlaskClient) -> None:
    assert c.get(f"{HMI}/api/tree").json["children"] == []  # no model: no branch
    register_all(c)
    beat(c, "tlc_domain_classifier", "degraded", EVIL_REASON)
    tree = c.get(f"{MAIN}/api/tree").json
    assert tree["name"] == "PAS Root" and tree["status"] == "running"
    top = {n["name"]: n for n in tree["children"]}
    assert set(top) == {"planner", "models"}
    assert top["planner"]["children"] == [] and top["planner"]["group"] is None
    models = branch_of(tree)
    assert models["service_id"] is None and models["type"] is None and models["status"] == "degraded"
    # local first, then the vendors by name
    assert [(g["name"], g["group"], g["provider"]) for g in models["children"]] == [
        ("local", "models/local", "local"), ("anthropic", "models/anthropic", "anthropic"),
        ("openai", "models/openai", "openai"),
    ]  # fmt: skip
    local, anthropic, openai = models["children"]
    assert local["status"] == "degraded" and openai["status"] == "ok" and anthropic["status"] == "ok"
    assert [m["service_id"] for m in local["children"]] == ["llm_tinyllama_1b", "tlc_domain_classifier"]
    tiny, tlc = local["children"]
    assert tiny == {
        "name": "llm_tinyllama_1b", "service_id": "llm_tinyllama_1b", "status": "ok", "port": None,
        "last_heartbeat": tiny["last_heartbeat"], "agent_role": None, "tier": None, "type": "model",
        "ctx_ratio": None, "display_name": None, "tokens": None, "cost_usd": None, "runs": None, "group": None,
        "provider": "local", "model": "tinyllama-1.1b-chat", "caps": ["classification", "tagging"], "reason": None,
        "children": [],
    }  # fmt: skip
    # the degraded one says why, byte for byte (the JSON carries it as data; the pages write it as text)
    assert (tlc["status"], tlc["reason"]) == ("degraded", EVIL_REASON)
    (gpt,) = openai["children"]
    assert (gpt["service_id"], gpt["model"], gpt["caps"]) == ("openai-gpt-4-turbo", "gpt-4-turbo",
                                                              ["planning", "reasoning"])  # fmt: skip
    # the same tree on the HMI's legacy port
    assert c.get(f"{HMI}/api/tree").json == tree


def test_a_status_change_by_heartbeat_is_a_status_update_with_its_reason(c: FlaskClient) -> None:
    register_all(c)
    after = c.get(f"{MAIN}/api/event-stream/events?after=0&limit=1000").json["events"][-1]["seq"]
    beat(c, "openai-gpt-4-turbo", "degraded", "OPENAI_API_KEY is not set")
    beat(c, "openai-gpt-4-turbo", "degraded", "OPENAI_API_KEY is not set")  # no change: no event
    beat(c, "llm_tinyllama_1b", "ok")  # no change either
    openai = branch_of(c.get(f"{HMI}/api/tree").json)["children"][2]
    assert openai["status"] == "degraded" and openai["children"][0]["reason"] == "OPENAI_API_KEY is not set"
    beat(c, "openai-gpt-4-turbo", "ok")  # the key came: ok, and the old message is no reason any more
    events = c.get(f"{MAIN}/api/event-stream/events?after={after}&limit=1000").json["events"]
    updates = [e for e in events if e["event_type"] == "status_update"]
    assert [(e["data"]["service_id"], e["data"]["from"], e["data"]["to"], e["data"]["message"]) for e in updates] == [
        ("openai-gpt-4-turbo", "ok", "degraded", "OPENAI_API_KEY is not set"),
        ("openai-gpt-4-turbo", "degraded", "ok", "OPENAI_API_KEY is not set"),
    ]  # fmt: skip
    assert all(e["topic"] == "agents" and e["source"] == "registry" for e in updates)  # the tree's topic
    gpt = branch_of(c.get(f"{HMI}/api/tree").json)["children"][2]["children"][0]
    assert (gpt["status"], gpt["reason"]) == ("ok", None)


def test_a_model_without_a_provider_label_is_grouped_as_unknown(c: FlaskClient) -> None:
    register(c, {"service_id": "bare-model", "name": "bare-model", "type": "model", "role": "canary",
                 "url": "http://x:1", "caps": ["c"], "labels": None})  # fmt: skip
    register(c, {"service_id": "odd-model", "name": "odd-model", "type": "model", "role": "canary",
                 "url": "http://x:1", "caps": ["c"], "labels": {"provider": 7, "model": ["x"]}})  # fmt: skip
    (group,) = branch_of(c.get(f"{HMI}/api/tree").json)["children"]
    assert group["group"] == "models/unknown"
    assert [(m["service_id"], m["provider"]) for m in group["children"]] == [("bare-model", "unknown"),
                                                                             ("odd-model", "unknown")]  # fmt: skip

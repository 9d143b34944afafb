"""The committed *.schema.json files, generated from the models (`pas contracts export [--check]`)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from contracts.agent_router import AgentDiscoverRequest, AgentInvokeRequest
from contracts.agents import AgentConfig
from contracts.anthropic import MessagesRequest
from contracts.events import EventEnvelope
from contracts.gateway import ChatCompletionRequest, InvokeRequest, Receipt, RouteRequest
from contracts.heartbeat_monitor import Alert
from contracts.hooks import ClaudeCodeHook
from contracts.jobs import JobCard
from contracts.models import ModelsFile
from contracts.provider_router import ProviderRegisterRequest, SelectRequest
from contracts.registry import DiscoverQuery, HeartbeatRequest, RegisterRequest, ServiceRecord
from contracts.resource_manager import ResourceRequest

SCHEMAS: dict[str, type[BaseModel]] = {
    "service_registration": RegisterRequest,
    "service_heartbeat": HeartbeatRequest,
    "service_discovery_query": DiscoverQuery,
    "service_record": ServiceRecord,
    "heartbeat_alert": Alert,
    "event_envelope": EventEnvelope,
    "job_card": JobCard,
    "resource_request": ResourceRequest,
    "agent_config": AgentConfig,
    "provider_registration": ProviderRegisterRequest,
    "provider_select": SelectRequest,
    "route_request": RouteRequest,
    "invoke_request": InvokeRequest,
    "receipt": Receipt,
    "chat_completion_request": ChatCompletionRequest,
    "anthropic_messages_request": MessagesRequest,
    "claude_code_hook": ClaudeCodeHook,
    "agent_discover_request": AgentDiscoverRequest,
    "agent_invoke_request": AgentInvokeRequest,
    "models_config": ModelsFile,
}

DIR = Path(__file__).parent


def render(model: type[BaseModel]) -> str:
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(check: bool = False) -> list[str]:
    """Writes every schema; with check, writes nothing and returns the names that differ."""
    stale = []
    for name, model in SCHEMAS.items():
        path = DIR / f"{name}.schema.json"
        text = render(model)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    return stale

"""The user's legacy per-service ports and the main-port slugs (API-CONTRACT.md §2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServicePort:
    slug: str  # the main-port prefix is /api/<slug>
    port: int
    title: str
    name: str  # the service's name in /health bodies and logs

    @property
    def prefix(self) -> str:
        return f"/api/{self.slug}"


SERVICES: tuple[ServicePort, ...] = (
    ServicePort("registry", 6121, "PAS service registry", "registry"),
    ServicePort("heartbeat-monitor", 6109, "PAS heartbeat monitor", "heartbeat_monitor"),
    ServicePort("resource-manager", 6104, "PAS resource manager", "resource_manager"),
    ServicePort("token-governor", 6105, "PAS token governor", "token_governor"),
    ServicePort("event-stream", 6102, "PAS event stream", "event_stream"),
    ServicePort("hmi", 6101, "PAS HMI", "hmi_app"),
    ServicePort("provider-router", 6103, "PAS provider router", "provider_router"),
    ServicePort("gateway", 6120, "PAS gateway", "gateway"),
    ServicePort("agent-router", 6119, "PAS agent router", "agent_router"),
    ServicePort("models/llama31-8b", 8050, "Local model llama-3.1-8b", "llm_llama31_8b"),
    ServicePort("models/tinyllama-1b", 8051, "Local model TinyLlama 1.1B", "llm_tinyllama_1b"),
    ServicePort("models/tlc-classifier", 8052, "TLC domain classifier", "tlc_domain_classifier"),
    ServicePort("adapters/openai", 8100, "OpenAI adapter", "openai_adapter"),
    ServicePort("adapters/anthropic", 8101, "Anthropic adapter", "anthropic_adapter"),
    ServicePort("adapters/gemini", 8102, "Gemini adapter", "gemini_adapter"),
    ServicePort("adapters/grok", 8103, "Grok adapter", "grok_adapter"),
)

BY_PORT = {s.port: s for s in SERVICES}
BY_SLUG = {s.slug: s for s in SERVICES}
# The HMI's pages and /api/* facade live unprefixed on the main port; only these of its paths collide.
HMI_OWN_PATHS = frozenset({"/health", "/openapi.json", "/docs"})

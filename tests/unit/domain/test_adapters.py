"""The adapters' translation (OpenAI chat → Anthropic messages / Gemini contents, stop reasons, vendor errors),
their key and base-URL lookup (.env too), and the worker-side host's state, through the real SDKs against the
wire stand-ins (no Celery, no Redis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.domain.adapters.config import Placement, api_key, base_url, load_adapters, registration
from app.domain.adapters.host import AdapterHost, HostConfig
from app.providers import anthropic_messages, gemini_content, openai_chat
from app.providers.vendor_call import finish_reason, retry_after, status_failure
from config.settings import ROOT, Settings
from tests.vendor_standins import Step, start_standin

ADAPTERS = load_adapters(ROOT / "config" / "adapters.json")
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
HISTORY: dict[str, Any] = {
    "messages": [
        {"role": "system", "content": "S1"},
        {"role": "developer", "content": "S2"},
        {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
        {"role": "assistant", "content": "calling", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "user", "content": "and?"},
    ],
    "max_tokens": 9, "stop": "END", "temperature": 0.5, "tools": TOOLS, "tool_choice": "required",
}  # fmt: skip


def test_anthropic_request_splits_the_system_prompt_and_alternates_turns() -> None:
    out = anthropic_messages.vendor_request(HISTORY)
    assert out["system"] == "S1\n\nS2" and out["max_tokens"] == 9 and out["stop_sequences"] == ["END"]
    assert out["extra_body"] == {"temperature": 0.5}
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]
    assert out["messages"][0]["content"] == [{"type": "text", "text": "hi there"}]
    assert out["messages"][1]["content"][1] == {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}
    # the tool result and the next user text share one user turn
    assert out["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c1", "content": "42"},
                                             {"type": "text", "text": "and?"}]  # fmt: skip
    assert out["tools"][0]["name"] == "f" and out["tool_choice"] == {"type": "any"}
    assert anthropic_messages.vendor_request({"messages": [{"role": "user", "content": "x"}]})["max_tokens"] == 4096


def test_gemini_request_uses_a_system_instruction_and_model_turns() -> None:
    contents, config = gemini_content.vendor_request(HISTORY)
    assert config["system_instruction"] == "S1\n\nS2" and config["max_output_tokens"] == 9
    assert config["stop_sequences"] == ["END"] and config["temperature"] == 0.5
    assert [c["role"] for c in contents] == ["user", "model", "user", "user"]
    assert contents[1]["parts"][1] == {"function_call": {"name": "f", "args": {"a": 1}}}
    assert contents[2]["parts"] == [{"function_response": {"name": "f", "response": {"content": 42}}}]
    assert config["tools"][0]["function_declarations"][0]["name"] == "f"


def test_openai_request_passes_through_without_the_model_or_unknown_fields() -> None:
    out = openai_chat.vendor_request({**HISTORY, "n": 3, "metadata": {"x": 1}})
    assert "n" not in out and "metadata" not in out and out["stop"] == "END" and out["tools"] == TOOLS


STOPS = [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
         ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("STOP", "stop"), ("length", "length"),
         ("weird", "stop"), (None, "stop")]  # fmt: skip


@pytest.mark.parametrize(("vendor", "ours"), STOPS)
def test_stop_reasons(vendor: str | None, ours: str) -> None:
    assert finish_reason(vendor) == ours


def test_vendor_statuses_become_failure_kinds() -> None:
    assert status_failure("X", 401).kind == status_failure("X", 403).kind == "auth"
    limited = status_failure("X", 429, {"retry-after": "7"})
    assert limited.kind == "rate_limited" and limited.retry_after_s == 7.0
    assert status_failure("X", 503).kind == "server" and status_failure("X", 504).kind == "timeout"
    assert status_failure("X", 400).kind == "bad_request"
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after({"retry-after": "99999"}) == 300.0


def test_keys_and_base_urls_come_from_the_environment_or_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    grok = next(a for a in ADAPTERS if a.provider == "grok")
    monkeypatch.chdir(tmp_path)
    for name in ("GROK_API_KEY", "XAI_API_KEY", "GROK_BASE_URL", "PAS_PROVIDER_KEY_X"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text("XAI_API_KEY=xai-from-dotenv\nGROK_BASE_URL=http://127.0.0.1:9/v1/\n"
                                   "PAS_PROVIDER_KEY_X=from-dotenv\n")  # fmt: skip
    settings = Settings(redis_url="redis://x")
    assert api_key(grok, settings.env_value) == "xai-from-dotenv"  # GROK_API_KEY unset: xAI's own name
    assert base_url(grok, settings.env_value) == "http://127.0.0.1:9/v1"
    assert settings.provider_key("PAS_PROVIDER_KEY_X") == "from-dotenv"  # any provider key, not only adapters'
    monkeypatch.setenv("GROK_API_KEY", "grok-from-env")
    assert api_key(grok, Settings(redis_url="redis://x").env_value) == "grok-from-env"
    assert "xai-from-dotenv" not in repr(Settings(redis_url="redis://x"))


def test_registration_is_a_model_service_under_the_contracts_name() -> None:
    req = registration(ADAPTERS[0], Placement("127.0.0.1", 7))
    assert (req.service_id, req.name, req.type) == ("openai-gpt-4-turbo", "openai-gpt-4-turbo", "model")
    assert req.url == "http://127.0.0.1:8107" and req.labels and req.labels["cost_per_input_token"] == 1e-5


class Sink:
    def __init__(self) -> None:
        self.cancelled = False
        self.events: list[tuple[str, Any]] = []

    def delta(self, text: str = "", tool_calls: list[dict[str, Any]] | None = None) -> None:
        self.events.append(("delta", text))

    def end(self, finish_reason: str, usage: dict[str, Any], model: str, **extra: Any) -> None:
        self.events.append(("end", (finish_reason, usage)))

    def error(self, status: int, message: str, code: str = "", retry_after_s: float | None = None) -> None:
        self.events.append(("error", (status, code, retry_after_s)))


def test_host_runs_grok_over_openais_protocol_and_tracks_its_state() -> None:
    standin = start_standin("openai", "xai-key")
    now = [1000.0]
    env = {"XAI_API_KEY": "xai-key", "GROK_BASE_URL": standin.base_url}
    host = AdapterHost(ADAPTERS, env.get, HostConfig(timeout_s=1, trip_after=2, cooldown_s=10, auth_retry_s=60),
                       clock=lambda: now[0])  # fmt: skip
    try:
        assert host.status("grok") == ("healthy", None)
        assert host.status("openai")[0] == "degraded" and "OPENAI_API_KEY" in str(host.status("openai")[1])
        sink = Sink()
        host.run("grok", {"messages": [{"role": "user", "content": "hi"}]}, sink)
        assert sink.events[-1] == ("end", ("stop", {"prompt_tokens": 11, "completion_tokens": 7}))
        assert standin.requests[-1]["body"]["model"] == "grok-beta"
        for step, want in (
            (Step(status=500), (502, "vendor_error", None)),
            (Step(status=502), (502, "vendor_error", None)),
        ):
            standin.reset(step)
            sink = Sink()
            host.run("grok", {"messages": [{"role": "user", "content": "hi"}]}, sink)
            assert sink.events[-1] == ("error", want)
        assert host.status("grok")[0] == "degraded" and "cooling down" in str(host.status("grok")[1])
        now[0] += 11
        assert host.status("grok") == ("healthy", None)
        standin.reset(Step(status=429, retry_after="5"))
        sink = Sink()
        host.run("grok", {"messages": [{"role": "user", "content": "hi"}]}, sink)
        assert sink.events[-1] == ("error", (429, "rate_limited", 5.0)) and host.status("grok")[0] == "degraded"
        now[0] += 6
        standin.reset(Step(status=401))
        sink = Sink()
        host.run("grok", {"messages": [{"role": "user", "content": "hi"}]}, sink)
        assert sink.events[-1] == ("error", (503, "auth_failed", None))
        assert "rejected the API key" in str(host.status("grok")[1])
        facts = host.facts()["adapters"]
        assert facts["grok"]["api_key_present"] is True and "xai-key" not in str(host.facts())
        now[0] += 61
        assert host.status("grok") == ("healthy", None)  # the key is tried again
        sink = Sink()
        sink.cancelled = True
        host.run("grok", {"messages": [{"role": "user", "content": "hi"}]}, sink)
        assert sink.events == [("error", (499, "cancelled", None))]
    finally:
        standin.stop_server()

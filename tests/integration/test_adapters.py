# mypy: disable-error-code="call-overload,arg-type,dict-item"
"""The vendor adapters end to end: the app on its ports, a real Celery worker and beat, and the adapter worker
(gevent pool) as processes; each vendor faked by a stand-in speaking its wire protocol, reached through the
vendor's real SDK by base URL. Grok runs without a key here: the keyless path (degraded, listed, not selected)."""

from __future__ import annotations

import json
import time

import openai
import pytest
import requests

from tests.integration.adapters_stack import (  # noqa: F401 (the fixture_*: alive, logs, standins)
    CHAT,
    KEYS,
    MODEL,
    NAME,
    PRICE,
    SEEN,
    SLUG,
    CapturedLogs,
    fixture_alive,
    fixture_logs,
    fixture_standins,
    get,
    healthy,
    receipts,
    route,
    sdk,
    uid,
)
from tests.integration.conftest import Live
from tests.support import Listener, redis_values, wait_until
from tests.vendor_standins import Standin, Step


def test_adapters_register_as_models_and_answer_health_info_and_index(alive: Live) -> None:
    healthy(alive)
    for p in ("openai", "anthropic", "gemini"):
        h = get(alive, SLUG[p], "/health")
        assert h["provider"] == p and h["api_key_present"] is True and h["model_loaded"] and h["reason"] is None
    grok = get(alive, SLUG["grok"], "/health")
    assert grok["status"] == "degraded" and grok["api_key_present"] is False and "GROK_API_KEY" in grok["reason"]
    info = get(alive, SLUG["openai"], "/info")
    assert info["service_name"] and info["provider"] == "openai" and info["model"]["context_window"] >= 16385
    anthropic_info = get(alive, SLUG["anthropic"], "/info")["model"]
    assert (anthropic_info["cost_per_input_token"], anthropic_info["cost_per_output_token"]) == (3e-6, 1.5e-5)
    assert len(get(alive, SLUG["gemini"], "/info")["model"]["capabilities"]) > 0
    g = get(alive, SLUG["grok"], "/info")["model"]
    assert g["name"] == "grok-beta" and g["provider"] == "grok"
    index = get(alive, SLUG["openai"], "/")
    assert index["service"] and index["provider"] == "openai"
    assert get(alive, SLUG["grok"], "/")["endpoints"]["chat"] == "/chat/completions"
    assert requests.get(alive.url(SLUG["anthropic"], "/docs"), timeout=10).status_code == 200
    assert get(alive, SLUG["gemini"], "/openapi.json")["info"]["title"]
    models = get(alive, "registry", "/discover?type=model")["items"]
    by_id = {m["service_id"]: m for m in models}
    for p, name in NAME.items():
        rec = by_id[name]
        assert rec["type"] == "model" and rec["name"] == name and rec["labels"]["provider"] == p
    assert by_id[NAME["grok"]]["status"] == "degraded" and "GROK_API_KEY" in by_id[NAME["grok"]]["message"]
    agents = get(alive, "registry", "/discover?type=agent")["items"]
    assert not any(a["service_id"] in NAME.values() for a in agents)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_chat_translates_messages_system_stop_and_max_tokens(
    alive: Live, standins: dict[str, Standin], provider: str
) -> None:
    healthy(alive, provider)
    standins[provider].reset(Step(text="Hello there friend", usage=(13, 4)))
    r = sdk(alive, provider).chat.completions.create(
        model="ignored",
        stop=["END"],
        max_tokens=33,
        temperature=0.2,
        **CHAT,
    )
    assert r.choices[0].message.content == "Hello there friend" and r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (13, 4)
    sent = standins[provider].requests[-1]
    body = sent["body"]
    assert sent["key_ok"]
    if provider == "openai":
        assert body["model"] == "gpt-4-turbo" and body["messages"][0] == CHAT["messages"][0]
        assert body["stop"] == ["END"] and body["max_tokens"] == 33
    elif provider == "anthropic":
        assert body["model"] == "claude-sonnet-4-5-20250929" and body["system"] == "Answer briefly."
        assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]
        assert body["stop_sequences"] == ["END"] and body["max_tokens"] == 33
    else:
        assert "gemini-2.5-pro:streamGenerateContent" in sent["path"]
        assert body["systemInstruction"]["parts"][0]["text"] == "Answer briefly."
        assert body["contents"] == [{"role": "user", "parts": [{"text": "Say hello."}]}]
        assert body["generationConfig"]["stopSequences"] == ["END"]
        assert body["generationConfig"]["maxOutputTokens"] == 33


STOPS = [("openai", "length"), ("anthropic", "max_tokens"), ("gemini", "MAX_TOKENS"), ("anthropic", "stop_sequence")]


@pytest.mark.parametrize(("provider", "vendor_stop"), STOPS)
def test_vendor_stop_reasons_map_to_openais(alive: Live, standins: dict[str, Standin], provider: str,
                                            vendor_stop: str) -> None:  # fmt: skip
    healthy(alive, provider)
    standins[provider].reset(Step(stop=vendor_stop))
    r = sdk(alive, provider).chat.completions.create(model="x", **CHAT)
    assert r.choices[0].finish_reason == ("stop" if vendor_stop == "stop_sequence" else "length")


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_tool_calls_both_ways(alive: Live, standins: dict[str, Standin], provider: str) -> None:
    healthy(alive, provider)
    standins[provider].reset(Step(tool=("get_weather", {"city": "Paris"})))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "weather", "parameters": schema}}]
    asked = {"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    history = [
        *CHAT["messages"],
        {"role": "assistant", "content": None, "tool_calls": [asked]},
        {"role": "tool", "tool_call_id": "call_9", "content": '{"temp": 3}'},
    ]
    r = sdk(alive, provider).chat.completions.create(model="x", messages=history, tools=tools)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    body = standins[provider].requests[-1]["body"]
    if provider == "anthropic":
        assert body["tools"][0]["name"] == "get_weather" and body["tools"][0]["input_schema"]["type"] == "object"
        assert body["messages"][1]["content"][0] == {"type": "tool_use", "id": "call_9", "name": "get_weather",
                                                     "input": {"city": "Oslo"}}  # fmt: skip
        assert body["messages"][2]["content"][0]["type"] == "tool_result"
    elif provider == "gemini":
        assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
        assert body["contents"][1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "Oslo"}}
        assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"
    else:
        assert body["tools"] == tools and body["messages"][3]["tool_call_id"] == "call_9"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_streaming_relays_tokens_and_usage(alive: Live, standins: dict[str, Standin], provider: str) -> None:
    healthy(alive, provider)
    standins[provider].reset(Step(text="one two three four", usage=(21, 4)))
    stream = sdk(alive, provider).chat.completions.create(
        model="x",
        stream=True,
        stream_options={"include_usage": True},
        **CHAT,
    )
    text, usage, reasons = "", None, []
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            text += c.delta.content or ""
            reasons.append(c.finish_reason)
    assert text == "one two three four" and "stop" in reasons
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (21, 4)
    assert standins[provider].requests[-1]["stream"]


def test_a_client_that_goes_away_cancels_the_vendor_stream(alive: Live, standins: dict[str, Standin]) -> None:
    healthy(alive, "anthropic")
    standins["anthropic"].reset(Step(text=" ".join(["word"] * 40), chunk_delay_s=0.1))
    with requests.post(alive.url(SLUG["anthropic"], "/chat/completions"), json={**CHAT, "stream": True},
                       stream=True, timeout=10) as r:  # fmt: skip
        assert r.status_code == 200
        next(r.iter_content(64))
    wait_until(lambda: standins["anthropic"].aborted == 1, 10, 0.1, "the vendor stream closed by the adapter")


def test_gateway_receipt_has_the_vendors_exact_usage_and_the_tables_price(
    alive: Live, standins: dict[str, Standin]
) -> None:
    healthy(alive)
    for p, (cin, cout) in PRICE.items():
        standins[p].reset(Step(usage=(1234, 567)))
        run = uid("run")
        r = route(alive, run_id=run, requirements={"model": MODEL[p]}, payload=CHAT)
        assert r.status_code == 200, r.text
        b = r.json()
        assert b["status"] == "success" and b["provider"] == NAME[p]
        assert (b["cost"]["input_tokens"], b["cost"]["output_tokens"]) == (1234, 567)
        wait_until(lambda run=run: receipts(alive, run), 10, 0.1, "the receipt")
        line = receipts(alive, run)[0]
        assert (line["input_tokens"], line["output_tokens"]) == (1234, 567)
        assert line["cost_usd"] == round(1234 * cin + 567 * cout, 6)
    # the OpenAI surface on the main port, streaming, to the same receipt
    standins["gemini"].reset(Step(usage=(40, 9)))
    client = openai.OpenAI(base_url=alive.url(None, "/v1"), api_key="unused", max_retries=0,
                           default_headers={"X-PAS-Run-Id": (run := uid("run"))})  # fmt: skip
    chunks = list(client.chat.completions.create(model=NAME["gemini"], stream=True, **CHAT))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from the stand-in"
    wait_until(lambda: receipts(alive, run), 10, 0.1, "the streamed call's receipt")
    assert (receipts(alive, run)[0]["input_tokens"], receipts(alive, run)[0]["output_tokens"]) == (40, 9)


def test_vendor_errors_map_to_statuses_with_no_key_in_them(alive: Live, standins: dict[str, Standin]) -> None:
    healthy(alive, "openai")
    url = alive.url(SLUG["openai"], "/chat/completions")
    for step, status, code in ((Step(status=429, retry_after="1"), 429, "rate_limited"),
                               (Step(status=500), 502, "vendor_error"),
                               (Step(delay_s=3), 504, "timeout"),
                               (Step(status=401), 503, "auth_failed")):  # fmt: skip
        standins["openai"].reset(step)
        r = requests.post(url, json=CHAT, timeout=20)
        SEEN.append(r.text)
        assert r.status_code == status and r.json()["error"] == code, r.text
        if status == 429:
            assert r.headers["Retry-After"] == "1" and r.json()["retry_after_s"] == 1.0
    # after the 401: degraded until it tries the key again (the next heartbeat publishes it)
    wait_until(lambda: "rejected the API key" in (get(alive, SLUG["openai"], "/health")["reason"] or ""), 5, 0.05,
               "degraded after the 401")  # fmt: skip
    standins["openai"].reset()
    healthy(alive, "openai")  # PAS_ADAPTER_AUTH_RETRY_S later


def test_a_vendor_redirect_is_never_followed(alive: Live, standins: dict[str, Standin]) -> None:
    """X3 through each vendor's SDK (openai, anthropic, google-genai all follow redirects by default): a vendor
    answering 307 (which keeps the POST and its body) or 302 to an internal address gets the client a 502, and the
    address (a listener standing in for Redis) is never connected to."""
    healthy(alive)
    inside = Listener()
    try:
        for provider in ("openai", "anthropic", "gemini"):
            for status, stream in ((307, False), (302, True)):
                standins[provider].reset(Step(status=status, location=f"http://127.0.0.1:{inside.port}/"))
                r = requests.post(alive.url(SLUG[provider], "/chat/completions"), json={**CHAT, "stream": stream},
                                  timeout=20)  # fmt: skip
                SEEN.append(r.text)
                assert r.status_code == 502 and "Location" not in r.headers, (provider, status, r.status_code, r.text)
                assert f"HTTP {status}" in r.text, r.text
                assert len(standins[provider].requests) == 1
        assert inside.hits == 0
    finally:
        inside.close()
        for s in standins.values():
            s.reset()


def test_gateway_retries_a_rate_limit_and_a_timeout_on_the_same_vendor(
    alive: Live, standins: dict[str, Standin]
) -> None:
    healthy(alive)
    for first in (Step(status=429, retry_after="1"), Step(delay_s=3)):
        standins["anthropic"].reset(first)
        run = uid("run")
        r = route(alive, run_id=run, requirements={"model": MODEL["anthropic"]}, payload=CHAT)
        assert r.status_code == 200 and r.json()["provider"] == NAME["anthropic"], r.text
        wait_until(lambda run=run: receipts(alive, run), 10, 0.1, "the receipt")
        outcomes = [a["outcome"] for a in receipts(alive, run)[0]["attempts"]]
        assert outcomes == [("http_429" if first.status == 429 else "http_504"), "ok"], outcomes
        healthy(alive, "anthropic")  # the rate limit's cooldown passes


def test_gateway_falls_back_between_vendors_and_cooldown_takes_a_failing_one_out(
    alive: Live, standins: dict[str, Standin]
) -> None:
    healthy(alive)
    for s in standins.values():
        s.reset()
    standins["anthropic"].reset(default=Step(status=500))  # the cheapest chat vendor fails every time
    run = uid("run")
    r = route(alive, run_id=run, requirements={"capability": "chat"}, optimization="cost", payload=CHAT)
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["status"] == "success" and b["provider"] != NAME["anthropic"]
    wait_until(lambda: receipts(alive, run), 10, 0.1, "the receipt")
    line = receipts(alive, run)[-1]
    assert line["fallback_from"] == NAME["anthropic"] and line["attempts"][0]["outcome"] == "http_502"
    # two failures in a row (PAS_ADAPTER_TRIP_AFTER=2): the adapter cools down, degraded; the router skips it
    wait_until(lambda: get(alive, SLUG["anthropic"], "/health")["status"] == "degraded", 10, 0.1, "cooldown")
    assert "cooling down" in get(alive, SLUG["anthropic"], "/health")["reason"]
    standins["anthropic"].reset()
    healthy(alive, "anthropic")


def test_a_degraded_adapter_is_listed_but_not_selected(alive: Live) -> None:
    healthy(alive)
    providers = {p["name"]: p for p in get(alive, "provider-router", "/providers")["providers"]}
    assert NAME["grok"] in providers and providers[NAME["grok"]]["healthy"] is False
    # the pricing table's capabilities join the matrix entry's (planning is not in the matrix for anthropic)
    assert "planning" in get(alive, "provider-router", f"/providers/{NAME['anthropic']}")["capabilities"]
    r = requests.post(alive.url("provider-router", "/select"),
                      json={"requirements": {"capability": "chat"}, "optimization": "cost"}, timeout=10)  # fmt: skip
    body = r.json()
    assert r.status_code == 200 and body["selected_provider"]["name"] == NAME["anthropic"], body
    assert NAME["grok"] not in {a["name"] for a in body["alternatives"]}
    rejected = {x["name"]: x["reason"] for x in body["rejected"]}
    assert rejected[NAME["grok"]].startswith("degraded: no API key"), rejected
    r = requests.post(alive.url(SLUG["grok"], "/chat/completions"), json=CHAT, timeout=10)
    assert r.status_code == 503 and "GROK_API_KEY" in r.json()["detail"]


def test_the_phase3_clients_gpt35_route_reaches_the_openai_adapter(alive: Live, standins: dict[str, Standin]) -> None:
    """The clients register test-gpt-3.5 at localhost:8100 and route a chat to gpt-3.5-turbo: the OpenAI adapter
    answers it with its configured model (the port picks the model; `model` is ignored, API-CONTRACT §12)."""
    healthy(alive, "openai")
    standins["openai"].reset(Step(usage=(8, 3)))
    port = 8100 + alive.settings.pas_port_offset
    body = {
        "name": "test-gpt-3.5",
        "model": "gpt-3.5-turbo",
        "context_window": 16385,
        "cost_per_input_token": 5e-7,
        "cost_per_output_token": 1.5e-6,
        "endpoint": f"http://localhost:{port}",
        "slo": {"latency_p95_ms": 900},
    }
    assert requests.post(alive.url("provider-router", "/register"), json=body, timeout=10).status_code in (200, 201)
    r = route(alive, run_id="test-run", requirements={"model": "gpt-3.5-turbo"},
              payload={"messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["status"] == "success" and b["provider"] == "test-gpt-3.5"
    assert b["response"]["choices"][0]["message"]["content"] == "hello from the stand-in"
    assert b["response"]["model"] == "gpt-4-turbo" and standins["openai"].requests[-1]["body"]["model"] == "gpt-4-turbo"
    assert (b["cost"]["input_tokens"], b["cost"]["output_tokens"]) == (8, 3)


def test_canary_keys_appear_in_no_log_line_and_no_response(alive: Live, logs: CapturedLogs) -> None:
    """X1 for the vendor keys: the stand-ins quote the key back in every 401 and 500 (body and header); after all
    of this module's calls it is in no answer, log line (web, worker, beat and adapter worker), artifact, event,
    HMI page or Redis value under the run's prefix (the Celery broker and result backend included)."""
    time.sleep(0.5)
    texts = [*SEEN, *logs.lines, redis_values(alive.redis, alive.settings.pas_key_prefix)]
    for page in ("/", "/tree", "/costs", "/alerts", "/api/event-stream/events?after=0&limit=10000", "/api/alerts",
                 "/api/costs", "/api/tree", "/api/services", "/api/provider-router/providers"):  # fmt: skip
        r = requests.get(alive.url(None, page), timeout=10)
        assert r.status_code == 200, page
        texts.append(f"{r.headers} {r.text}")
    assert "adapter_call_failed" in alive.extra("adapters").output()  # the failures were logged, keylessly
    for p in [*alive.extras, alive.worker, alive.beat]:
        texts.append(p.output())
    for path in (alive.settings.artifacts_dir).rglob("*"):
        if path.is_file() and path.suffix in (".jsonl", ".log", ".json", ".md"):
            texts.append(path.read_text(errors="replace"))
    assert len(SEEN) > 20
    for key in KEYS.values():
        assert not [t for t in texts if key in t], key


def test_a_worker_killed_mid_call_fails_it_at_once_then_health_is_degraded_and_503(
    alive: Live, standins: dict[str, Standin]
) -> None:
    """Last: the adapter worker is killed with -9 in the middle of a streamed call. Model calls are acknowledged
    early (never run twice): the waiting client is told the worker died once its claim on the call lapses
    (RELIABILITY C4), not at its idle timeout."""
    healthy(alive, "anthropic")
    standins["anthropic"].reset(Step(text=" ".join(["word"] * 400), chunk_delay_s=0.1))
    worker = alive.extra("adapters")
    with requests.post(alive.url(SLUG["anthropic"], "/chat/completions"), json={**CHAT, "stream": True},
                       stream=True, timeout=30) as r:  # fmt: skip
        assert r.status_code == 200
        lines = (line for line in r.iter_lines() if line)
        next(line for line in lines if b"word" in line)
        worker.send(9)
        killed = time.monotonic()
        rest = list(lines)
    took = time.monotonic() - killed
    error = json.loads(rest[-1].removeprefix(b"data: "))["error"]  # the stream's last event
    assert error["code"] == "worker_lost", rest[-3:]
    assert took < 7.0  # the claim's 5 s and a quiet read; the idle timeout would be 2 s + 5 s
    worker.stop()
    wait_until(lambda: "no adapter worker" in (get(alive, SLUG["openai"], "/health")["reason"] or ""), 15, 0.2,
               "health without a worker")  # fmt: skip
    r = requests.post(alive.url(SLUG["openai"], "/chat/completions"), json=CHAT, timeout=10)
    assert r.status_code == 503 and r.json()["error"] == "model_unavailable"
    rec = requests.get(alive.url("registry", f"/services/{NAME['openai']}"), timeout=10)
    assert rec.status_code == 404 or rec.json()["status"] == "down", rec.text  # silent since the kill

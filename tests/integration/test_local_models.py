"""Local models end to end: the tiny GGUF model (generated here) loaded by real model workers (one Celery worker
per model, its own queue), called on the model ports with real clients (the openai SDK, raw HTTP), through the
gateway to a receipt, and a killed model worker going down and coming back."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest
import requests
from openai.types.chat import ChatCompletionMessageParam

from app.cli import model_worker_argv
from app.domain.local_models.tiny import TINY_NAME, write_tiny_gguf
from config.settings import Settings
from tests.integration.conftest import Live, serve_live, settings_env
from tests.support import ROOT, Proc, port_offset_with_free_ports, wait_until

TINY, TLC, LLAMA = "models/tinyllama-1b", "models/tlc-classifier", "models/llama31-8b"
DOMAINS = set(json.loads((Path(__file__).parents[2] / "config" / "domains.l0.json").read_text())["domains"])


@pytest.fixture(scope="module")
def models_live(make_settings: Callable[..., Settings], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root = tmp_path_factory.mktemp("local-models")
    tiny = write_tiny_gguf(root / "files" / "pas-tiny.gguf")
    models_dir = root / "models"
    models_dir.mkdir()
    for name in ("llm_tinyllama_1b", "tlc_domain_classifier"):  # what `pas models add` does
        (models_dir / f"{name}.gguf").symlink_to(tiny)
    # A long context for TinyLlama, so a generation lasts long enough (seconds) to be cancelled midway.
    config = json.loads((Path(__file__).parents[2] / "config" / "models.json").read_text())
    for m in config["models"]:
        if m["name"] == "llm_tinyllama_1b":
            m["context_length"] = 65536
    (root / "models.json").write_text(json.dumps(config))
    settings = make_settings(
        pas_models_config=root / "models.json",
        pas_port_offset=port_offset_with_free_ports(),
        pas_sweep_interval_s=1.0,
        pas_log_level="INFO",
        pas_models_dir=models_dir,
        pas_artifacts_dir=root / "artifacts",
    )
    workers = [(f"model-{n}", model_worker_argv(n)) for n in ("llm_tinyllama_1b", "tlc_domain_classifier")]
    with serve_live(settings, root / "artifacts", worker_concurrency=2, extra_workers=workers) as live:
        for slug in (TINY, TLC):
            wait_until(lambda slug=slug: _health(live, slug)["status"] == "healthy", 60, 0.2, f"{slug} loaded")
        yield live


def _health(live: Live, slug: str) -> dict:
    return requests.get(live.url(slug, "/health"), timeout=5).json()


def _reservations(live: Live, agent: str) -> list[dict]:
    res = requests.get(live.url("resource-manager", "/reservations"), timeout=5).json()
    rows = res.get("reservations", res.get("items", []))
    return [r for r in rows if r.get("agent") == agent and r.get("status") == "active"]


def _client(live: Live, slug: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=live.url(slug, ""), api_key="unused", max_retries=0, timeout=30)


CHAT: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello"},
]


def test_health_and_info_say_what_is_loaded_and_what_is_missing(models_live: Live) -> None:
    h = _health(models_live, TINY)
    assert h["model_loaded"] is True and h["service"] == "llm_tinyllama_1b" and h["port"] == 8051
    info = requests.get(models_live.url(TINY, "/info"), timeout=5).json()
    # /info reports what the file really is, whatever name it was linked in under
    assert info["service_name"] == "llm_tinyllama_1b" and info["model"]["name"] == TINY_NAME
    assert info["model"]["architecture"] == "llama" and info["model"]["file"] == "llm_tinyllama_1b.gguf"
    missing = _health(models_live, LLAMA)
    assert missing["status"] == "degraded" and missing["model_loaded"] is False
    assert "llm_llama31_8b.gguf" in missing["reason"] and "pas models add" in missing["reason"]
    assert requests.get(models_live.url(LLAMA, "/info"), timeout=5).json()["service_name"] == "llm_llama31_8b"
    r = requests.post(models_live.url(LLAMA, "/chat/completions"), json={"messages": CHAT}, timeout=5)
    assert r.status_code == 503 and r.json()["error"] == "model_unavailable"


def test_models_register_as_models_and_a_missing_file_is_degraded_in_the_registry(models_live: Live) -> None:
    def discover(**q: str) -> dict[str, dict]:
        items = requests.get(models_live.url("registry", "/discover"), params=q, timeout=5).json()["items"]
        return {i["service_id"]: i for i in items}

    assert discover(cap="classification")["llm_tinyllama_1b"]["status"] == "ok"
    assert discover(cap="domain_classification")["tlc_domain_classifier"]["type"] == "model"
    wait_until(lambda: discover(cap="reasoning").get("llm_llama31_8b", {}).get("status") == "degraded", 20, 0.3,
               "beat registers the missing model degraded")  # fmt: skip
    assert all(i["type"] == "model" for i in discover(type="model").values())
    # its worker holds a reservation for the model's memory
    held = _reservations(models_live, "llm_tinyllama_1b")
    assert len(held) == 1 and held[0]["resources"]["mem_mb"] == 1024


def test_chat_through_the_openai_sdk_plain_and_streamed(models_live: Live) -> None:
    client = _client(models_live, TINY)
    out = client.chat.completions.create(model="ignored", messages=CHAT, max_tokens=8, temperature=0)
    assert out.object == "chat.completion" and out.choices[0].finish_reason in ("stop", "length")
    assert out.usage is not None and out.usage.prompt_tokens > 0 and out.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="x", messages=CHAT, max_tokens=8, temperature=0, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    again = client.chat.completions.create(model="x", messages=CHAT, max_tokens=8, temperature=0)
    assert text == again.choices[0].message.content  # greedy: the stream says what the body says
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_generate_plain_and_streamed_as_ndjson(models_live: Live) -> None:
    url = models_live.url(TINY, "/generate")
    body = {"prompt": "Once", "options": {"num_predict": 6, "temperature": 0}}
    r = requests.post(url, json=body, timeout=30)
    assert r.status_code == 200 and r.json()["done"] is True and r.json()["eval_count"] > 0, r.text
    with requests.post(url, json={**body, "stream": True}, timeout=30, stream=True) as s:
        lines = [json.loads(line) for line in s.iter_lines() if line]
    assert lines[-1]["done"] is True and all(not x["done"] for x in lines[:-1])
    assert "".join(x["response"] for x in lines) == r.json()["response"]


def test_bad_input_is_a_4xx_naming_the_field(models_live: Live) -> None:
    url = models_live.url(TINY, "/chat/completions")
    r = requests.post(url, json={"messages": []}, timeout=5)
    assert r.status_code == 422 and r.json()["field"] == "messages"
    r = requests.post(url, json={"messages": [{"role": "wizard", "content": "x"}]}, timeout=5)
    assert r.status_code == 422 and r.json()["field"].startswith("messages")
    r = requests.post(url, json={"messages": CHAT, "api_base": "http://evil"}, timeout=5)
    assert r.status_code == 422 and r.json()["field"] == "api_base"
    r = requests.post(models_live.url(TINY, "/generate"), json={"prompt": "x", "options": {"num_predict": "many"}})
    assert r.status_code == 422 and r.json()["field"] == "options.num_predict"
    r = requests.post(models_live.url(TLC, "/classify_domain"), json={"query": "x", "top_k": 11}, timeout=5)
    assert r.status_code == 422 and r.json()["field"] == "top_k"
    assert requests.post(models_live.url(TINY, "/classify_domain"), json={"query": "x"}, timeout=5).status_code == 404


def test_the_classifier_always_answers_inside_its_label_sets(models_live: Live) -> None:
    url = models_live.url(TLC, "/classify_domain")
    for query in ("What is a black hole?", "Contact me at jo@example.com", "zzzz ~~~ 1234", "GPL licensed code"):
        r = requests.post(url, json={"query": query, "top_k": 4}, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["primary_domain"] in DOMAINS and body["domains"][0]["domain"] == body["primary_domain"]
        assert len(body["domains"]) == 4 and {d["domain"] for d in body["domains"]} <= DOMAINS
        assert all(0 <= d["confidence"] <= 1 for d in body["domains"])
        assert body["pii_flag"] is ("@" in query)
        assert body["license_flag"] is ("GPL" in query)
    tmd = requests.post(models_live.url(TLC, "/extract_tmd"), json={"query": "fix my bike", "method_hint": "GRAPH"})
    assert tmd.status_code == 200 and tmd.json()["tmd"]["method"] == "GRAPH"
    assert tmd.json()["tmd"]["domain"] in DOMAINS and 0 <= tmd.json()["confidence"] <= 1


def test_a_client_that_goes_away_cancels_its_generation(models_live: Live) -> None:
    host, port = "127.0.0.1", int(models_live.url(TINY, "").rsplit(":", 1)[1].rstrip("/"))
    # In the tiny vocabulary, ids 0-4 are <unk> <s> </s> and the ChatML markers, 5-260 the bytes: barred, it
    # writes printable characters until it is stopped.
    barred = {str(i): -100 for i in range(261)}
    body = json.dumps({"messages": CHAT, "stream": True, "max_tokens": 1_000_000, "temperature": 1.0,
                       "logit_bias": barred}).encode()  # fmt: skip
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"POST /chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)  # fmt: skip
        got = b""
        while got.count(b"data:") < 3:
            got += sock.recv(65536)
    log = models_live.extra("model-llm_tinyllama_1b")
    wait_until(lambda: "model_call_cancelled" in log.output(), 20, 0.2, "the worker stops the generation")
    cancelled = [json.loads(x) for x in log.output().splitlines() if "model_call_cancelled" in x][-1]
    assert 3 <= cancelled["tokens"] < 60_000
    started = time.monotonic()
    out = _client(models_live, TINY).chat.completions.create(model="x", messages=CHAT, max_tokens=4)
    assert out.choices and time.monotonic() - started < 5  # the worker is free again


def test_the_gateway_reaches_local_models_with_a_receipt(models_live: Live) -> None:
    gw = openai.OpenAI(base_url=models_live.url(path="/v1"), api_key="unused", max_retries=0, timeout=30)
    run = f"run-{uuid.uuid4().hex[:8]}"
    out = gw.chat.completions.create(model="llm_tinyllama_1b", messages=CHAT, max_tokens=5,
                                     extra_headers={"X-PAS-Run-Id": run})  # fmt: skip
    assert out.choices[0].message.content is not None
    streamed = list(gw.chat.completions.create(model="llm_tinyllama_1b", messages=CHAT, max_tokens=5, stream=True,
                                               extra_headers={"X-PAS-Run-Id": run}))  # fmt: skip
    assert streamed and any(c.choices and c.choices[0].finish_reason for c in streamed)
    inv = requests.post(models_live.url("gateway", "/invoke"), timeout=30, json={
        "target": {"type": "model", "require_caps": ["classify_light"]}, "policy": {"prefer": "local"},
        "payload": {"messages": CHAT, "max_tokens": 4}, "run_id": run,
    })  # fmt: skip
    assert inv.status_code == 200, inv.text
    assert inv.json()["provider"] == "tlc_domain_classifier"

    def cost_events() -> list[dict]:
        r = requests.get(models_live.url("event-stream", "/events"), params={"after": 0}, timeout=5).json()
        rows = r.get("events", r.get("items", []))
        return [e for e in rows if e["event_type"] == "cost_update" and "tlc_domain_classifier" in json.dumps(e)]

    wait_until(cost_events, 10, 0.2, "the live event the HMI's costs page shows")

    def receipts() -> list[dict]:
        r = requests.get(models_live.url("gateway", f"/receipts/{run}"), timeout=5)
        return list(r.json()["receipts"])

    wait_until(lambda: len(receipts()) >= 3, 20, 0.3, "three receipts for the run")
    by_provider = {r["provider"]: r for r in receipts()}
    stream_receipt = next(r for r in receipts() if r["stream"])
    assert stream_receipt["status"] == "success" and stream_receipt["output_tokens"] > 0
    assert by_provider["llm_tinyllama_1b"]["status"] == "success" and by_provider["llm_tinyllama_1b"]["cost_usd"] == 0
    assert by_provider["llm_tinyllama_1b"]["tokens_exact"] is True


def test_a_killed_model_worker_goes_down_then_comes_back(models_live: Live) -> None:
    proc = models_live.extra("model-llm_tinyllama_1b")
    proc.send(9)
    proc.p.wait(10)

    def status() -> str:
        items = requests.get(models_live.url("registry", "/discover"), params={"name": "llm_tinyllama_1b"},
                             timeout=5).json()["items"]  # fmt: skip
        return items[0]["status"] if items else "gone"

    # The registry's ladder at a 2 s interval: down two missed beats after the last one, deregistered at three.
    killed = time.monotonic()
    wait_until(lambda: status() == "down", 15, 0.1, "the registry marks it down on schedule")
    assert time.monotonic() - killed < 8.0  # two intervals after its last beat, which came up to 2 s before
    wait_until(lambda: _health(models_live, TINY)["status"] == "degraded", 15, 0.2, "/health says not loaded")
    wait_until(lambda: not _reservations(models_live, "llm_tinyllama_1b"), 15, 0.2, "its reservation expires")
    r = requests.post(models_live.url(TINY, "/chat/completions"), json={"messages": CHAT}, timeout=10)
    assert r.status_code == 503
    env = settings_env(models_live.settings)
    again = Proc("model-llm_tinyllama_1b-again", model_worker_argv("llm_tinyllama_1b"), env,
                 models_live.settings.artifacts_dir / "logs")  # fmt: skip
    models_live.extras.append(again)
    wait_until(lambda: _health(models_live, TINY)["status"] == "healthy", 60, 0.2, "loaded again")
    wait_until(lambda: status() == "ok", 20, 0.2, "ok again in the registry")
    assert len(_reservations(models_live, "llm_tinyllama_1b")) == 1
    assert _client(models_live, TINY).chat.completions.create(model="x", messages=CHAT, max_tokens=3).choices


def test_the_web_process_never_loads_a_model(models_live: Live) -> None:
    # In a process of its own (this one has loaded llama_cpp for other tests): the app answers the model ports,
    # calls included, without importing the engine.
    code = (
        "import sys\n"
        "from app.factory import create_app\n"
        "c = create_app(serve_socketio=False).test_client()\n"
        "assert c.get('http://localhost:PORT/health').json['status'] == 'healthy'\n"
        "r = c.post('http://localhost:PORT/chat/completions', json={'messages': [{'role': 'user', 'content': 'x'}],"
        " 'max_tokens': 2})\n"
        "assert r.status_code == 200, r.data\n"
        "print(sorted(m for m in sys.modules if m.startswith(('llama_cpp', 'app.providers.llama_engine'))))\n"
    ).replace("PORT", str(8051 + models_live.settings.pas_port_offset))
    env = settings_env(models_live.settings)
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"

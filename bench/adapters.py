# mypy: disable-error-code="call-overload,arg-type,dict-item"
"""What the adapters' Celery hop costs: a chat call and a streamed call's first token through an adapter's port
(web → Redis → gevent adapter worker → vendor SDK → stand-in, and back through a Redis stream), and through the
gateway's /v1 in front of it, against the vendor's SDK calling the same stand-in directly, in this process.
PAS runs as `pas up` runs it (gunicorn + gevent web, Celery worker and beat, the adapter worker), privately.

    .venv/bin/python bench/adapters.py [--quick] [-n 200] [--vendors openai,anthropic]

Prints p50/p95 of the whole call and of the time to the first streamed token per path, the added milliseconds
over the direct SDK call, and each as a ratio of that baseline (same run, same stand-in, same prompt)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack, percentile

sys.path.insert(0, str(ROOT))
import anthropic
import openai

from tests.vendor_standins import Standin, Step, start_standin

KEY = {"openai": "sk-bench-openai", "anthropic": "sk-ant-bench"}
PORT = {"openai": 8100, "anthropic": 8101}
NAME = {"openai": "openai-gpt-4-turbo", "anthropic": "anthropic-claude-sonnet-4-5-20250929"}
MESSAGES = [{"role": "user", "content": "Say hello."}]
TEXT = "hello from the stand-in, four chunks"


def timed(call: Callable[[], object]) -> float:
    t = time.perf_counter()
    call()
    return (time.perf_counter() - t) * 1000


def first_token_ms(stream_factory: Callable[[], Iterable[object]]) -> float:
    t = time.perf_counter()
    stream = stream_factory()
    for _ in stream:
        ms = (time.perf_counter() - t) * 1000
        break
    for _ in stream:
        pass  # drain: the next call starts clean
    return ms


def openai_text_stream(client: openai.OpenAI, model: str) -> Callable[[], object]:
    def start() -> object:
        chunks = client.chat.completions.create(model=model, messages=MESSAGES, stream=True, max_tokens=16)
        # the first chunk with content (PAS sends a role-only chunk first, as OpenAI does)
        return (c for c in chunks if c.choices and c.choices[0].delta.content)

    return start


def direct_paths(vendor: str, standin: Standin) -> dict[str, Callable[[], float]]:
    if vendor == "openai":
        client = openai.OpenAI(api_key=KEY[vendor], base_url=standin.base_url, max_retries=0)
        return {
            "call": lambda: timed(
                lambda: client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES, max_tokens=16)
            ),
            "ttft": lambda: first_token_ms(openai_text_stream(client, "gpt-4-turbo")),
        }
    ac = anthropic.Anthropic(api_key=KEY[vendor], base_url=standin.base_url, max_retries=0)

    def ac_stream() -> object:
        events = ac.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=16, messages=MESSAGES, stream=True)
        return (e for e in events if e.type == "content_block_delta")

    return {
        "call": lambda: timed(
            lambda: ac.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=16, messages=MESSAGES)
        ),
        "ttft": lambda: first_token_ms(ac_stream),
    }


def pas_paths(base_url: str, model: str) -> dict[str, Callable[[], float]]:
    client = openai.OpenAI(api_key="unused", base_url=base_url, max_retries=0)
    return {
        "call": lambda: timed(lambda: client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=16)),
        "ttft": lambda: first_token_ms(openai_text_stream(client, model)),
    }


def measure(paths: dict[str, Callable[[], float]], n: int, warmup: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for kind, run in paths.items():
        for _ in range(warmup):
            run()
        out[kind] = [run() for _ in range(n)]
    return out


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).json().get("status") == "healthy":
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=200, help="calls per path and kind")
    ap.add_argument("--quick", action="store_true", help="n=40")
    ap.add_argument("--vendors", default="openai,anthropic")
    args = ap.parse_args()
    n = 40 if args.quick else args.n
    vendors = [v for v in args.vendors.split(",") if v in KEY]
    standins = {v: start_standin(v, KEY[v]) for v in vendors}
    for s in standins.values():
        s.reset(default=Step(text=TEXT, usage=(12, 6)))
    env = {"PAS_GATEWAY_RETRIES": "0"}
    for v, s in standins.items():
        env[f"{v.upper()}_API_KEY"], env[f"{v.upper()}_BASE_URL"] = KEY[v], s.base_url
    rows: list[tuple[str, str, str, list[float]]] = []
    with Stack(**env) as stack:
        stack._spawn("adapters", [sys.executable, "-m", "app.adapter_worker"])
        for v in vendors:
            wait_healthy(stack.url(PORT[v], "/health"))
            # the router sees the adapter once its heartbeat is in (and its snapshot refreshed)
            time.sleep(1.0)
            results = {
                "direct SDK": measure(direct_paths(v, standins[v]), n, 10),
                "adapter port": measure(pas_paths(stack.url(PORT[v]), "ignored"), n, 10),
                "gateway /v1": measure(pas_paths(stack.url(6100, "/v1"), NAME[v]), n, 10),
            }
            for path, kinds in results.items():
                for kind, values in kinds.items():
                    rows.append((v, path, kind, values))
    print(f"\nadapters bench: n={n} per path, sequential calls, stand-in vendors on 127.0.0.1 (ms)\n")
    head = ("vendor", "path", "what", "p50", "p95", "+p50", "+p95", "x p50", "x p95")
    print("{:<10} {:<13} {:<6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}".format(*head))
    base: dict[tuple[str, str], tuple[float, float]] = {}
    for v, path, kind, values in rows:
        p50, p95 = percentile(values, 50), percentile(values, 95)
        if path == "direct SDK":
            base[(v, kind)] = (p50, p95)
        b50, b95 = base[(v, kind)]
        print(f"{v:<10} {path:<13} {kind:<6} {p50:8.2f} {p95:8.2f} {p50 - b50:8.2f} {p95 - b95:8.2f} "
              f"{p50 / b50:7.2f} {p95 / b95:7.2f}")  # fmt: skip
    print("\ncall = whole non-streamed chat call; ttft = time to the first streamed content token.")
    print("+p50/+p95 = added over the direct SDK call; x = ratio to it (the baseline, this run).")
    for s in standins.values():
        s.stop_server()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Local models: time to first token and tokens/s of one GGUF model and prompt, three ways, in one run:

(a) direct   — llama-cpp-python in this process (LlamaEngine, the settings the model worker uses: the
               model's entry in config/models.json), the baseline;
(b) port     — POST :8051/chat/completions with `stream: true` (raw HTTP SSE on a keep-alive connection) to a
               private PAS started as `pas up` runs it: gunicorn + gevent, the model's own Celery worker
               (`python -m app.model_worker llm_tinyllama_1b`), tokens back through the per-call Redis stream;
(c) gateway  — POST :6100/v1/chat/completions, model "llm_tinyllama_1b", streamed (gateway → port → worker).

The three ways take turns run by run, so a shared machine's load falls on all of them alike. First token: from
just before the call (the request's first byte) to the first non-empty content; tokens/s: (completion tokens
- 1) / (last content - first content), the steady state after the first token. Targets: PAS adds ≤ 5 ms to
the first token (p50) and keeps ≥ 0.95 of direct tokens/s.

    .venv/bin/python bench/local_llm.py            # 30 runs each, 128 tokens
    .venv/bin/python bench/local_llm.py --quick    # 8 runs each, 64 tokens
    .venv/bin/python bench/local_llm.py --model PATH.gguf   # a real model instead of the generated one

The generated model (app/domain/local_models/tiny.py at n_embd 512, 8 layers, f32: ~40 MB, ~130 tokens/s on
one thread here) has random weights; a logit bias bars its control and byte tokens, so every token is one
printable character and each answer runs to max_tokens (llama-cpp-python holds back invalid UTF-8, which would
otherwise bunch a random model's output). A real model gets no bias: temperature 0, the same prompt.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack, percentile

NAME, PORT, GATEWAY = "llm_tinyllama_1b", 8051, 6100
PROMPT = [{"role": "system", "content": "You are terse."},
          {"role": "user", "content": "Write a short story about a lighthouse keeper."}]  # fmt: skip
TINY_BANNED = range(261)  # tiny.py's <unk> <s> </s> <|im_start|> <|im_end|> and the 256 byte tokens


@dataclass
class Run:
    first_ms: float
    last_ms: float
    tokens_per_s: float | None
    tokens: int


def steady(tokens: int, first: float, last: float) -> float | None:
    return (tokens - 1) / (last - first) if tokens > 1 and last > first else None


def direct_run(engine: Any, body: dict[str, Any]) -> Run:
    stamps: list[float] = []
    started = time.perf_counter()
    out = engine.chat(body, lambda text: stamps.append(time.perf_counter()) if text else None, lambda: False)
    first, last = stamps[0], stamps[-1]
    return Run((first - started) * 1000, (last - started) * 1000, steady(out.completion_tokens, first, last),
               out.completion_tokens)  # fmt: skip


class SseClient:
    """One keep-alive HTTP/1.1 connection; reads the SSE stream line by line as it arrives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def run(self, path: str, body: dict[str, Any]) -> Run:
        data = json.dumps({**body, "stream": True, "stream_options": {"include_usage": True}}).encode()
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        started = time.perf_counter()
        self.conn.request("POST", path, body=data, headers=headers)
        resp = self.conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"{path}: {resp.status} {resp.read()[:300]!r}")
        first = last = 0.0
        tokens = 0
        while line := resp.readline():  # to the end of the body (chunked), so the connection is reused
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"{path}: {chunk['error']}")
            if chunk.get("usage"):
                tokens = int(chunk["usage"]["completion_tokens"])
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    last = time.perf_counter()
                    first = first or last
        return Run((first - started) * 1000, (last - started) * 1000, steady(tokens, first, last), tokens)


def summary(runs: list[Run]) -> dict[str, float]:
    tps = [r.tokens_per_s for r in runs if r.tokens_per_s]
    first = [r.first_ms for r in runs]
    return {"first_p50": percentile(first, 50), "first_p95": percentile(first, 95),
            "last_p50": percentile([r.last_ms for r in runs], 50),
            "tps_p50": statistics.median(tps) if tps else float("nan"),
            "tokens": statistics.median(r.tokens for r in runs)}  # fmt: skip


def wait_healthy(stack: Stack, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(stack.url(PORT, "/health"), timeout=2).json().get("status") == "healthy":
                return
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{NAME} was not loaded in time; see {stack.tmp}/model.log")


def queued_ms(log: Path) -> list[float]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if '"model_call"' in line and "queued_ms" in line:
            try:
                out.append(float(json.loads(line[line.index("{") :])["queued_ms"]))
            except (ValueError, KeyError):
                continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=30, help="measured runs per way")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--model", type=Path, help="a real GGUF file (default: generate the tiny model)")
    ap.add_argument("--embd", type=int, default=512, help="generated model: embedding width")
    ap.add_argument("--layers", type=int, default=8, help="generated model: layers")
    ap.add_argument("--quick", action="store_true", help="8 runs each, 64 tokens, 2 warm-ups")
    args = ap.parse_args()
    if args.quick:
        args.runs, args.max_tokens, args.warmup = 8, 64, 2

    from app.domain.local_models.catalogue import load_models
    from app.domain.local_models.tiny import write_tiny_gguf
    from app.providers.llama_engine import LlamaEngine

    work = Path(tempfile.mkdtemp(prefix="pas-bench-llm-"))
    if args.model:
        model_file, bias = args.model.resolve(), None
    else:
        model_file = write_tiny_gguf(work / "tiny.gguf", n_embd=args.embd, n_layer=args.layers)
        bias = {str(i): -100.0 for i in TINY_BANNED}
    models_dir = work / "models"
    models_dir.mkdir()
    (models_dir / f"{NAME}.gguf").symlink_to(model_file)  # what `pas models add PATH --as NAME` does
    cfg = load_models(ROOT / "config" / "models.json")[NAME]
    body: dict[str, Any] = {"messages": PROMPT, "max_tokens": args.max_tokens, "temperature": 0}
    if bias:
        body["logit_bias"] = bias

    engine = LlamaEngine(model_file, cfg)  # the baseline: the same settings the model worker loads it with
    load_before = os.getloadavg()
    with Stack(PAS_MODELS_DIR=str(models_dir)) as stack:
        stack.spawn("model", [sys.executable, "-m", "app.model_worker", NAME], PAS_LOG_LEVEL="INFO")
        wait_healthy(stack)
        port, gateway = SseClient(PORT + stack.offset), SseClient(GATEWAY + stack.offset)
        ways = {
            "direct (llama-cpp-python)": lambda: direct_run(engine, body),
            f"port :{PORT} /chat/completions": lambda: port.run("/chat/completions", body),
            f"gateway :{GATEWAY} /v1/chat/completions": lambda: gateway.run("/v1/chat/completions",
                                                                            {**body, "model": NAME}),
        }  # fmt: skip
        for _ in range(args.warmup):
            for way in ways.values():
                way()
        runs: dict[str, list[Run]] = {k: [] for k in ways}
        for _ in range(args.runs):  # in turns: the machine's load falls on every way alike
            for name, way in ways.items():
                runs[name].append(way())
        queued = queued_ms(stack.tmp / "model.log")[-2 * args.runs :]
        worker_first = requests.get(stack.url(PORT, "/info"), timeout=5).json()["performance"]["first_token_ms"]
    load_after = os.getloadavg()

    sums = {k: summary(v) for k, v in runs.items()}
    base = sums["direct (llama-cpp-python)"]
    print(f"model {model_file.name} ({model_file.stat().st_size / 1e6:.1f} MB"
          f"{'' if args.model else f', generated: n_embd {args.embd}, {args.layers} layers'}), "
          f"{cfg.threads or max(1, (os.cpu_count() or 2) // 2)} thread(s), {args.max_tokens} tokens, "
          f"{args.runs} runs per way after {args.warmup} warm-ups; load average {load_before[0]:.2f} → "
          f"{load_after[0]:.2f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"{'':<40} {'first p50':>10} {'first p95':>10} {'+ms p50':>8} {'+ms p95':>8} {'last p50':>10} "
          f"{'tok/s':>8} {'ratio':>6}")  # fmt: skip
    verdicts = []
    for name, s in sums.items():
        added50, added95 = s["first_p50"] - base["first_p50"], s["first_p95"] - base["first_p95"]
        ratio = s["tps_p50"] / base["tps_p50"]
        print(f"{name:<40} {s['first_p50']:>8.2f}ms {s['first_p95']:>8.2f}ms {added50:>+8.2f} {added95:>+8.2f} "
              f"{s['last_p50']:>8.1f}ms {s['tps_p50']:>8.1f} {ratio:>6.3f}")  # fmt: skip
        if name != "direct (llama-cpp-python)":
            ok = added50 <= 5 and ratio >= 0.95
            verdicts.append(f"{name.split()[0]}: {'met' if ok else 'NOT met'}")
    if queued:  # where the added first-token time goes: the rest is the web side and the way back
        print(f"in the model worker: queued_ms (web submit → call starts) p50 {percentile(queued, 50):.2f}, "
              f"p95 {percentile(queued, 95):.2f}; the engine's own first token (/info, median) "
              f"{worker_first} ms")  # fmt: skip
    print("targets: PAS adds ≤ 5 ms to the first token (p50), keeps ≥ 0.95 of direct tokens/s — " + "; ".join(verdicts))
    print(json.dumps({"bench": "local_llm", "model": model_file.name, "max_tokens": args.max_tokens,
                      "runs": args.runs, "load": [load_before[0], load_after[0]],
                      "ways": {k: {m: round(v, 3) for m, v in s.items()} for k, s in sums.items()},
                      "queued_ms_p50": percentile(queued, 50) if queued else None}))  # fmt: skip


if __name__ == "__main__":
    main()

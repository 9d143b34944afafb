"""The Anthropic surface's pass-through: `POST /v1/messages` straight to the fast mock's Anthropic route vs through
PAS `/anthropic/v1/messages` (gunicorn + gevent, as `pas up` runs it; a provider registered with
`protocol: anthropic` on the mock) vs through LiteLLM's Anthropic-format endpoint on the same mock (when its venv
exists), at concurrency 1, 8, 32 with the same load generator; then time to the first streamed event
(`stream: true`, c = 1) for each. The gateway's /v1 figures are bench/gateway.py's, run beside this one.

    .venv/bin/python bench/anthropic.py [--quick] [-n 2000] [--litellm /work/litellm-venv/bin/litellm]

LiteLLM in its own venv (pin 1.103.7): python3 -m venv /work/litellm-venv &&
/work/litellm-venv/bin/pip install 'litellm[proxy]==1.103.7'
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway import DEFAULT_LITELLM, SHARED, free_port, process, tree_cpu_s, wait_ok

from _stack import Stack

BODY = {"model": "mock-claude", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}
HEADERS = ["anthropic-version: 2023-06-01", "x-api-key: sk-bench"]


def load(url: str, n: int, c: int, label: str, cpu_pids: list[int]) -> dict[str, float]:
    before = sum(tree_cpu_s(p) for p in cpu_pids)
    argv = [sys.executable, str(SHARED / "loadgen.py"), "--url", url, "-n", str(n), "-c", str(c), "--json",
            json.dumps(BODY), "--expect", '"content"', "--label", label, "--max-s", "60"]  # fmt: skip
    for h in HEADERS:
        argv += ["--header", h]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    cpu = sum(tree_cpu_s(p) for p in cpu_pids) - before
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    result["cpu_ms_per_req"] = cpu * 1000 / max(1, result["count"])
    return result


def first_event_ms(url: str, n: int) -> dict[str, float]:
    """Sequential streamed calls on one keep-alive connection: ms from sending to the first `event:` line, and to
    the end of the stream."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    body = json.dumps({**BODY, "stream": True})
    headers = {"Content-Type": "application/json", **dict(h.split(": ", 1) for h in HEADERS)}
    firsts, totals = [], []
    for i in range(n + 20):
        t0 = time.perf_counter()
        conn.request("POST", parts.path, body=body, headers=headers)
        resp = conn.getresponse()
        line = resp.readline()
        while line and not line.startswith(b"event:"):
            line = resp.readline()
        t1 = time.perf_counter()
        rest = resp.read()
        t2 = time.perf_counter()
        if resp.status != 200 or b"message_stop" not in line + rest:
            raise RuntimeError(f"{url}: status {resp.status}, no message_stop")
        if i >= 20:  # warm-up uncounted
            firsts.append((t1 - t0) * 1000)
            totals.append((t2 - t0) * 1000)
    conn.close()
    firsts.sort()
    return {"first_p50_ms": statistics.median(firsts), "first_p95_ms": firsts[int(0.95 * (len(firsts) - 1))],
            "total_p50_ms": statistics.median(totals)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--litellm", type=Path, default=DEFAULT_LITELLM)
    ap.add_argument("--concurrency", default="1,8,32")
    args = ap.parse_args()
    n = 500 if args.quick else args.n
    levels = [int(x) for x in args.concurrency.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="pas-anthropic-bench-"))
    mock_port = free_port()
    rows: list[tuple[str, int, dict[str, float]]] = []
    firsts: dict[str, dict[str, float]] = {}
    with process([sys.executable, str(SHARED / "mock_upstream.py")], {**os.environ, "MOCK_PORT": str(mock_port)},
                 tmp / "mock.log") as mock:  # fmt: skip
        wait_ok(f"http://127.0.0.1:{mock_port}/health", 20)
        direct = f"http://127.0.0.1:{mock_port}/v1/messages"
        with Stack(PAS_UPSTREAM_ALLOWLIST=f"127.0.0.1:{mock_port}") as stack:
            reg = {"name": "mock-claude", "model": "claude-sonnet-4-5", "context_window": 200000,
                   "cost_per_input_token": 3e-6, "cost_per_output_token": 1.5e-5, "protocol": "anthropic",
                   "endpoint": f"http://127.0.0.1:{mock_port}"}  # fmt: skip
            requests.post(stack.url(6103, "/register"), json=reg, timeout=10).raise_for_status()
            pas_url = stack.url(6100, "/anthropic/v1/messages")
            web_pid = stack.procs[0].pid
            for c in levels:
                rows.append(("direct", c, load(direct, n, c, "direct", [mock.pid])))
                rows.append(("pas", c, load(pas_url, n, c, "pas", [web_pid])))
            firsts["direct"] = first_event_ms(direct, n // 4)
            firsts["pas"] = first_event_ms(pas_url, n // 4)
        if args.litellm.exists():
            port = free_port()
            cfg = tmp / "litellm.yaml"
            cfg.write_text(
                "model_list:\n  - model_name: mock-claude\n    litellm_params:\n"
                f"      model: anthropic/claude-sonnet-4-5\n      api_base: http://127.0.0.1:{mock_port}\n"
                "      api_key: sk-bench\n"
            )
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                   "LITELLM_LOG": "ERROR"}  # fmt: skip
            argv = [str(args.litellm), "--config", str(cfg), "--port", str(port), "--host", "127.0.0.1"]
            with process(argv, env, tmp / "litellm.log") as lite:
                wait_ok(f"http://127.0.0.1:{port}/health/liveliness", 120)
                url = f"http://127.0.0.1:{port}/v1/messages"
                for c in levels:
                    rows.append(("litellm", c, load(url, n, c, "litellm", [lite.pid])))
                firsts["litellm"] = first_event_ms(url, n // 4)
        else:
            print(f"(LiteLLM not found at {args.litellm}: its rows are skipped)")
    report(rows, levels, firsts)


def report(
    rows: list[tuple[str, int, dict[str, float]]], levels: list[int], firsts: dict[str, dict[str, float]]
) -> None:
    by = {(t, c): r for t, c, r in rows}
    print(
        f"\n{'target':8} {'c':>3} {'p50 ms':>8} {'p95 ms':>8} {'+p50':>7} {'+p95':>7} {'req/s':>8} {'CPU ms/req':>10}"
    )
    for t, c, r in rows:
        d = by[("direct", c)]
        add50 = r["p50_ms"] - d["p50_ms"] if t != "direct" else 0.0
        add95 = r["p95_ms"] - d["p95_ms"] if t != "direct" else 0.0
        print(f"{t:8} {c:>3} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {add50:7.2f} {add95:7.2f} {r['rps']:8.0f} "
              f"{r['cpu_ms_per_req']:10.2f}{'  errors ' + str(r['errors']) if r.get('errors') else ''}")  # fmt: skip
    print(f"\n{'stream':8} {'first event p50':>16} {'p95':>8} {'+p50':>7} {'whole p50':>10}")
    for t, f in firsts.items():
        add = f["first_p50_ms"] - firsts["direct"]["first_p50_ms"]
        print(f"{t:8} {f['first_p50_ms']:16.2f} {f['first_p95_ms']:8.2f} {add:7.2f} {f['total_p50_ms']:10.2f}")
    if ("litellm", levels[0]) in by:
        best = {t: max(by[(t, c)]["rps"] for c in levels) for t in ("pas", "litellm")}
        for c in levels:
            d = by[("direct", c)]
            pa, la = by[("pas", c)]["p50_ms"] - d["p50_ms"], by[("litellm", c)]["p50_ms"] - d["p50_ms"]
            print(f"c={c:>2}: added p50 PAS {pa:.2f} ms vs LiteLLM {la:.2f} ms (PAS/LiteLLM {pa / la:.2f}, target "
                  f"≤ 0.25: {'met' if pa / la <= 0.25 else 'NOT met'}); req/s PAS/LiteLLM "
                  f"{by[('pas', c)]['rps'] / by[('litellm', c)]['rps']:.2f}")  # fmt: skip
        ratio = best["pas"] / best["litellm"]
        print(f"best req/s PAS {best['pas']:.0f} vs LiteLLM {best['litellm']:.0f}: {ratio:.2f}x "
              f"(target ≥ 5: {'met' if ratio >= 5 else 'NOT met'})")  # fmt: skip
    print(json.dumps({"bench": "anthropic", "rows": [{"target": t, "c": c, **r} for t, c, r in rows],
                      "first_event": firsts}))  # fmt: skip


if __name__ == "__main__":
    main()

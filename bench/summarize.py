#!/usr/bin/env python3
"""Breach → summary file: a tracked agent crosses its hard max on :6105 and the worker writes its summary.

For N runs: POST /track with a conversation and a breaching ctx_used, then poll /summaries until the summary
exists; time from the breach response to the file. Floor: the same summarizer called in-process on the same
text (what the worker does besides queueing, SQL and the file). Prints p50/p95/max and the seed target (< 5 s).

    .venv/bin/python bench/summarize.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import requests

from _stack import Stack, percentile
from app.domain.token_governor.summarizer import extractive_summary

CONVERSATION = [
    {"role": "user", "content": "Design the heartbeat monitor's deadline sweep and its alert shipping."},
    {"role": "assistant", "content": "The sweep reads the deadline sorted set on the Redis clock. Each service "
     "climbs a ladder: one missed beat warns, two mark it down, three deregister it. The Lua script makes each "
     "step a compare-and-set. Alerts go to the event stream first and are shipped to SQL by sequence number."},
] * 20  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    text = "\n".join(f"{m['role']}: {m['content']}" for m in CONVERSATION)
    t0 = time.perf_counter()
    for _ in range(20):
        extractive_summary(text)
    floor_ms = (time.perf_counter() - t0) / 20 * 1000
    with Stack() as stack:
        tg = lambda p: stack.url(6105, p)  # noqa: E731
        session = requests.Session()
        times: list[float] = []
        for i in range(args.runs):
            run = f"bench-{i}"
            body = {"agent": "bench", "run_id": run, "ctx_limit": 1000, "messages": CONVERSATION}
            session.post(tg("/track"), json={**body, "ctx_used": 100}, timeout=10)
            t0 = time.perf_counter()
            r = session.post(tg("/track"), json={**body, "ctx_used": 800, "messages": None}, timeout=10)
            assert r.json()["status"] == "breach", r.text
            while True:
                rows = session.get(tg("/summaries"), params={"agent": "bench", "run_id": run}, timeout=10).json()
                if rows["summaries"] and os.path.isfile(rows["summaries"][0]["summary_path"]):
                    times.append((time.perf_counter() - t0) * 1000)
                    break
                if time.perf_counter() - t0 > 30:
                    raise SystemExit(f"no summary for {run} after 30 s")
                time.sleep(0.01)
        sample = Path(rows["summaries"][0]["summary_path"]).read_text()
    p50, p95 = percentile(times, 50), percentile(times, 95)
    print(f"breach → summary file, {args.runs} runs (extractive): p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
          f"max {max(times):.0f} ms; seed target < 5000 ms: {'met' if p95 < 5000 else 'NOT met'}")  # fmt: skip
    print(f"in-process summarizer on the same text: {floor_ms:.1f} ms; ratio p50 / floor {p50 / floor_ms:.1f}")
    print(f"summary file starts: {sample.splitlines()[0]!r}")
    print(json.dumps({"bench": "summarize", "runs": args.runs, "p50_ms": p50, "p95_ms": p95, "max_ms": max(times),
                      "floor_ms": floor_ms}))  # fmt: skip


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Render time of the HMI tree page `/tree` (:6101) in headless Chromium with 50, 500 and 5,000 agents, against a
private PAS started as in production.

For each N the registry (:6121) is filled up to N agents in a realistic hierarchy (1 in 10 a tier-1 lead with no
parent, 4 in 10 tier-2 with a lead as parent, 5 in 10 tier-3 under a tier-2 agent), then `/tree` is loaded K times,
each in a fresh page of one browser context (one discarded warm-up load first, so d3 and the page come from a
warm HTTP cache, as for a user who has been there before). Per load:

  nodes    navigation start → all N+1 `svg#tree g.node` present (the agents plus "PAS Root"), stamped in the page by
           a MutationObserver installed before any page script (no Playwright polling in the figure);
  painted  the same, up to the first task after the next animation frame (the nodes have been laid out and painted);
  render   the page's own render duration from `window.PAS.renders` ({page: "tree", ms, nodes}), when hmi.js has it.

Baseline in the same run: `fetch('/api/tree')` + `.json()` timed inside the same page; the ratio nodes / fetch is
printed. Targets on p95: the seed's < 250 ms at 500; ours ≤ 250 ms at 500 and ≤ 1 s at 5,000, judged on `nodes`
(what a user waits for) and, when present, on `render` (the page's own figure).

    .venv/bin/python bench/tree_render.py            # N = 50, 500, 5,000; 10 loads each
    .venv/bin/python bench/tree_render.py --quick    # N = 50, 500; 5 loads each
    .venv/bin/python bench/tree_render.py --sizes 50,2000 --loads 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import requests
from playwright.sync_api import BrowserContext, sync_playwright

from _stack import Stack, percentile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
TARGETS_MS: dict[int, tuple[float | None, float]] = {500: (250.0, 250.0), 5000: (None, 1000.0)}  # N -> (seed, ours)
BASE = {"type": "agent", "role": "production", "url": "internal://x", "caps": ["c"], "heartbeat_interval_s": 3600}

# Installed before any page script: stamps performance.now() the first time the tree has all its nodes.
OBSERVER_JS = """
(() => {
  const want = %d;
  const b = window.__bench = { ready: null, painted: null, count: 0 };
  const check = () => {
    const n = document.querySelectorAll("svg#tree g.node").length;
    b.count = n;
    if (n < want) return false;
    b.ready = performance.now();
    requestAnimationFrame(() => setTimeout(() => { b.painted = performance.now(); }, 0));
    return true;
  };
  const mo = new MutationObserver(() => { if (check()) mo.disconnect(); });
  mo.observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
})();
"""

FETCH_JS = """async () => {
  const t0 = performance.now();
  const r = await fetch("/api/tree", { headers: { Accept: "application/json" } });
  await r.json();
  return performance.now() - t0;
}"""

READ_JS = """() => ({
  ready: window.__bench.ready,
  painted: window.__bench.painted,
  renders: (window.PAS && Array.isArray(window.PAS.renders)) ? window.PAS.renders : null,
  dcl: performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd,
  treeFetchEnd: (performance.getEntriesByType("resource").find((e) => e.name.endsWith("/api/tree")) || {})
    .responseEnd ?? null,
})"""


def agent(i: int) -> dict[str, Any]:
    """The i-th agent of a 3-level hierarchy; every group of 10 is complete before the next starts."""
    g, k = divmod(i, 10)
    if k == 0:
        return {**BASE, "name": f"lead-{g:04d}", "labels": {"tier": 1, "agent_role": "lead"}}
    if k <= 4:
        return {**BASE, "name": f"dev-{g:04d}-{k}", "labels": {"parent": f"lead-{g:04d}", "tier": 2}}
    parent = f"dev-{g:04d}-{1 + (k - 5) % 4}"
    return {**BASE, "name": f"task-{g:04d}-{k}", "labels": {"parent": parent, "tier": 3}}


async def register_range(url: str, start: int, stop: int, concurrency: int = 32) -> None:
    queue = list(range(start, stop))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while queue:
                body = agent(queue.pop())
                async with session.post(url, json=body) as r:
                    if r.status != 201:
                        raise RuntimeError(f"register {body['name']}: HTTP {r.status} {await r.text()}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def register_upto(url: str, start: int, stop: int) -> None:
    """asyncio.run in its own thread: Playwright's sync API owns an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, register_range(url, start, stop)).result()


def count_nodes(node: dict[str, Any]) -> int:
    return 1 + sum(count_nodes(c) for c in node.get("children") or [])


def depth(node: dict[str, Any]) -> int:
    return 1 + max((depth(c) for c in node.get("children") or []), default=0)


def load_once(context: BrowserContext, url: str, want: int, timeout_ms: float) -> dict[str, Any]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.add_init_script(OBSERVER_JS % want)
        page.goto(url, wait_until="commit")
        # polled from here: the page's CSP (script-src 'self') forbids wait_for_function's string eval
        deadline = time.monotonic() + timeout_ms / 1000
        while not page.evaluate("() => !!window.__bench && window.__bench.painted !== null"):
            if time.monotonic() > deadline:
                count = page.evaluate("() => window.__bench ? window.__bench.count : null")
                raise TimeoutError(f"/tree showed {count} of {want} nodes after {timeout_ms / 1000:.0f}s")
            time.sleep(0.05)
        got = page.evaluate(READ_JS)
        fetch_ms = float(page.evaluate(FETCH_JS))
    finally:
        page.close()
    render_ms = None
    if got["renders"] is not None:
        full = [r for r in got["renders"] if r.get("page") == "tree" and (r.get("nodes") or 0) >= want]
        render_ms = float(full[0]["ms"]) if full else None
    return {"nodes_ms": float(got["ready"]), "painted_ms": float(got["painted"]), "render_ms": render_ms,
            "renders_hook": got["renders"] is not None, "fetch_ms": fetch_ms, "page_errors": errors,
            "dcl_ms": float(got["dcl"]),
            "tree_fetch_end_ms": None if got["treeFetchEnd"] is None else float(got["treeFetchEnd"])}  # fmt: skip


def phases(loads: list[dict[str, Any]]) -> dict[str, float]:
    """p50 of each milestone of a load, from navigation start (ms)."""
    keys = ("dcl_ms", "tree_fetch_end_ms", "nodes_ms")
    return {k: percentile([x[k] for x in loads if x[k] is not None], 50) for k in keys}


def stats(values: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
            "max_ms": max(values) if values else float("nan")}  # fmt: skip


def verdict(n: int, p95: float) -> tuple[str, bool | None, bool | None]:
    seed, ours = TARGETS_MS.get(n, (None, float("nan")))
    if n not in TARGETS_MS:
        return "no target", None, None
    seed_ok = None if seed is None else p95 < seed
    ours_ok = p95 <= ours
    parts = []
    if seed is not None:
        parts.append(f"seed < {seed:.0f}: {'met' if seed_ok else 'NOT met'}")
    parts.append(f"ours ≤ {ours:.0f}: {'met' if ours_ok else 'NOT met'}")
    return "; ".join(parts), seed_ok, ours_ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="50,500,5000", help="comma-separated agent counts, ascending")
    ap.add_argument("--loads", type=int, default=10, help="page loads per size")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one load may take")
    ap.add_argument("--quick", action="store_true", help="N = 50, 500; 5 loads each")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.quick:
        sizes, args.loads = [50, 500], 5
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("Debian's chromium is not installed (run .ci/ensure-chromium)")

    rows: list[dict[str, Any]] = []
    with Stack() as stack, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        context = browser.new_context()  # one HTTP cache (static files revalidate: Cache-Control no-cache)
        have = 0
        for n in sizes:
            t0 = time.monotonic()
            register_upto(stack.url(6121, "/register"), have, n)
            reg_s = time.monotonic() - t0
            tree = requests.get(stack.url(6101, "/api/tree"), timeout=30).json()
            want = count_nodes(tree)
            if want != n + 1:
                raise RuntimeError(f"/api/tree has {want} nodes, expected {n + 1}")
            print(f"N={n}: registered {n - have} agents in {reg_s:.1f}s; /api/tree has {want} nodes, depth "
                  f"{depth(tree)}")  # fmt: skip
            have = n
            url = stack.url(6101, "/tree")
            load_once(context, url, want, args.timeout * 1000)  # warm-up, discarded
            loads = [load_once(context, url, want, args.timeout * 1000) for _ in range(args.loads)]
            nodes = [x["nodes_ms"] for x in loads]
            painted = [x["painted_ms"] for x in loads]
            renders = [x["render_ms"] for x in loads if x["render_ms"] is not None]
            fetches = [x["fetch_ms"] for x in loads]
            s_nodes, s_fetch = stats(nodes), stats(fetches)
            text, seed_ok, ours_ok = verdict(n, s_nodes["p95_ms"])
            s_render = stats(renders) if renders else None
            r_text, r_seed_ok, r_ours_ok = verdict(n, s_render["p95_ms"]) if s_render else ("n/a", None, None)
            rows.append({"n": n, "loads": len(loads), "nodes": s_nodes, "painted": stats(painted),
                         "render": s_render, "render_seed_met": r_seed_ok, "render_ours_met": r_ours_ok,
                         "render_verdict": r_text,
                         "renders_hook": any(x["renders_hook"] for x in loads), "fetch": s_fetch,
                         "ratio_nodes_fetch_p95": s_nodes["p95_ms"] / s_fetch["p95_ms"],
                         "seed_met": seed_ok, "ours_met": ours_ok, "verdict": text,
                         "page_errors": sum(len(x["page_errors"]) for x in loads),
                         "phases_p50": phases(loads)})  # fmt: skip
        browser.close()

    def triple(st: dict[str, float] | None) -> str:
        return f"{st['p50_ms']:.0f}/{st['p95_ms']:.0f}/{st['max_ms']:.0f}" if st else "n/a (no hook)"

    print()
    print(f"{'N':>6} {'loads':>5}  {'nodes p50/p95/max':>18}  {'painted p95':>11}  {'render p50/p95/max':>18}  "
          f"{'fetch p50/p95/max':>18}  {'nodes/fetch':>11}  targets on p95 (ms): nodes | render")  # fmt: skip
    for r in rows:
        print(f"{r['n']:>6} {r['loads']:>5}  {triple(r['nodes']):>18}  {r['painted']['p95_ms']:>11.0f}  "
              f"{triple(r['render']):>18}  {triple(r['fetch']):>18}  {r['ratio_nodes_fetch_p95']:>11.1f}  "
              f"{r['verdict']} | {r['render_verdict']}")  # fmt: skip
    print("(ms; nodes = navigation start → all g.node present; fetch = /api/tree fetch + json in the same page)")
    for r in rows:
        ph = r["phases_p50"]
        print(
            f"  N={r['n']} where the time goes (p50 of the loads): navigation → DOMContentLoaded {ph['dcl_ms']:.0f}"
            f", → first /api/tree response {ph['tree_fetch_end_ms']:.0f}, → all nodes {ph['nodes_ms']:.0f}"
        )
    if not any(r["renders_hook"] for r in rows):
        print("window.PAS.renders is absent in this hmi.js: the render-only column is empty")
    errors = sum(r["page_errors"] for r in rows)
    if errors:
        print(f"page errors: {errors}")
    print(json.dumps({"bench": "tree_render", "loads": args.loads, "rows": rows}))


if __name__ == "__main__":
    main()

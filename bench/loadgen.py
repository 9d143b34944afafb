#!/usr/bin/env python3
# The load generator the LiteLLM reference figures were taken with (lint-fixed), kept here so the gateway
# bench runs from a clone alone.
"""Closed-loop HTTP load generator (asyncio + aiohttp).

C workers share one keep-alive connection pool; each sends its next request as
soon as its previous answer is read, until N requests are done or --max-s
seconds have passed (then "truncated": true). A short warm-up that is not
counted comes first. Prints one JSON line:

  {"label":..., "count":ok, "errors":..., "rps":..., "p50_ms":..., "p95_ms":..., "p99_ms":..., ...}

Only loopback targets are accepted.

  loadgen.py --url http://127.0.0.1:18081/v1/chat/completions -n 2000 -c 8 \
             --json '{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}'
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
import sys
import time
from collections import Counter
from urllib.parse import urlsplit

import aiohttp

DEFAULT_BODY = {"model": "mock-gpt", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}


def percentile(sorted_vals: list[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    for info in socket.getaddrinfo(host, None):
        if not ipaddress.ip_address(info[4][0]).is_loopback:
            sys.exit(f"loadgen: refusing non-loopback target {url} ({info[4][0]})")


async def run(args) -> dict:
    payload = args.json.encode() if args.json is not None else json.dumps(DEFAULT_BODY).encode()
    headers = {"Content-Type": "application/json"}
    for h in args.header:
        k, _, v = h.partition(":")
        headers[k.strip()] = v.strip()
    expect = args.expect.encode() if args.expect else None
    method = args.method.upper()
    data = payload if method in ("POST", "PUT", "PATCH") else None

    connector = aiohttp.TCPConnector(limit=args.c, limit_per_host=args.c, keepalive_timeout=60, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    errors: Counter[str] = Counter()
    lat: list[float] = []
    state = {"issued": 0}

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as session:

        async def one() -> tuple[bool, str]:
            try:
                async with session.request(method, args.url, data=data, headers=headers) as r:
                    body = await r.read()
                    if r.status != 200:
                        return False, f"http_{r.status}"
                    if expect is not None and expect not in body:
                        return False, "unexpected_body"
                    return True, ""
            except TimeoutError:
                return False, "timeout"
            except aiohttp.ClientError as e:
                return False, type(e).__name__

        # warm-up (not counted): opens the pool's connections, wakes lazy code paths
        warm = args.warmup if args.warmup >= 0 else max(20, 2 * args.c)
        if warm:
            sem = asyncio.Semaphore(args.c)

            async def w() -> None:
                async with sem:
                    await one()

            await asyncio.gather(*(w() for _ in range(warm)))

        deadline = time.perf_counter() + args.max_s
        truncated = False

        async def worker() -> None:
            nonlocal truncated
            pc = time.perf_counter
            while state["issued"] < args.n:
                if pc() >= deadline:
                    truncated = True
                    return
                state["issued"] += 1
                t0 = pc()
                ok, kind = await one()
                dt = pc() - t0
                if ok:
                    lat.append(dt)
                else:
                    errors[kind] += 1

        t_start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.c)))
        elapsed = time.perf_counter() - t_start

    lat.sort()
    ms = [x * 1000.0 for x in lat]
    n_err = sum(errors.values())
    return {
        "label": args.label,
        "url": args.url,
        "n": args.n,
        "c": args.c,
        "count": len(ms),
        "errors": n_err,
        "error_kinds": dict(errors),
        "elapsed_s": round(elapsed, 4),
        "rps": round(len(ms) / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(sum(ms) / len(ms), 3) if ms else float("nan"),
        "max_ms": round(ms[-1], 3) if ms else float("nan"),
        "truncated": truncated,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("-n", type=int, default=2000, help="requests to send (after warm-up)")
    p.add_argument("-c", type=int, default=8, help="concurrency (closed loop)")
    p.add_argument("--method", default="POST")
    p.add_argument("--json", default=None, help="request body (default: a small chat request)")
    p.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    p.add_argument("--expect", default=None, help="substring every 200 body must contain")
    p.add_argument("--warmup", type=int, default=-1, help="uncounted warm-up requests (default max(20, 2c))")
    p.add_argument("--max-s", type=float, default=20.0, help="stop issuing after this many seconds")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    p.add_argument("--label", default="")
    p.add_argument("--no-uvloop", action="store_true")
    args = p.parse_args()
    check_loopback(args.url)
    if not args.no_uvloop:
        try:
            import uvloop  # type: ignore

            uvloop.install()
        except ImportError:
            pass
    res = asyncio.run(run(args))
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

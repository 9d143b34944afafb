#!/usr/bin/env python3
"""Heartbeat ingestion and down-detection latency, against a private PAS started as in production.

(a) heartbeats accepted per second through HTTP (PUT /heartbeat on :6121) with C concurrent keep-alive clients,
    beside raw Redis HSET+ZADD from the same client style in the same run (the floor): prints the ratio.
(b) 200 services with a 1 s interval stop beating: per service, the time from its deadline (last beat + 2
    intervals, on the Redis clock) to its service_down alert arriving over Socket.IO.

    .venv/bin/python bench/heartbeats.py            # 10,000 services, 10 s
    .venv/bin/python bench/heartbeats.py --quick    # 1,000 services, 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import socketio

from _stack import Stack, percentile

HERE = Path(__file__).resolve().parent

REG_BODY = {"type": "model", "role": "experimental", "url": "http://127.0.0.1:1", "caps": ["bench"]}


async def register_all(url: str, names: list[str], interval: int, concurrency: int = 32) -> dict[str, str]:
    ids: dict[str, str] = {}
    queue = list(names)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while queue:
                name = queue.pop()
                body = {**REG_BODY, "service_id": name, "name": name, "heartbeat_interval_s": interval}
                async with session.post(url, json=body) as r:
                    assert r.status == 201, await r.text()
                    ids[name] = (await r.json())["service_id"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ids


async def heartbeat_load(url: str, ids: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    counter = iter(range(10**12))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < stop:
                sid = ids[next(counter) % len(ids)]
                t0 = time.perf_counter()
                async with session.put(url, json={"service_id": sid}) as r:
                    await r.read()
                    if r.status == 200:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {"per_s": len(latencies) / elapsed, "ok": len(latencies), "errors": errors,
            "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
            "p99_ms": percentile(latencies, 99)}  # fmt: skip


async def raw_redis_load(url: str, ids: list[str], seconds: float, concurrency: int) -> dict[str, float]:
    client = aioredis.Redis.from_url(url, max_connections=concurrency)
    done = 0
    stop = time.monotonic() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop:
            sid = ids[next(counter) % len(ids)]
            await client.hset(f"rawbench:svc:{sid}", mapping={"last_hb_ms": int(time.time() * 1000), "status": "ok"})
            await client.zadd("rawbench:deadlines", {sid: time.time() * 1000 + 60_000})
            done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    await client.aclose()
    return {"per_s": done / elapsed}


def wrk_heartbeats(url: str, n: int, seconds: float, connections: int) -> dict[str, Any] | None:
    """The same load from wrk (C, light on CPU), so the figure is the server's, not the Python client's."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "-s", str(HERE / "heartbeat.lua"), url],
        capture_output=True, text=True, env={**os.environ, "BENCH_N": str(n)}, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {"per_s": rps, "non_2xx": int(bad.group(1)) if bad else 0, "p50": lat.get("50"), "p99": lat.get("99")}


def redis_benchmark(port: int, n: int, connections: int) -> dict[str, float] | None:
    """Raw HSET and ZADD from redis-benchmark (C) against the same Valkey: the floor for wrk's figure."""
    tool = shutil.which("redis-benchmark") or shutil.which("valkey-benchmark")
    if tool is None:
        return None

    def rate(*cmd: str) -> float:
        out = subprocess.run([tool, "-p", str(port), "-n", "200000", "-c", str(connections), "-r", str(n), "-q", *cmd],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
        return float(re.findall(r"([\d.]+) requests per second", out)[-1])

    hset = rate("HSET", "rawbench:svc:__rand_int__", "last_hb_ms", "1")
    zadd = rate("ZADD", "rawbench:deadlines", "1", "__rand_int__")
    return {"hset_per_s": hset, "zadd_per_s": zadd, "pair_per_s": 1 / (1 / hset + 1 / zadd)}


def iso_ms(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000


def down_latency(stack: Stack, n: int) -> dict[str, float]:
    arrivals: dict[str, tuple[float, float]] = {}  # service_id -> (received ms, transition written ms)
    lock = threading.Lock()
    client = socketio.Client(reconnection=False)

    @client.on("event")
    def _event(env: dict) -> None:
        data = env.get("data") or {}
        if env.get("event_type") == "alert" and data.get("alert_type") == "service_down":
            with lock:
                arrivals.setdefault(data["service_id"], (time.time() * 1000, iso_ms(env["ts"])))

    client.connect(stack.url(6100), transports=["websocket"], wait_timeout=10)
    names = [f"down-{i:04d}" for i in range(n)]
    asyncio.run(register_all(stack.url(6121, "/register"), names, interval=1))
    deadlines: dict[str, float] = {}
    import requests

    session = requests.Session()
    for name in names:  # one last beat each; the deadline for `down` is that beat + 2 intervals
        r = session.put(stack.url(6121, "/heartbeat"), json={"service_id": name}, timeout=5)
        deadlines[name] = iso_ms(r.json()["ts"]) + 2000
    wait_until = time.monotonic() + 10
    while time.monotonic() < wait_until and len(arrivals) < n:
        time.sleep(0.1)
    client.disconnect()
    received = [arrivals[s][0] - deadlines[s] for s in names if s in arrivals]
    written = [arrivals[s][1] - deadlines[s] for s in names if s in arrivals]
    return {"services": n, "missing": n - len(received),
            "received_p50_ms": percentile(received, 50), "received_p95_ms": percentile(received, 95),
            "received_max_ms": max(received) if received else float("nan"),
            "written_p50_ms": percentile(written, 50), "written_p95_ms": percentile(written, 95),
            "written_max_ms": max(written) if written else float("nan")}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--down", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.services, args.seconds = 1000, 5.0
    with Stack(PAS_SELF_PRESERVATION_MIN_SERVICES="1000000") as stack:
        t0 = time.monotonic()
        names = [f"svc-{i:05d}" for i in range(args.services)]
        ids = list(asyncio.run(register_all(stack.url(6121, "/register"), names, interval=60)).values())
        reg_s = time.monotonic() - t0
        print(f"registered {len(ids)} services in {reg_s:.1f}s ({len(ids) / reg_s:.0f}/s)")
        pas = asyncio.run(heartbeat_load(stack.url(6121, "/heartbeat"), ids, args.seconds, args.concurrency))
        raw = asyncio.run(raw_redis_load(stack.valkey.url, ids, args.seconds, args.concurrency))
        ratio = pas["per_s"] / raw["per_s"]
        print(f"(a) heartbeats via PAS HTTP: {pas['per_s']:.0f}/s  (p50 {pas['p50_ms']:.2f} ms, "
              f"p95 {pas['p95_ms']:.2f} ms, p99 {pas['p99_ms']:.2f} ms, errors {pas['errors']})")  # fmt: skip
        print(f"    raw Redis HSET+ZADD, same client style: {raw['per_s']:.0f}/s")
        print(f"    ratio PAS / raw Redis: {ratio:.2f}   target ≥ 2,000 heartbeats/s: "
              f"{'met' if pas['per_s'] >= 2000 else 'NOT met'}")  # fmt: skip
        wrk = wrk_heartbeats(stack.url(6121, "/heartbeat"), len(ids), args.seconds, args.concurrency)
        floor = redis_benchmark(int(stack.valkey.port), len(ids), args.concurrency)
        if wrk and floor:
            print(f"    wrk (C client), same load: {wrk['per_s']:.0f}/s (p50 {wrk['p50']}, p99 {wrk['p99']}, "
                  f"non-2xx {wrk['non_2xx']}); redis-benchmark HSET+ZADD pair: {floor['pair_per_s']:.0f}/s; "
                  f"ratio {wrk['per_s'] / floor['pair_per_s']:.2f}   target ≥ 2,000/s: "
                  f"{'met' if wrk['per_s'] >= 2000 else 'NOT met'}")  # fmt: skip
        else:
            print("    (install wrk and redis-tools for the C-client figures: apt-get install wrk redis-tools)")
        down = down_latency(stack, args.down)
        print(f"(b) deadline → service_down over Socket.IO, {down['services']} services: "
              f"p50 {down['received_p50_ms']:.0f} ms, p95 {down['received_p95_ms']:.0f} ms, "
              f"max {down['received_max_ms']:.0f} ms, missing {down['missing']}")  # fmt: skip
        print(f"    deadline → transition written (event ts): p50 {down['written_p50_ms']:.0f} ms, "
              f"p95 {down['written_p95_ms']:.0f} ms   target p95 ≤ 1000 ms: "
              f"{'met' if down['received_p95_ms'] <= 1000 else 'NOT met'}")  # fmt: skip
        print(json.dumps({"bench": "heartbeats", "services": len(ids), "concurrency": args.concurrency,
                          "pas": pas, "raw_redis": raw, "ratio": ratio, "wrk": wrk, "redis_benchmark": floor,
                          "down": down}))  # fmt: skip


if __name__ == "__main__":
    main()

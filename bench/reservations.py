#!/usr/bin/env python3
"""Reservation throughput and the over-allocation invariant, against a private PAS started as in production.

1,000 reserve(+release when granted) pairs from 32 concurrent clients on :6104 against a cpu capacity of 16, so
many are denied; a poller reads the allocation every few ms and counts any moment above capacity (must be 0).
Beside it, the same loop against a plain Redis INCRBY counter (check, undo on overflow) from the same client
style: the floor. Prints grants/s, denials, over-allocations and the ratio.

    .venv/bin/python bench/reservations.py [--pairs 1000] [--concurrency 32] [--capacity 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp
import redis.asyncio as aioredis

from _stack import Stack, percentile


async def through_pas(stack: Stack, pairs: int, concurrency: int, capacity: int) -> dict[str, float]:
    rm = lambda p: stack.url(6104, p)  # noqa: E731
    prefix = stack.env["PAS_KEY_PREFIX"]
    client = aioredis.Redis.from_url(stack.valkey.url)
    over, samples, done = 0, 0, False

    async def poll() -> None:
        nonlocal over, samples
        while not done:
            used = int(await client.hget(f"{prefix}:resource_manager:allocated", "cpu") or 0)
            samples += 1
            if used > capacity * 1000:
                over += 1
            await asyncio.sleep(0.005)

    counter = iter(range(pairs))
    granted = denied = errors = 0
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async with session.post(rm("/quotas/update"), json={"resource_type": "cpu", "new_capacity": capacity}) as r:
            assert r.status == 200, await r.text()

        async def worker() -> None:
            nonlocal granted, denied, errors
            for i in counter:
                t0 = time.perf_counter()
                async with session.post(rm("/reserve"), json={"job_id": f"b{i}", "agent": "bench", "cpu": 1}) as r:
                    body = await r.json()
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status == 201:
                    granted += 1
                    async with session.post(rm("/release"), json={"reservation_id": body["reservation_id"]}) as rel:
                        errors += rel.status != 200
                elif r.status == 409:
                    denied += 1
                else:
                    errors += 1

        poller = asyncio.create_task(poll())
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        done = True
        await poller
        async with session.get(rm("/quotas")) as r:
            final = (await r.json())["quotas"]["cpu"]["allocated"]
    await client.aclose()
    return {"requests_per_s": pairs / elapsed, "grants_per_s": granted / elapsed, "granted": granted,
            "denied": denied, "errors": errors, "over_allocations": over, "samples": samples,
            "final_allocated": final, "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95)}  # fmt: skip


async def plain_counter(url: str, pairs: int, concurrency: int, capacity: int) -> dict[str, float]:
    client = aioredis.Redis.from_url(url, max_connections=concurrency)
    await client.delete("rawbench:cpu")
    counter = iter(range(pairs))
    granted = 0

    async def worker() -> None:
        nonlocal granted
        for _ in counter:
            if await client.incrby("rawbench:cpu", 1) <= capacity:
                granted += 1
            await client.decrby("rawbench:cpu", 1)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.aclose()
    return {"requests_per_s": pairs / elapsed, "granted": granted}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--capacity", type=int, default=16)
    args = ap.parse_args()
    with Stack() as stack:
        pas = asyncio.run(through_pas(stack, args.pairs, args.concurrency, args.capacity))
        floor = asyncio.run(plain_counter(stack.valkey.url, args.pairs, args.concurrency, args.capacity))
        ratio = pas["requests_per_s"] / floor["requests_per_s"]
        print(f"PAS /reserve(+/release): {pas['requests_per_s']:.0f} reservations/s ({pas['grants_per_s']:.0f} "
              f"grants/s), granted {pas['granted']}, denied {pas['denied']}, errors {pas['errors']}, "
              f"p50 {pas['p50_ms']:.1f} ms, p95 {pas['p95_ms']:.1f} ms")  # fmt: skip
        print(f"over-allocations seen: {pas['over_allocations']} in {pas['samples']} samples; allocated at the end: "
              f"{pas['final_allocated']} (must be 0 and 0)")  # fmt: skip
        print(f"plain Redis INCRBY counter, same client style: {floor['requests_per_s']:.0f}/s; ratio {ratio:.2f}; "
              f"target ≥ 500 reservations/s: {'met' if pas['requests_per_s'] >= 500 else 'NOT met'}")  # fmt: skip
        print(json.dumps({"bench": "reservations", **vars(args), "pas": pas, "floor": floor, "ratio": ratio}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Soak (RELIABILITY 4.9, issue 13): a private PAS as in production (embedded Valkey, gunicorn + gevent, a Celery
worker and beat), 1,000 services heartbeating, jobs and gateway calls flowing, and every 30 s one component —
web, worker, beat or Valkey — killed with SIGKILL and started again. Every window prints Valkey `used_memory`,
the worker's RSS (its whole process tree), the p95 latency of heartbeats, gateway calls and an API read, and
the errors seen while something was down; the first window (nothing killed yet) is the baseline the later ones
are compared with. At the end: lost and duplicated records (services, jobs, receipts), which must be 0.

    .venv/bin/python bench/soak.py                 # 10 minutes, 1,000 services, a kill every 30 s
    .venv/bin/python bench/soak.py --quick         # 2 minutes, 300 services, a kill every 20 s
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import redis
import requests
import sqlalchemy as sa
from heartbeats import register_all

from _stack import Stack, mock_upstream, percentile

HERE = Path(__file__).resolve().parent
COMPONENTS = ("web", "worker", "beat", "valkey")
CHAT = {"model": "soak-gpt", "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Window:
    """What one window saw: latencies (ms) of the calls that succeeded, and the calls that did not."""

    hb: list[float] = field(default_factory=list)
    gw: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    killed: str = "-"


@dataclass
class Ledger:
    """Everything the soak was told it has: what must exist at the end."""

    services: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    gateway_ok: list[str] = field(default_factory=list)  # request ids answered 2xx


async def timed(
    session: aiohttp.ClientSession, method: str, url: str, window: Window, kind: str, **kw: Any
) -> tuple[int, Any]:
    t0 = time.perf_counter()
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=10), **kw) as r:
            body = await r.json(content_type=None) if r.status < 500 else None
            if r.status < 300:
                getattr(window, kind).append((time.perf_counter() - t0) * 1000)
            else:
                window.errors[f"{kind} {r.status}"] += 1
            return r.status, body
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        window.errors[f"{kind} {type(exc).__name__}"] += 1
        return 0, None


class Soak:
    def __init__(self, stack: Stack, args: argparse.Namespace, mock_port: int) -> None:
        self.stack = stack
        self.args = args
        self.mock_port = mock_port
        self.windows: list[Window] = [Window()]
        self.ledger = Ledger()
        self.stop = asyncio.Event()  # the heartbeats stop last: after the audit (silent services would go)
        self.calm = asyncio.Event()  # chaos is over: no more jobs, calls or reads
        self.figures: dict[str, int] = {}

    @property
    def window(self) -> Window:
        return self.windows[-1]

    async def register(self, session: aiohttp.ClientSession) -> None:
        names = [f"soak-{i:05d}" for i in range(self.args.services)]
        ids = await register_all(self.stack.url(6100, "/api/registry/register"), names, self.args.interval)
        self.ledger.services.extend(ids.values())
        reg = {"name": "soak-gpt", "model": "soak-gpt", "context_window": 8000, "cost_per_input_token": 1e-7,
               "cost_per_output_token": 4e-7, "endpoint": f"http://127.0.0.1:{self.mock_port}/v1"}  # fmt: skip
        status, reply = await timed(session, "POST", self.stack.url(6103, "/register"), self.window, "api", json=reg)
        if status >= 300:
            raise RuntimeError(f"registering the provider: {status} {reply}")

    async def heartbeats(self, session: aiohttp.ClientSession) -> None:
        """Each service beats once per interval, spread evenly over it (ticks of 100 ms)."""
        url = self.stack.url(6100, "/api/registry/heartbeat")
        ids = self.ledger.services
        per_tick = max(1, round(len(ids) * 0.1 / self.args.interval))
        sem = asyncio.Semaphore(32)
        i = 0
        started = time.monotonic()

        async def beat(sid: str) -> None:
            async with sem:
                await timed(session, "PUT", url, self.window, "hb", json={"service_id": sid})

        tasks: set[asyncio.Task[None]] = set()
        tick = 0
        while not self.stop.is_set():
            for _ in range(per_tick):
                task = asyncio.create_task(beat(ids[i % len(ids)]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * 0.1 - time.monotonic()))
        await asyncio.gather(*tasks)

    async def jobs(self, session: aiohttp.ClientSession) -> None:
        url = self.stack.url(6100, "/jobs")
        n = 0
        while not self.calm.is_set():
            card = {"agent": "soak", "task": "pas.jobs.echo", "args": [n], "timeout_s": 120}
            status, reply = await timed(session, "POST", url, self.window, "api", json=card)
            if status == 201:
                self.ledger.jobs.append(reply["job_id"])
            n += 1
            await asyncio.sleep(1.0 / self.args.jobs_per_s)

    async def gateway(self, session: aiohttp.ClientSession) -> None:
        url = self.stack.url(6100, "/v1/chat/completions")
        n = 0
        while not self.calm.is_set():
            rid = f"soak-{n:06d}"
            status, _ = await timed(session, "POST", url, self.window, "gw", json=CHAT, headers={"X-Request-Id": rid})
            if 200 <= status < 300:
                self.ledger.gateway_ok.append(rid)
            n += 1
            await asyncio.sleep(1.0 / self.args.calls_per_s)

    async def reads(self, session: aiohttp.ClientSession) -> None:
        while not self.calm.is_set():
            sid = random.choice(self.ledger.services)
            await timed(session, "GET", self.stack.url(6100, f"/api/registry/services/{sid}"), self.window, "api")
            await asyncio.sleep(0.2)

    async def chaos(self) -> None:
        """Every kill_every seconds one window closes (its row printed) and a component dies and comes back."""
        rng = random.Random(self.args.seed)
        order: list[str] = []
        deadline = time.monotonic() + self.args.minutes * 60
        while time.monotonic() < deadline:
            await asyncio.sleep(min(self.args.kill_every, max(0.0, deadline - time.monotonic())))
            self.report_window()
            if time.monotonic() >= deadline - 1:
                break
            if not order:  # every component once per len(COMPONENTS) kills, in a seeded order
                order = rng.sample(COMPONENTS, len(COMPONENTS))
            victim = order.pop()
            self.windows.append(Window(killed=victim))
            await asyncio.to_thread(self.kill_and_restart, victim)
        self.calm.set()
        print("load stopped; waiting for the jobs to settle (the heartbeats go on)", flush=True)
        await asyncio.to_thread(settle, self.stack, self.ledger)
        await asyncio.sleep(4)  # the sweeper's receipts for calls a killed web process left (grace 2 s)
        self.figures = await asyncio.to_thread(audit, self.stack, self.ledger)
        self.stop.set()

    def kill_and_restart(self, victim: str) -> None:
        if victim == "valkey":
            self.stack.valkey.stop(kill=True)
            self.stack.valkey.start()  # same port, same append-only file
            return
        self.stack.kill9(victim)
        time.sleep(0.5)
        self.stack.restart(victim)

    def report_window(self) -> None:
        w = self.window
        n = len(self.windows)
        row = [f"{n:>3}", f"{w.killed:>7}", f"{valkey_memory_mb(self.stack):8.1f}",
               f"{worker_rss_mb(self.stack):8.1f}", f"{len(w.hb):6d}", f"{percentile(w.hb, 95):7.1f}",
               f"{len(w.gw):5d}", f"{percentile(w.gw, 95):7.1f}", f"{percentile(w.api, 95):7.1f}",
               f"{sum(w.errors.values()):5d}"]  # fmt: skip
        if n > 1:
            base = self.windows[0]
            row.append(f"{ratio(w.hb, base.hb):5.2f} {ratio(w.gw, base.gw):5.2f} {ratio(w.api, base.api):5.2f}")
        print(" ".join(row), flush=True)

    async def run(self) -> None:
        conn = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=conn) as session:
            await self.register(session)
            self.windows = [Window()]  # the baseline window holds the steady load only, not the registrations
            print(f"registered {len(self.ledger.services)} services; a window is {self.args.kill_every} s\n"
                  "win  killed valkeyMB workerMB  hb_ok  hb_p95 gw_ok  gw_p95 api_p95  errs   p95 ratio to "
                  "window 1 (hb gw api)", flush=True)  # fmt: skip
            await asyncio.gather(self.heartbeats(session), self.jobs(session), self.gateway(session),
                                 self.reads(session), self.chaos())  # fmt: skip


def ratio(values: list[float], base: list[float]) -> float:
    b = percentile(base, 95)
    return percentile(values, 95) / b if b and not math.isnan(b) else float("nan")


def valkey_memory_mb(stack: Stack) -> float:
    try:
        client = redis.Redis.from_url(stack.valkey.url, socket_timeout=2)
        return int(client.info("memory")["used_memory"]) / 2**20
    except redis.RedisError:
        return float("nan")


def worker_rss_mb(stack: Stack) -> float:
    try:
        root = psutil.Process(stack.by_name["worker"].pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20
    except psutil.Error:
        return float("nan")


def audit(stack: Stack, ledger: Ledger) -> dict[str, int]:
    """Lost and duplicated records, read from the stores themselves once everything has settled."""
    items = requests.get(stack.url(6100, "/api/registry/services"), timeout=30).json()["items"]
    status = Counter(str(item["status"]) for item in items if item["service_id"] in set(ledger.services))
    print(f"the soak's services by status now: {dict(status)}")
    listed = Counter(str(item["service_id"]) for item in items)
    lost_services = len([sid for sid in ledger.services if listed[sid] == 0])
    url = f"sqlite:///{stack.tmp / 'artifacts' / 'pas.db'}"
    engine = sa.create_engine(url)
    with engine.connect() as db:
        jobs: dict[str, str] = {str(j): str(s) for j, s in db.execute(sa.text("SELECT job_id, status FROM jobs"))}
        rows = db.execute(sa.text("SELECT request_id, status FROM receipts")).all()
    receipts: Counter[str] = Counter(str(rid) for rid, _ in rows)
    answered = {str(rid) for rid, status in rows if status in ("success", "fallback")}
    engine.dispose()
    return {
        "services lost": lost_services,
        "services not up at the end": sum(n for st, n in status.items() if st not in ("up", "ok", "healthy")),
        "services duplicated": len([sid for sid in ledger.services if listed[sid] > 1]),
        "jobs lost (not succeeded)": len([j for j in ledger.jobs if jobs.get(j) != "succeeded"]),
        "jobs duplicated": len(ledger.jobs) - len(set(ledger.jobs)),
        "2xx calls without a success receipt": len([r for r in ledger.gateway_ok if r not in answered]),
        "calls with more than one receipt": len([r for r, n in receipts.items() if n > 1]),
    }


def settle(stack: Stack, ledger: Ledger, timeout_s: float = 120) -> None:
    """Wait until every job submitted is finished (a kill may have left some for a redelivery)."""
    url = f"sqlite:///{stack.tmp / 'artifacts' / 'pas.db'}"
    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as db:
                open_jobs = db.execute(sa.text("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')"))
                if not open_jobs.scalar():
                    return
            time.sleep(1)
    finally:
        engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--interval", type=int, default=5, help="heartbeat interval of every service, s")
    ap.add_argument("--kill-every", type=float, default=30)
    ap.add_argument("--jobs-per-s", type=float, default=2)
    ap.add_argument("--calls-per-s", type=float, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.services, args.kill_every = 2, 300, 20
    with mock_upstream() as mock_port, Stack(
        worker_concurrency=2, PAS_UPSTREAM_ALLOWLIST=f"127.0.0.1:{mock_port}", PAS_GATEWAY_TIMEOUT_S="5",
        PAS_GATEWAY_INTERRUPTED_GRACE_S="2", PAS_CELERY_VISIBILITY_TIMEOUT_S="30",
    ) as stack:  # fmt: skip
        soak = Soak(stack, args, mock_port)
        asyncio.run(soak.run())
        figures = soak.figures
        print(f"submitted: {len(soak.ledger.services)} services, {len(soak.ledger.jobs)} jobs, "
              f"{len(soak.ledger.gateway_ok)} gateway calls answered 2xx")  # fmt: skip
        for name, value in figures.items():
            print(f"{name:>40}: {value}{'' if value == 0 else '   <-- must be 0'}")
        print(f"logs: {stack.tmp}")
    sys.exit(0 if not any(figures.values()) else 1)


if __name__ == "__main__":
    os.chdir(HERE.parent)
    main()

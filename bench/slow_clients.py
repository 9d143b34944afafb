#!/usr/bin/env python3
"""Slow clients against a private PAS started as in production (gunicorn + gevent, one worker): how many
connections one client can hold open, for how long each, and what a normal client sees meanwhile.

Three attacks, one after the other, each N connections from 127.0.0.2 (another address of this machine, standing
for the attacking machine; the normal client is 127.0.0.1):

- slowloris: `GET /health HTTP/1.1`, `Host:`, then one byte of a header every second, never the blank line;
- slow body: `POST /api/registry/register` with `Content-Length: 100`, then one byte of the body every second;
- idle: one whole `GET /health`, its answer read, then nothing (an idle keep-alive connection).

A connection is held until the server answers or closes it (or --hold-max s pass). Printed per attack: connections
opened, refused at connect, the peak open at once on the client's side, the peak and median the web worker holds
(connections it has accepted from the attacker's address, sampled every 0.5 s), seconds each was held (p50/max, of
those not refused with a 429) and how each ended (the status the server answered, a silent close, or still held at
--hold-max). Meanwhile the normal client GETs `/health` and `/api/registry/services` on a fresh connection every
50 ms (5 s timeout): p50/p99/max of the answered, failures, and the longest stretch without any answer, against a
baseline from the same run before any attack.

    .venv/bin/python bench/slow_clients.py                    # 2,500 connections per attack, each held ≤ 45 s
    .venv/bin/python bench/slow_clients.py --quick            # 600 connections, ≤ 20 s
    .venv/bin/python bench/slow_clients.py --connections 300 --attacks slowloris
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import itertools
import json
import os
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from _stack import Stack, percentile

ATTACKER = "127.0.0.2"
PROBE_EVERY_S = 0.05
PROBE_TIMEOUT_S = 5.0
# Closed with a reset: thousands of client-side TIME_WAITs would hold ephemeral ports other runs need.
NO_LINGER = struct.pack("ii", 1, 0)


@dataclass
class Held:
    opened: float = 0.0
    ended: float | None = None
    outcome: str = "held"  # "refused" (no connection), "closed" (silently), "<status>", or "held" (at --hold-max)


@dataclass
class Probe:
    port: int
    samples: list[tuple[float, float | None]] = field(default_factory=list)  # (when, ms or None on failure)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        paths = ["/health", "/api/registry/services"]
        i = 0
        while not self._stop.is_set():
            started = time.monotonic()
            ms: float | None = None
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PROBE_TIMEOUT_S)
            try:
                conn.request("GET", paths[i % 2])
                r = conn.getresponse()
                r.read()
                ms = (time.monotonic() - started) * 1000 if r.status == 200 else None
            except OSError:
                pass
            finally:
                if conn.sock is not None:
                    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, NO_LINGER)
                conn.close()
            self.samples.append((started, ms))
            i += 1
            self._stop.wait(max(0.0, PROBE_EVERY_S - (time.monotonic() - started)))

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.run, daemon=True)
        t.start()
        return t

    def stop(self, t: threading.Thread) -> None:
        self._stop.set()
        t.join(PROBE_TIMEOUT_S + 2)

    def figures(self, since: float, until: float) -> dict[str, float]:
        window = [(when, ms) for when, ms in self.samples if since <= when < until]
        ok = [ms for _, ms in window if ms is not None]
        answered = [since, *sorted(when + ms / 1000 for when, ms in window if ms is not None), until]
        return {"requests": len(window), "failed": len(window) - len(ok), "p50_ms": round(percentile(ok, 50), 1),
                "p99_ms": round(percentile(ok, 99), 1), "max_ms": round(max(ok, default=float("nan")), 1),
                "longest_unanswered_s": round(max(b - a for a, b in itertools.pairwise(answered)), 1)}  # fmt: skip


OPENINGS = {
    "slowloris": (b"GET /health HTTP/1.1\r\nHost: pas\r\nX-Slow: ", None),
    "slow_body": (b"POST /api/registry/register HTTP/1.1\r\nHost: pas\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n", None),
    "idle": (b"GET /health HTTP/1.1\r\nHost: pas\r\n\r\n", "answer"),
}  # fmt: skip


async def hold_one(port: int, kind: str, hold_max: float, rec: Held) -> None:
    opening, then = OPENINGS[kind]
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0)), 5)
    except (OSError, TimeoutError):
        rec.outcome = "refused"
        return
    rec.opened = time.monotonic()
    try:
        writer.write(opening)
        if then == "answer":  # read the whole answer; what follows is the idle wait
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), hold_max)
            length = int(
                next(
                    (ln.split(b":")[1] for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length")), b"0"
                )
            )
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200 "):  # refused: no idle wait follows
                rec.ended, rec.outcome = time.monotonic(), head.split(b" ")[1].decode()
                return
        deadline = rec.opened + hold_max
        while time.monotonic() < deadline:
            try:
                got = await asyncio.wait_for(reader.read(64), 1.0)
            except TimeoutError:
                if then != "answer":
                    writer.write(b"a")  # one more byte of the header or the body
                continue
            rec.ended = time.monotonic()
            rec.outcome = got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "closed"
            return
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        rec.ended = time.monotonic()
        rec.outcome = "closed"
    finally:
        with contextlib.suppress(OSError):
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, NO_LINGER)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def held_by_server(master_pid: int, port: int) -> int:
    """Connections from the attacker's address that the web's workers have accepted (those still in the listen
    backlog are not counted): sockets in /proc/net/tcp on the port, from ATTACKER, whose inode a worker holds."""
    inodes: set[str] = set()
    for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    local = f":{port:04X}"
    remote = "".join(f"{int(b):02X}" for b in reversed(ATTACKER.split("."))) + ":"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        count += cols[1].endswith(local) and cols[2].startswith(remote) and cols[9] in inodes
    return count


async def attack(stack: Stack, kind: str, n: int, hold_max: float) -> dict[str, object]:
    port = stack.offset + 6100
    recs = [Held() for _ in range(n)]
    client_open: list[int] = []
    server_held: list[int] = []
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            client_open.append(sum(1 for r in recs if r.opened and r.ended is None))
            server_held.append(held_by_server(stack.by_name["web"].pid, port))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    gate = asyncio.Semaphore(200)  # connects in flight at once

    async def one(rec: Held) -> None:
        async with gate:
            task = asyncio.create_task(hold_one(port, kind, hold_max, rec))
            await asyncio.sleep(0)  # the connect is under way
        await task

    await asyncio.gather(*(one(r) for r in recs))
    done.set()
    await sampler
    # Of those the server took (not refused with a 429); one still open at --hold-max counts hold_max.
    held = [(r.ended or r.opened + hold_max) - r.opened for r in recs if r.opened and r.outcome != "429"]
    return {"opened": sum(1 for r in recs if r.opened),
            "refused_at_connect": sum(1 for r in recs if r.outcome == "refused"),
            "open_client_peak": max(client_open, default=0),
            # Accepted by the worker: the peak includes connections accepted only to be refused, the median not.
            "held_server_peak": max(server_held, default=0),
            "held_server_median": round(percentile([n for n in server_held if n], 50)),
            "held_s_p50": round(percentile(held, 50), 1), "held_s_max": round(max(held, default=float("nan")), 1),
            "endings": dict(Counter(r.outcome for r in recs))}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=2500)
    ap.add_argument("--hold-max", type=float, default=45.0)
    ap.add_argument("--baseline-s", type=float, default=5.0)
    ap.add_argument("--attacks", default="slowloris,slow_body,idle")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.connections, args.hold_max, args.baseline_s = 600, 20.0, 3.0
    with Stack() as stack:
        probe = Probe(stack.offset + 6100)
        thread = probe.start()
        t0 = time.monotonic()
        time.sleep(args.baseline_s)
        rows: dict[str, dict[str, object]] = {"baseline": {**probe.figures(t0, time.monotonic())}}
        for kind in args.attacks.split(","):
            since = time.monotonic()
            row = asyncio.run(attack(stack, kind, args.connections, args.hold_max))
            row["normal_client"] = probe.figures(since, time.monotonic())
            rows[kind] = row
            time.sleep(2)  # the last closes settle before the next attack
        probe.stop(thread)
    print(json.dumps({"bench": "slow_clients", "connections": args.connections, "hold_max_s": args.hold_max}))
    for name, figures in rows.items():
        print(json.dumps({"row": name, **figures}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Claude Code hook ingestion, against a private PAS started as in production (gunicorn + gevent, Celery, beat).

50 concurrent Claude Code sessions post hook events in the shapes Claude Code 2.1.197 sends (SubagentStart,
Pre/PostToolUse inside the sub-agent with realistic tool inputs and outputs, SubagentStop, the Agent call's
PostToolUse with usage, Stop) to :6119/hooks/claude-code. Beside it, in the same run on the same server and at
the same rate and concurrency, GET :6119/health (the baseline). Then the hooks unpaced (the ceiling).

    .venv/bin/python bench/hooks.py            # 500 events/s for 20 s, then unpaced for 10 s
    .venv/bin/python bench/hooks.py --quick    # 500 events/s for 6 s, then unpaced for 4 s
Target: p99 ≤ 20 ms at 500 events/s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp

from _stack import Stack, percentile

AGENTS = ["chunker-mgs", "embed-indexer", "graph-builder", "corpus-auditor", "evaluator-gatekeeper",
          "qtower-trainer", "report-leaderboard-writer", "compliance-checker"]  # fmt: skip
FILE_TEXT = "def f(x):\n    return x * 2\n" * 40  # ~1 KB of tool output, as a Read returns


def base(session: str, event: str, **fields: Any) -> dict[str, Any]:
    return {"session_id": session, "transcript_path": f"/root/.claude/projects/bench/{session}.jsonl",
            "cwd": "/work/bench", "prompt_id": str(uuid.uuid4()), "permission_mode": "default",
            "hook_event_name": event, **fields}  # fmt: skip


def session_events(session: str, agent: str) -> Iterator[dict[str, Any]]:
    """One Claude Code session, round after round: the main agent delegates, the sub-agent works, returns."""
    for round_no in itertools.count():
        run, call = f"{session}-a{round_no}", f"toolu_{session}_{round_no}"
        inside = {"agent_id": run, "agent_type": agent}
        agent_input = {"description": "chunk", "prompt": "Chunk the corpus in data/", "subagent_type": agent}
        yield base(session, "PreToolUse", tool_name="Agent", tool_use_id=call, tool_input=agent_input)
        yield base(session, "SubagentStart", agent_id=run, agent_type=agent)
        for i in range(3):
            for tool, tool_input, tool_response in (
                ("Read", {"file_path": f"/work/bench/src/m{i}.py"}, {"type": "text", "file": {"content": FILE_TEXT}}),
                ("Bash", {"command": "pytest -q tests/"}, {"stdout": "3 passed in 0.4s\n", "stderr": ""}),
            ):
                tid = f"{call}_{tool}_{i}"
                yield base(session, "PreToolUse", tool_name=tool, tool_use_id=tid, tool_input=tool_input, **inside)
                yield base(session, "PostToolUse", tool_name=tool, tool_use_id=tid, tool_input=tool_input,
                           tool_response=tool_response, duration_ms=35, **inside)  # fmt: skip
        yield base(session, "SubagentStop", agent_id=run, agent_type=agent, stop_hook_active=False,
                   agent_transcript_path=f"/root/.claude/projects/bench/{session}/subagents/{run}.jsonl",
                   last_assistant_message="Chunked 40 files.")  # fmt: skip
        usage = {"input_tokens": 1800, "output_tokens": 240, "cache_creation_input_tokens": 900,
                 "cache_read_input_tokens": 12_000, "server_tool_use": None, "service_tier": "standard"}  # fmt: skip
        response = {"status": "completed", "agentId": run, "agentType": agent, "prompt": agent_input["prompt"],
                    "content": [{"type": "text", "text": "Chunked 40 files."}], "totalToolUseCount": 6,
                    "totalDurationMs": 4100, "totalTokens": 14_940, "usage": usage,
                    "resolvedModel": "claude-sonnet-4-5-20250929"}  # fmt: skip
        yield base(session, "PostToolUse", tool_name="Agent", tool_use_id=call, tool_input=agent_input,
                   tool_response=response, duration_ms=4100)  # fmt: skip
        yield base(session, "Stop", stop_hook_active=False, last_assistant_message="Done.")


async def load(url: str, sessions: int, seconds: float, rate: float | None, health: bool) -> dict[str, Any]:
    """`sessions` clients, each paced to rate/sessions per second (None: as fast as answers come back)."""
    latencies: list[float] = []
    by_event: dict[str, list[float]] = {}  # where the tail is: hook event (and tool) → latencies
    errors: dict[int, int] = {}
    period = sessions / rate if rate else 0.0
    stop_at = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=sessions)) as http:

        async def client(n: int) -> None:
            session = f"bench-{uuid.uuid4().hex[:6]}-{n}"
            events = session_events(session, AGENTS[n % len(AGENTS)] if n % 10 else "general-purpose")
            next_at = time.monotonic() + period * n / sessions  # spread the clients over one period
            while True:
                now = time.monotonic()
                if now >= stop_at:
                    return
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                next_at += period
                t0 = time.perf_counter()
                kind = "health"
                if health:
                    async with http.get(url) as r:
                        await r.read()
                else:
                    event = next(events)
                    kind = event["hook_event_name"] + (f"({event['tool_name']})" if "tool_name" in event else "")
                    async with http.post(url, data=json.dumps(event),
                                         headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                        await r.read()
                if r.status == 200:
                    ms = (time.perf_counter() - t0) * 1000
                    latencies.append(ms)
                    by_event.setdefault(kind, []).append(ms)
                else:
                    errors[r.status] = errors.get(r.status, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(sessions)))
        elapsed = time.monotonic() - started
    return {"per_s": round(len(latencies) / elapsed, 1), "ok": len(latencies), "errors": errors,
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2) if latencies else None,
            "p99_ms_by_event": {k: round(percentile(v, 99), 2) for k, v in sorted(by_event.items())}}  # fmt: skip


def register_catalogue(stack: Stack) -> None:
    import requests

    for name in AGENTS:
        body = {"service_id": f"agent-{name}", "name": name, "type": "agent", "role": "production",
                "url": f"internal://agents/{name}", "caps": ["bench"], "heartbeat_interval_s": 3600, "ttl_s": 7200,
                "labels": {"agent_role": "exec", "tier": 3, "parent": "director-data", "children": [],
                           "token_target": 0.3, "token_hard_max": 0.5}}  # fmt: skip
        assert requests.post(stack.url(6121, "/register"), json=body, timeout=5).status_code in (200, 201)


def line(name: str, r: dict[str, Any]) -> str:
    return (f"{name:<34} {r['per_s']:>8.1f}/s  p50 {r['p50_ms']:>6.2f} ms  p99 {r['p99_ms']:>6.2f} ms  "
            f"max {r['max_ms']} ms  errors {r['errors'] or 0}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--rate", type=float, default=500.0, help="events/s across all sessions")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-seconds", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.max_seconds = 6.0, 4.0
    with Stack() as stack:
        register_catalogue(stack)
        hook_url, health_url = stack.url(6119, "/hooks/claude-code"), stack.url(6119, "/health")
        asyncio.run(load(hook_url, args.sessions, 1.5, args.rate, health=False))  # warm-up
        baseline = asyncio.run(load(health_url, args.sessions, args.seconds, args.rate, health=True))
        paced = asyncio.run(load(hook_url, args.sessions, args.seconds, args.rate, health=False))
        ceiling = asyncio.run(load(hook_url, args.sessions, args.max_seconds, None, health=False))
        ceiling_health = asyncio.run(load(health_url, args.sessions, args.max_seconds, None, health=True))
        print(f"{args.sessions} concurrent sessions, target {args.rate:.0f} events/s")
        print(line("GET /health (baseline), paced", baseline))
        print(line("POST /hooks/claude-code, paced", paced))
        print("  paced p99 by event: " + ", ".join(f"{k} {v} ms" for k, v in paced["p99_ms_by_event"].items()))
        print(line("GET /health, unpaced", ceiling_health))
        print(line("POST /hooks/claude-code, unpaced", ceiling))
        met = paced["p99_ms"] <= 20 and paced["per_s"] >= 0.95 * args.rate and not paced["errors"]
        print(
            f"hooks p99 / health p99 (paced): {paced['p99_ms'] / baseline['p99_ms']:.2f}; "
            f"target p99 ≤ 20 ms at {args.rate:.0f} events/s: {'met' if met else 'NOT met'}"
        )
        print(json.dumps({"bench": "hooks", "sessions": args.sessions, "rate": args.rate, "health": baseline,
                          "hooks": paced, "hooks_unpaced": ceiling, "health_unpaced": ceiling_health}))  # fmt: skip


if __name__ == "__main__":
    main()

"""Routing decision time with N providers: the pure in-memory decision (what every gateway call pays), beside
a baseline in the same run: sorting the same N providers by price alone.

    .venv/bin/python bench/routing.py [--providers 100] [--n 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from app.domain.provider_router.routing import Ask, Live, Provider, rank

POLICIES = ["cost", "latency", "balanced", "prefer_local"]


def pool(n: int, seed: int = 7) -> list[tuple[Provider, Live]]:
    rnd = random.Random(seed)
    caps = ["chat", "code", "summarize", "reasoning", "classification"]
    out = []
    for i in range(n):
        p = Provider(
            name=f"p{i:03d}", model=f"model-{i % 20}", context_window=rnd.choice([4096, 16385, 128000, 200000]),
            cost_in=rnd.choice([0.0, 1e-7, 5e-7, 3e-6, 1e-5]), cost_out=rnd.choice([0.0, 4e-7, 1.5e-6, 1.5e-5]),
            endpoint=f"http://127.0.0.1:{9000 + i}/v1", capabilities=frozenset(rnd.sample(caps, 2)),
            features=frozenset(rnd.sample(["tools", "json", "vision"], 1)), slo_p95_ms=rnd.uniform(100, 3000),
        )  # fmt: skip
        live = Live(p95_ms=rnd.uniform(50, 2500) if i % 3 else None, error_rate=rnd.random() / 10,
                    cooldown_until_ms=10**15 if i % 17 == 0 else 0)  # fmt: skip
        out.append((p, live))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--providers", type=int, default=100)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    providers = pool(args.providers)
    asks = [
        Ask(
            capability=c,
            optimization=POLICIES[i % 4],
            context_tokens=3000,
            sla_ms_p95=1500,
            max_cost_usd=0.05 if i % 2 else None,
        )
        for i, c in enumerate(["chat", "code", "summarize", "reasoning"] * 4)
    ]
    now = int(time.time() * 1000)
    decide, base = [], []
    for i in range(args.n):
        ask = asks[i % len(asks)]
        t = time.perf_counter()
        d = rank(providers, ask, now)
        decide.append((time.perf_counter() - t) * 1e6)
        assert d.ranked
        t = time.perf_counter()
        sorted(providers, key=lambda pl: (pl[0].cost_in + pl[0].cost_out, pl[0].name))
        base.append((time.perf_counter() - t) * 1e6)
    p50, p95, mx = statistics.median(decide), pct(decide, 0.95), max(decide)
    b50, b95 = statistics.median(base), pct(base, 0.95)
    print(f"routing decision, {args.providers} providers, {args.n} decisions over 4 policies")
    print(f"  decision      p50 {p50:7.1f} µs   p95 {p95:7.1f} µs   max {mx:8.1f} µs")
    print(f"  baseline sort p50 {b50:7.1f} µs   p95 {b95:7.1f} µs   (sort by price only)")
    print(f"  ratio decision/baseline p95: {p95 / b95:.2f}x")
    print(f"  target p95 <= 500 µs: {'met' if p95 <= 500 else 'NOT met'}")


if __name__ == "__main__":
    main()

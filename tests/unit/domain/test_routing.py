"""The routing decision as a pure function (no Flask, no Redis)."""

from __future__ import annotations

from app.domain.provider_router.routing import Ask, Live, Provider, rank


def p(name: str, cost: float, slo: float | None = None, **kw) -> Provider:
    return Provider(name=name, model=kw.pop("model", "m"), context_window=kw.pop("ctx", 16000), cost_in=cost,
                    cost_out=cost, endpoint=f"http://127.0.0.1:1/{name}", slo_p95_ms=slo, **kw)  # fmt: skip


POOL = [
    (p("cheap-slow", 1e-6, 2000, capabilities=frozenset({"chat"})), Live()),
    (p("mid", 5e-6, 800, capabilities=frozenset({"chat", "code"}), features=frozenset({"tools"})), Live()),
    (p("fast-pricey", 3e-5, 200, capabilities=frozenset({"chat"})), Live()),
    (p("local", 0.0, 3000, capabilities=frozenset({"chat"}), ctx=4096), Live()),
]


def names(decision) -> list[str]:
    return [s.provider.name for s in decision.ranked]


def test_policies_order_candidates() -> None:
    assert names(rank(POOL, Ask(capability="chat"), 0))[0] == "local"  # cost: price 0 wins
    assert names(rank(POOL, Ask(capability="chat", optimization="latency"), 0)) == [
        "fast-pricey", "mid", "cheap-slow", "local"]  # fmt: skip
    assert names(rank(POOL, Ask(capability="chat", optimization="prefer_local"), 0))[0] == "local"
    assert names(rank(POOL, Ask(capability="chat", optimization="balanced"), 0))[0] == "mid"


def test_cheapest_that_meets_sla_keeps_violators_as_fallbacks() -> None:
    got = names(rank(POOL, Ask(capability="chat", sla_ms_p95=1000), 0))
    assert got == ["mid", "fast-pricey", "local", "cheap-slow"]


def test_filters() -> None:
    big = rank(POOL, Ask(capability="chat", context_tokens=8000), 0)
    assert "local" not in names(big) and ("local", "context_window 4096 < 8000") in big.rejected
    assert names(rank(POOL, Ask(features=frozenset({"tools"})), 0)) == ["mid"]
    assert names(rank(POOL, Ask(capabilities=frozenset({"chat", "code"})), 0)) == ["mid"]
    assert names(rank(POOL, Ask(capability="chat", max_latency_ms=900), 0)) == ["mid", "fast-pricey"]
    # 1000 in + 500 out tokens: mid costs 0.0075, pricey 0.045
    assert names(rank(POOL, Ask(capability="chat", max_cost_usd=0.01), 0)) == ["local", "cheap-slow", "mid"]
    assert names(rank(POOL, Ask(model="nope"), 0)) == []


def test_measured_latency_beats_the_slo_and_cooldown_and_down_exclude() -> None:
    pool = [(POOL[0][0], Live(p95_ms=50.0)), POOL[2], (POOL[1][0], Live(cooldown_until_ms=10_000)),
            (POOL[3][0], Live(registry_ok=False))]  # fmt: skip
    d = rank(pool, Ask(capability="chat", optimization="latency"), now_ms=5_000)
    assert names(d) == ["cheap-slow", "fast-pricey"]
    assert d.ranked[0].latency_source == "measured"
    assert dict(d.rejected) == {"mid": "cooldown", "local": "down"}
    assert names(rank(pool, Ask(capability="chat"), now_ms=20_000))[:2] == ["cheap-slow", "mid"]  # cooled down


def test_reason_explains_the_winner() -> None:
    d = rank(POOL, Ask(capability="chat", optimization="latency"), 0)
    assert d.reason.startswith("fastest of 4: 200 ms p95 (slo)") and "next mid" in d.reason


def test_fallbacks_follow_the_tier_order_after_the_policy_winner() -> None:
    pool = [(p("t3-cheap", 1, tier="tier3"), Live()), (p("t1", 5, tier="tier1"), Live()),
            (p("t2", 3, tier="2"), Live()), (p("t1-cheapest", 0.5, tier="tier1"), Live()),
            (p("untiered", 2), Live())]  # fmt: skip
    order = ("tier1", "tier2", "tier3")
    assert names(rank(pool, Ask(), 0)) == ["t1-cheapest", "t3-cheap", "untiered", "t2", "t1"]
    # the winner stays the policy's; behind it tier1, tier2 (a registry label "2"), tier3, then no tier
    assert names(rank(pool, Ask(), 0, order)) == ["t1-cheapest", "t1", "t2", "t3-cheap", "untiered"]


def test_a_degraded_model_service_is_rejected_with_its_reason() -> None:
    pool = [POOL[0], (POOL[2][0], Live(registry_ok=False, registry_reason="degraded: no API key"))]
    d = rank(pool, Ask(capability="chat"), now_ms=0)
    assert names(d) == ["cheap-slow"]
    assert dict(d.rejected) == {"fast-pricey": "degraded: no API key"}

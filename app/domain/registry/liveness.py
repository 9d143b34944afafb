"""Status as the Redis clock says it is, for reads: no read reports `ok` past a deadline, whatever the sweep lag.

Mirrors the Lua ladder in models/lua/prelude.lua (1 missed = warning, 2 = down, 3 = deregistered).
"""

from __future__ import annotations

from dataclasses import dataclass

MISSES_BEFORE_DOWN = 2
MISSES_BEFORE_DEREGISTER = 3


@dataclass(frozen=True)
class Liveness:
    missed: int
    down: bool
    gone: bool  # past deregistration and not held by self-preservation
    held: bool


def hold_until(*, since_ms: int | None, cleared_ms: int | None, cap_ms: int, interval_ms: int) -> int | None:
    """Until when deregistration is held (mirrors hold_until in prelude.lua): max(cap, one interval) from the
    start of self-preservation, and one cap after most services were heard again."""
    if since_ms is None:
        return None
    until = since_ms + max(cap_ms, interval_ms)
    if cleared_ms is not None:
        until = max(until, cleared_ms + cap_ms)
    return until


def liveness(
    *,
    now_ms: int,
    last_hb_ms: int,
    interval_ms: int,
    acted_level: int,
    state: str,
    preservation_since_ms: int | None,
    preservation_cap_ms: int,
    preservation_cleared_ms: int | None = None,
    grace_from_ms: int | None = None,
) -> Liveness:
    interval_ms = max(1, interval_ms)
    # After a grace (PAS was deaf: Valkey restarted), ages count from the grace's start, as in prelude.lua.
    since = max(last_hb_ms, grace_from_ms or 0)
    missed = max(acted_level, (now_ms - since) // interval_ms) if now_ms >= since else acted_level
    until = hold_until(
        since_ms=preservation_since_ms, cleared_ms=preservation_cleared_ms, cap_ms=preservation_cap_ms,
        interval_ms=interval_ms,
    )  # fmt: skip
    held = until is not None and now_ms < until
    gone = missed >= MISSES_BEFORE_DEREGISTER and not held
    down = state == "down" or missed >= MISSES_BEFORE_DOWN
    return Liveness(missed=missed, down=down, gone=gone, held=held and missed >= MISSES_BEFORE_DEREGISTER)

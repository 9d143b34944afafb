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


def liveness(
    *,
    now_ms: int,
    last_hb_ms: int,
    interval_ms: int,
    acted_level: int,
    state: str,
    preservation_since_ms: int | None,
    preservation_cap_ms: int,
) -> Liveness:
    missed = max(acted_level, (now_ms - last_hb_ms) // interval_ms) if now_ms >= last_hb_ms else acted_level
    held = preservation_since_ms is not None and now_ms < preservation_since_ms + max(preservation_cap_ms, interval_ms)
    gone = missed >= MISSES_BEFORE_DEREGISTER and not held
    down = state == "down" or missed >= MISSES_BEFORE_DOWN
    return Liveness(missed=missed, down=down, gone=gone, held=held and missed >= MISSES_BEFORE_DEREGISTER)

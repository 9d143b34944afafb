"""A test hook (PAS_TEST_CLOCK_OFFSET_S, off by default): this process's wall clock runs off by a fixed offset, as
on a host whose clock is wrong. Every wall-clock read of PAS goes through `time.time()` / `time.time_ns()` (the
few `datetime` values it makes are built from them), so shifting those two shifts all of PAS's; monotonic clocks,
and with them every timeout and gunicorn's worker heartbeat, are left alone. Liveness, leases and receipt
deadlines use the Redis server's clock (RELIABILITY decision 2), so they must not notice: RELIABILITY L7."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("pas.clock")

_REAL_TIME = time.time
_REAL_TIME_NS = time.time_ns


def shift_wall_clock(offset_s: float) -> None:
    """From now on time.time() reads the real clock + offset_s in this process (idempotent: the last call wins;
    0 restores the real clock)."""
    if not offset_s:
        time.time, time.time_ns = _REAL_TIME, _REAL_TIME_NS
        return
    offset_ns = int(offset_s * 1_000_000_000)
    time.time = lambda: _REAL_TIME() + offset_s
    time.time_ns = lambda: _REAL_TIME_NS() + offset_ns
    log.warning("test_clock_offset", extra={"offset_s": offset_s})

from __future__ import annotations

import math
from datetime import UTC, datetime

# [(epoch second, its "YYYY-mm-ddTHH:MM:SS." prefix)]: the pair is replaced whole, so threads never mix two
_last_second: list[tuple[int, str]] = [(-1, "")]
# What datetime can print (years 1..9999): a stored time past it (an older PAS's '1e+18') prints as the bound.
MIN_MS, MAX_MS = -62_135_596_800_000, 253_402_300_799_999


def iso(ms: int) -> str:
    """ISO 8601 UTC with Z, millisecond precision."""
    if not MIN_MS <= ms <= MAX_MS:
        ms = min(max(ms, MIN_MS), MAX_MS)
    second, rest = divmod(ms, 1000)
    cached = _last_second[0]
    if cached[0] == second:
        prefix = cached[1]
    else:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second[0] = (second, prefix)
    return f"{prefix}{rest:03d}Z"


def parse_client_ts(value: str | float) -> int | None:
    """A client timestamp (ISO 8601 or epoch seconds) in ms; None when unreadable. Display only."""
    if isinstance(value, int | float):
        ms = value * 1000
        return int(ms) if isinstance(ms, int) or math.isfinite(ms) else None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def iso_ms(value: str) -> int:
    """An ISO 8601 time PAS wrote (iso() above) back in ms."""
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)

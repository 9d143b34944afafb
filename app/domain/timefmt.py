from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

_last_second: list[Any] = [None, ""]  # [epoch second, its "YYYY-mm-ddTHH:MM:SS." prefix]: hot paths stamp often


def iso(ms: int) -> str:
    """ISO 8601 UTC with Z, millisecond precision."""
    second, rest = divmod(ms, 1000)
    cached = _last_second
    if cached[0] != second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        cached[0], cached[1] = second, prefix  # (a race only recomputes the same value)
    else:
        prefix = cached[1]
    return f"{prefix}{rest:03d}Z"


def parse_client_ts(value: str | float) -> int | None:
    """A client timestamp (ISO 8601 or epoch seconds) in ms; None when unreadable. Display only."""
    if isinstance(value, int | float):
        return int(value * 1000)
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

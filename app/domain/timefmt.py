from __future__ import annotations

from datetime import UTC, datetime

# [(epoch second, its "YYYY-mm-ddTHH:MM:SS." prefix)]: the pair is replaced whole, so threads never mix two
_last_second: list[tuple[int, str]] = [(-1, "")]


def iso(ms: int) -> str:
    """ISO 8601 UTC with Z, millisecond precision."""
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

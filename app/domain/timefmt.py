from __future__ import annotations

from datetime import UTC, datetime


def iso(ms: int) -> str:
    """ISO 8601 UTC with Z, millisecond precision."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


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

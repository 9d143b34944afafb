"""Reading values back from Redis, tolerantly. Writers store exact, validated values, but a hash may still hold
what an older PAS wrote (`1e+18` from Lua's tostring), a hand edit, or nothing: a read never fails on one. An
unreadable value is the given default; an out-of-range one is clamped into what the contracts allow."""

from __future__ import annotations

import json
import math
from typing import Any

MAX_SAFE_INT = 2**53 - 1  # contracts.common.MAX_SAFE_INT: what a Lua double and a JSON reader hold exactly


def _text(raw: object) -> str | None:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return raw if isinstance(raw, str) else None


def _number(raw: object) -> int | float | None:
    """The number a stored value holds: an exact int for integer text ('42'), else a float ('1e+18', 'inf',
    'nan'); None for what is no number at all ('abc', '', None, a bool)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return raw
    text = _text(raw)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        pass  # '1e+18', '4.5', 'inf', or not a number at all (also: past int()'s 4300-digit limit)
    try:
        return float(text)
    except ValueError:
        return None


def stored_int(raw: object, default: int = 0, *, lo: int = 0, hi: int = MAX_SAFE_INT) -> int:
    """An integer field: '42' → 42; '1e+18' → clamped to `hi`; 'inf' → `hi`, '-inf' → `lo`; 'nan', 'abc', ''
    or None → `default`."""
    number = _number(raw)
    if number is None or (isinstance(number, float) and math.isnan(number)):
        return default
    if isinstance(number, float) and math.isinf(number):
        return hi if number > 0 else lo
    return min(max(int(number), lo), hi)


def stored_ms(raw: object) -> int | None:
    """A stored time in ms, or None when it is absent or unreadable."""
    ms = stored_int(raw, -1, lo=-1)
    return None if ms < 0 else ms


def stored_float(raw: object, default: float = 0.0, *, lo: float = -MAX_SAFE_INT, hi: float = MAX_SAFE_INT) -> float:
    """A float field, always finite: 'nan' or unreadable → `default`; '±inf' and out of range → clamped."""
    number = _number(raw)
    if number is None or (isinstance(number, float) and math.isnan(number)):
        return default
    if isinstance(number, int) and abs(number) > MAX_SAFE_INT:
        return hi if number > 0 else lo
    return min(max(float(number), lo), hi)


def stored_json(raw: object, default: Any = None) -> Any:
    """A JSON text PAS wrote; `default` when it is missing or not JSON."""
    text = _text(raw)
    if text is None:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def stored_number(raw: object, *, integer: bool = False, lo: float = 0, hi: float = MAX_SAFE_INT) -> Any:
    """An optional number kept as JSON text ('null', '12.5'): None when absent or unreadable, else clamped."""
    value = stored_json(raw)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if integer:
        return stored_int(value, lo=int(lo), hi=int(hi))
    return None if isinstance(value, float) and math.isnan(value) else stored_float(value, lo=lo, hi=hi)

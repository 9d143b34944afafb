"""The tolerant reader of stored values: whatever a hash holds, a read gets a number within the contracts."""

from __future__ import annotations

import pytest

from models.stored import MAX_SAFE_INT, stored_float, stored_int, stored_json, stored_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), (b"42", 42), (42, 42), ("1e+14", 10**14), ("1e+18", MAX_SAFE_INT),
     ("1.844674407371e+19", MAX_SAFE_INT), ("inf", MAX_SAFE_INT), ("-inf", 0), ("nan", 7), ("abc", 7), ("", 7),
     (None, 7), ("-5", 0), ("4.9", 4),
     ("1" + "0" * 40, MAX_SAFE_INT), ("9" * 5000, MAX_SAFE_INT), (True, 7), (float("nan"), 7), (2**80, MAX_SAFE_INT)],
)  # fmt: skip
def test_stored_int(raw: object, expected: int) -> None:
    assert stored_int(raw, 7) == expected


def test_stored_int_bounds_are_the_callers() -> None:
    assert stored_int("0", 60_000, lo=1) == 1 and stored_int("abc", 60_000, lo=1) == 60_000
    assert stored_int("-3", lo=-10) == -3 and stored_int("9", hi=3) == 3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.5", 0.5), ("1e+18", float(MAX_SAFE_INT)), ("inf", float(MAX_SAFE_INT)), ("-inf", -float(MAX_SAFE_INT)),
     ("nan", 0.25), ("abc", 0.25), ("", 0.25), (None, 0.25), (3, 3.0), (10**400, float(MAX_SAFE_INT))],
)  # fmt: skip
def test_stored_float(raw: object, expected: float) -> None:
    assert stored_float(raw, 0.25) == expected


def test_stored_float_clamps_into_the_callers_range() -> None:
    assert stored_float("7", 0.5, lo=0, hi=1) == 1 and stored_float("-7", 0.5, lo=0, hi=1) == 0


def test_stored_json_and_numbers() -> None:
    assert stored_json('{"a":1}') == {"a": 1} and stored_json("{oops", []) == [] and stored_json(None) is None
    assert stored_number("12.5") == 12.5 and stored_number("null") is None and stored_number("abc") is None
    assert stored_number('"12"') is None and stored_number("true") is None and stored_number("NaN") is None
    assert stored_number("Infinity") == MAX_SAFE_INT and stored_number("-1") == 0
    assert stored_number("1e+18", integer=True) == MAX_SAFE_INT and stored_number("2.7", integer=True) == 2
    assert stored_number("150", hi=100) == 100

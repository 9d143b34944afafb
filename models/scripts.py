"""Lua scripts, each run atomically in Redis with the shared prelude prepended."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_DIR = Path(__file__).parent / "lua"


@cache
def lua(name: str) -> str:
    return (_DIR / "prelude.lua").read_text() + "\n" + (_DIR / f"{name}.lua").read_text()

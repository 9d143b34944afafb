"""Lua scripts, each run atomically in Redis with the shared prelude(s) prepended."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_DIR = Path(__file__).parent / "lua"


@cache
def lua(name: str) -> str:
    parts = ["prelude"] + (["rm_prelude"] if name.startswith("rm_") else []) + [name]
    return "\n".join((_DIR / f"{part}.lua").read_text() for part in parts)

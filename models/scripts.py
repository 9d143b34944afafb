"""Lua scripts, each run atomically in Redis with the shared prelude(s) prepended."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import redis

_DIR = Path(__file__).parent / "lua"


@cache
def lua(name: str) -> str:
    parts = ["prelude"] + (["rm_prelude"] if name.startswith("rm_") else [])
    # The registry heartbeat is a function the agent hooks' scripts share (a hook beats its agent).
    parts += ["beat"] if name == "heartbeat" or name.startswith("ah_") else []
    parts += [name]
    return "\n".join((_DIR / f"{part}.lua").read_text() for part in parts)


def redis_now_ms(client: redis.Redis) -> int:
    """The Redis server's clock: every liveness and lease decision uses it (RELIABILITY decision 2)."""
    now: Any = client.time()
    return int(now[0]) * 1000 + int(now[1]) // 1000

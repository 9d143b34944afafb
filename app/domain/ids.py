"""Ids for hot paths: 128 random bits from Python's generator (reseeded in every forked child), not
uuid4's os.urandom, which is a syscall per id. Unique, not secret: never use these as tokens."""

from __future__ import annotations

import random


def new_id() -> str:
    return f"{random.getrandbits(128):032x}"

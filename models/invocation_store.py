"""The agent router's handoffs between the web process that took an /invoke and the worker that runs it. The
payload (and the model's answer coming back) must reach the other process but never be kept: each is a key that
expires within the invoke's own timeout plus a margin and is deleted by the one read that takes it. Celery's
arguments would not do: they are copied into task events (Flower) and the job card's SQL row."""

from __future__ import annotations

import time
from typing import Any

import redis

from models.keys import Keys

# A blocking read longer than the client's socket timeout (10 s, app/extensions.py) would fail: wait in slices.
WAIT_SLICE_S = 5.0


class InvocationStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def put_payload(self, invocation_id: str, payload: str, ttl_ms: int) -> None:
        self._r.set(self._keys.invocation_payload(invocation_id), payload, px=max(1, ttl_ms))

    def take_payload(self, invocation_id: str) -> str | None:
        """The payload, once: a redelivered job finds nothing."""
        value: Any = self._r.getdel(self._keys.invocation_payload(invocation_id))
        return None if value is None else str(value)

    def drop(self, invocation_id: str) -> None:
        self._r.delete(self._keys.invocation_payload(invocation_id), self._keys.invocation_result(invocation_id))

    def put_result(self, invocation_id: str, result: str, ttl_ms: int) -> None:
        key = self._keys.invocation_result(invocation_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.rpush(key, result)
        pipe.pexpire(key, max(1, ttl_ms))
        pipe.execute()

    def wait_result(self, invocation_id: str, timeout_s: float) -> str | None:
        """The result as soon as it is pushed, or None after `timeout_s` (0: just look)."""
        key = self._keys.invocation_result(invocation_id)
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0.001:
                value: Any = self._r.lpop(key)
                return None if value is None else str(value)
            got: Any = self._r.blpop([key], timeout=min(remaining, WAIT_SLICE_S))
            if got is not None:
                return str(got[1])

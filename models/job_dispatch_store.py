"""The Redis side of the jobs reconciler's look for lost job messages: a throttle (the look reads the broker's
whole work queue) and, per queued job whose message it found nowhere, when it first found it so. A job is
dispatched again only when two looks, a period apart, found its message missing: a message is out of sight for
a moment on its way from the queue to a worker's `unacked` and back."""

from __future__ import annotations

import redis

from models.keys import Keys
from models.stored import stored_ms


class JobDispatchStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def scan_due(self, every_ms: int) -> bool:
        """True for at most one caller per period, across every process that runs the reconciler."""
        return bool(self._r.set(self._keys.jobs_lost_scan(), "1", nx=True, px=every_ms))

    def missing_since(self, missing: set[str], now_ms: int) -> dict[str, int]:
        """Records the jobs whose message this look found nowhere (and forgets the others): job id → when a look
        first found it missing, `now_ms` for the new ones."""
        key = self._keys.jobs_missing()
        seen = {str(k): stored_ms(v) for k, v in self._r.hgetall(key).items() if str(k) in missing}
        since = {job_id: seen.get(job_id) or now_ms for job_id in missing}
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(key)
        if since:
            pipe.hset(key, mapping=since)  # type: ignore[arg-type]
        pipe.execute()
        return since

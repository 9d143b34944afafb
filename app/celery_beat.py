"""Beat's scheduler: RedBeat (one beat at a time, by a lock in Redis; RELIABILITY decision 7) that rides out a
Redis outage instead of exiting.

RedBeat's tick extends its lock first; with Redis away that raises and beat exits. The standby beat waits for the
lock inside a signal handler whose errors Celery swallows, so an outage there leaves it without a lock, and its
first tick fails on that (`'NoneType' object has no attribute 'extend'`): after a Valkey restart both beats were
gone and nothing swept any more. Here a tick that cannot reach Redis waits a moment and tries again, a beat
without the lock tries to take it (without blocking) and schedules nothing until it has it, and a holder whose
lock expired meanwhile becomes the standby."""

from __future__ import annotations

import logging
from typing import Any

import redis
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis

log = logging.getLogger("pas.beat")
RETRY_S = 0.2


class OutageProofRedBeatScheduler(RedBeatScheduler):  # type: ignore[misc]
    lock: Any = None  # redbeat's: the held lock, None while another beat holds it

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            if self.lock_key and self.lock is None and not self._take_lock():
                return float(self.max_interval)  # the other beat schedules
            return float(super().tick(*args, **kwargs))
        except redis.exceptions.LockError:  # not ours any more: it expired while Redis was away
            log.warning("beat_lock_lost")
            self.lock = None
            return float(self.max_interval)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("beat_store_unavailable", extra={"error": type(exc).__name__, "retry_s": RETRY_S})
            return RETRY_S

    def _take_lock(self) -> bool:
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)  # as redbeat's own: extend *to* the timeout
        if not lock.acquire(blocking=False):
            return False
        self.lock = lock
        log.info("beat: Acquired lock")
        return True

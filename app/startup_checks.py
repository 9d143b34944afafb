"""What the platform's correctness rests on, asserted and logged at start (celery#7651: config can silently
not apply). RELIABILITY decisions 6 and 9."""

from __future__ import annotations

import logging
from typing import Any

import redis

log = logging.getLogger("pas.startup")


def celery_effective(conf: Any) -> dict[str, Any]:
    effective = {
        "task_acks_late": conf.task_acks_late,
        "task_reject_on_worker_lost": conf.task_reject_on_worker_lost,
        "worker_prefetch_multiplier": conf.worker_prefetch_multiplier,
        "visibility_timeout": (conf.broker_transport_options or {}).get("visibility_timeout"),
    }
    problems = [k for k in ("task_acks_late", "task_reject_on_worker_lost") if not effective[k]]
    if effective["worker_prefetch_multiplier"] != 1:
        problems.append("worker_prefetch_multiplier")
    if problems:
        raise RuntimeError(f"Celery settings did not apply: {problems}")
    return effective


def redis_effective(client: redis.Redis) -> dict[str, Any]:
    """Persistence and eviction of the store; a managed Redis may refuse CONFIG, which is only logged."""
    try:
        policy: Any = client.config_get("maxmemory-policy")
        aof: Any = client.config_get("appendonly")
    except redis.ResponseError:
        return {"config": "unavailable"}
    effective = {"maxmemory-policy": policy.get("maxmemory-policy"), "appendonly": aof.get("appendonly")}
    if effective["maxmemory-policy"] != "noeviction":
        log.warning("redis_may_evict", extra=effective)
    if effective["appendonly"] != "yes":
        log.warning("redis_not_persistent", extra=effective)
    return effective


def log_worker_config(conf: Any, client: redis.Redis) -> None:
    log.info("worker_config", extra={**celery_effective(conf), **redis_effective(client)})

"""The settings correctness rests on are really in force (RELIABILITY C10)."""

from __future__ import annotations

import os

import pytest
from flask import Flask

from app.startup_checks import celery_effective, redis_effective
from tests.integration.conftest import Live
from tests.support import wait_until


def test_celery_is_at_least_once(app: Flask) -> None:
    eff = celery_effective(app.extensions["celery"].conf)
    assert eff == {"task_acks_late": True, "task_reject_on_worker_lost": True, "worker_prefetch_multiplier": 1,
                   "visibility_timeout": 3600}  # fmt: skip


def test_a_setting_that_did_not_apply_fails_loudly(app: Flask) -> None:
    conf = app.extensions["celery"].conf
    conf.task_acks_late = False
    with pytest.raises(RuntimeError, match="task_acks_late"):
        celery_effective(conf)


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="the machine's Redis keeps nothing on disk by design")
def test_embedded_valkey_persists_and_never_evicts(app: Flask) -> None:
    assert redis_effective(app.extensions["redis"]) == {"maxmemory-policy": "noeviction", "appendonly": "yes"}


def test_the_running_worker_logged_its_effective_config(live: Live) -> None:
    wait_until(lambda: '"worker_config"' in live.worker.output(), 20, 0.2, "worker_config log line")
    line = next(x for x in live.worker.output().splitlines() if '"worker_config"' in x)
    assert '"task_acks_late": true' in line and '"worker_prefetch_multiplier": 1' in line
    assert '"task_reject_on_worker_lost": true' in line and '"visibility_timeout": 3600' in line
    # the store's persistence and eviction, as read from it (a managed Redis may refuse CONFIG: then it says so)
    assert ('"maxmemory-policy": ' in line and '"appendonly": ' in line) or '"config": "unavailable"' in line
    if not os.environ.get("REDIS_URL"):
        assert '"maxmemory-policy": "noeviction"' in line and '"appendonly": "yes"' in line

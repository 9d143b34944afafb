"""Exactly one beat: a second beat process waits on the RedBeat lock instead of doubling the sweeps (C8)."""

from __future__ import annotations

import re
import time

from tests.integration.conftest import Live, settings_env
from tests.support import BIN, Proc


def sweeps_received(log: str) -> int:
    return len(re.findall(r"Task pas\.heartbeat_monitor\.sweep\[[^\]]+\] received", log))


def test_a_second_beat_does_not_double_the_sweeps(live: Live) -> None:
    second = Proc(
        "beat-2",
        [str(BIN / "celery"), "-A", "app.worker", "beat", "--scheduler", "app.celery_beat:OutageProofRedBeatScheduler",
         "--loglevel", "INFO"],
        settings_env(live.settings), live.settings.artifacts_dir / "logs",
    )  # fmt: skip
    try:
        time.sleep(3)  # let it start and reach the lock
        start = sweeps_received(live.worker.output())
        time.sleep(8)
        count = sweeps_received(live.worker.output()) - start
        assert 6 <= count <= 10, count  # ~1 per second, not ~2
        assert "Acquired lock" not in second.output()
    finally:
        second.stop()

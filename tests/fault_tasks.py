"""Job tasks for the Celery fault tests only: their workers import this module (`celery worker --include`), and the
tests create the jobs through the domain as a trusted caller (these tasks are on no allowlist)."""

from __future__ import annotations

import os
import signal
import time

from celery import shared_task


@shared_task(name="tests.jobs.die")
def die() -> None:
    """A poison job: its process is killed (as by a segfault or the OOM killer) every time it runs."""
    time.sleep(0.2)  # well into the run: the worker has seen it start
    os.kill(os.getpid(), signal.SIGKILL)

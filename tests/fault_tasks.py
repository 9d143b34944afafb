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


@shared_task(name="tests.jobs.leak")
def leak() -> None:
    """A task whose library call fails quoting the URL it called, a provider key in its query string (X1)."""
    key, token = os.environ["PAS_PROVIDER_KEY_TASK"], os.environ["PAS_API_TOKEN"]
    raise ConnectionError(f"GET https://vendor.example/v1/models?key={key}: reset (sent {key!r}, token {token})")

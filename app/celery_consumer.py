"""The worker's broker consumer, reconnecting within a fraction of a second once Valkey is back.

Celery retries a lost broker connection after 2 s, then 4, 6 … up to 30 s (kombu's defaults), so a Valkey restart
that took 2.1 s left the heartbeat sweeps stopped for 6 s and more — past three intervals. PAS's broker is local
and cheap to dial: retry every 0.2 s, at most 1 s apart (selected by `worker_consumer` in config/celery.py).
"""

from __future__ import annotations

import functools
from typing import Any

from celery.worker.consumer import Consumer

RETRY_START_S = 0.2
RETRY_STEP_S = 0.2
RETRY_MAX_S = 1.0


class QuickReconnectConsumer(Consumer):  # type: ignore[misc]
    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=RETRY_START_S, interval_step=RETRY_STEP_S, interval_max=RETRY_MAX_S
        )
        return super().ensure_connected(conn)

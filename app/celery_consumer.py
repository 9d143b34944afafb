"""The worker's broker consumer: it reconnects within a fraction of a second once Valkey is back, and it survives
losing the connection while late-acked tasks run.

Celery retries a lost broker connection after 2 s, then 4, 6 … up to 30 s (kombu's defaults), so a Valkey restart
that took 2.1 s left the heartbeat sweeps stopped for 6 s and more — past three intervals. PAS's broker is local
and cheap to dial: retry every 0.2 s, at most 1 s apart (selected by `worker_consumer` in config/celery.py).

Losing the connection with a message delivered and not yet acknowledged (any running job: acks_late) killed the
worker (celery 5.7 / kombu 5.7): Celery drops the transport's client (`collect()`), then closes the connection,
whose channel rebuilds a Redis pool from that client to put the messages back — AttributeError, which
`ignore_errors` lets through, and the worker exits with "Unrecoverable error". The messages were never lost (they
stay in the `unacked` hash on the server, handed out again after the visibility timeout); the worker was.
RELIABILITY C6, C9.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery.worker.consumer import Consumer

log = logging.getLogger("pas.worker")

RETRY_START_S = 0.2
RETRY_STEP_S = 0.2
RETRY_MAX_S = 1.0


class QuickReconnectConsumer(Consumer):  # type: ignore[misc]
    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=RETRY_START_S, interval_step=RETRY_STEP_S, interval_max=RETRY_MAX_S
        )
        return super().ensure_connected(conn)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        connection = self.connection
        if connection is not None:
            connection.close = connection.release = functools.partial(_close_lost, connection.close)
        super().on_connection_error_after_connected(exc)


def _close_lost(close: Any) -> None:
    try:
        close()
    except AttributeError as exc:  # the transport's client is gone: nothing left to close or put back from here
        log.warning("broker_connection_closed_uncleanly", extra={"error": repr(exc)})

"""The worker's broker connection: reconnects within a fraction of a second once Valkey is back, and survives
losing it while it holds unacknowledged (acks_late) messages.

Celery retries a lost broker connection after 2 s, then 4, 6 … up to 30 s (kombu's defaults), so a Valkey restart
that took 2.1 s left the heartbeat sweeps stopped for 6 s and more — past three intervals. PAS's broker is local
and cheap to dial: retry every 0.2 s, at most 1 s apart (selected by `worker_consumer` in config/celery.py).

On a lost connection Celery collects the old kombu connection, which detaches its transport, but the channels of
that connection live on: closing one puts its unacknowledged messages back, and a task that finishes later acks
on it. Either way kombu's redis channel then builds a pool from the detached transport and raises AttributeError
(`'NoneType' object has no attribute 'hostname'`), which Celery does not expect there: "Unrecoverable error", and
the worker exits. `DetachedSafeTransport` (`broker_transport`) raises a connection error instead, which Celery
handles on both paths (logs it, goes on). Nothing is lost: those messages are still in Redis's unacked set, and
after the visibility timeout a worker restores them (an expired sweep is dropped, a finished job is not run again).
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from celery.worker.consumer import Consumer
from kombu.transport import redis as kombu_redis

RETRY_START_S = 0.2
RETRY_STEP_S = 0.2
RETRY_MAX_S = 1.0


class QuickReconnectConsumer(Consumer):  # type: ignore[misc]
    def ensure_connected(self, conn: Any) -> Any:
        conn.ensure_connection = functools.partial(
            conn.ensure_connection, interval_start=RETRY_START_S, interval_step=RETRY_STEP_S, interval_max=RETRY_MAX_S
        )
        return super().ensure_connected(conn)


class DetachedSafeChannel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:  # the connection this channel belonged to was collected
            raise redis.ConnectionError("the broker connection of this channel was closed after a connection loss")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[no-untyped-call]


class DetachedSafeTransport(kombu_redis.Transport):
    Channel = DetachedSafeChannel

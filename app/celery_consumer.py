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

A live worker keeps what it holds: kombu's Redis transport hands a message out again once the visibility timeout
has passed since its *delivery*, whether or not its worker is still running it, so a job that ran longer than the
timeout was started a second time on another worker while the first run went on (and again each timeout after).
`VisibilityRenewal` (a consumer bootstep, added in app/worker.py) marks every message the worker holds as
delivered just now, four times per timeout, from a thread of the worker's main process — through a warm shutdown
too, while the last tasks finish. Only a worker that is gone (killed, frozen) stops renewing, and only its messages
come back. After a lost connection the new channel's messages are renewed, not the old one's (those tasks were
cancelled: they come back at the timeout, as before).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from typing import Any

import redis
from celery import bootsteps
from celery.worker.consumer import Consumer
from kombu.transport import redis as kombu_redis

from app.celery_dispatch import DEFAULT_VISIBILITY_TIMEOUT_S

RETRY_START_S = 0.2
RETRY_STEP_S = 0.2
RETRY_MAX_S = 1.0
RENEWALS_PER_TIMEOUT = 4

log = logging.getLogger("pas.celery")


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


class VisibilityRenewal(bootsteps.StartStopStep):  # type: ignore[misc]
    """Renews the delivery time of every message this worker holds (see the module's docstring)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        super().__init__(c, **kwargs)
        self._thread: threading.Thread | None = None

    def start(self, c: Any) -> None:
        if self._thread is not None:  # one thread per worker, across the consumer's restarts
            return
        options = c.app.conf.broker_transport_options or {}
        every_s = float(options.get("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT_S)) / RENEWALS_PER_TIMEOUT
        client = redis.Redis.from_url(c.app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)
        self._thread = threading.Thread(
            target=self._renew_forever, args=(c, client, every_s), name="visibility-renewal", daemon=True
        )
        self._thread.start()

    @staticmethod
    def _renew_forever(c: Any, client: redis.Redis, every_s: float) -> None:
        while True:
            time.sleep(every_s)
            consumer = c.task_consumer  # the current channel's (None while the consumer restarts)
            if consumer is None:
                continue
            try:
                renew(client, consumer.channel)
            except (redis.RedisError, OSError) as exc:  # the broker away: the next round tries again
                log.warning("visibility_renewal_failed", extra={"error": type(exc).__name__})


def renew(client: redis.Redis, channel: Any) -> int:
    """Marks the messages `channel` holds unacknowledged as delivered now (only those still in the unacked index:
    an acknowledged one is not put back). Returns how many it held."""
    tags = list(channel.qos._delivered)
    if tags:
        key = channel.global_keyprefix + channel.unacked_index_key
        client.zadd(key, dict.fromkeys(tags, time.time()), xx=True)
    return len(tags)

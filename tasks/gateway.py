"""Gateway beat tasks: receipts to SQL, and closing receipts whose call never finished."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task

from app.wiring import services

log = logging.getLogger("pas.gateway")


@shared_task(name="pas.gateway.ship", ignore_result=True)
def ship() -> int:
    s = services()
    lock, token = s.keys.gw("ship_lock"), uuid.uuid4().hex
    if not s.events.try_lock(lock, token, 30_000):  # one shipper at a time: LTRIM must drop what it inserted
        return 0
    try:
        total = 0
        while (n := s.gateway.ship()) > 0:
            total += n
        if total:
            log.info("receipts_shipped", extra={"count": total})
        return total
    finally:
        s.events.unlock(lock, token)


@shared_task(name="pas.gateway.sweep", ignore_result=True)
def sweep() -> int:
    s = services()
    closed = s.gateway.close_interrupted(s.events.now_ms())
    if closed:
        log.warning("receipts_interrupted", extra={"count": closed})
    return closed

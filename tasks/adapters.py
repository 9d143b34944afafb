"""The vendor adapters' calls, on the `adapters` queue (a gevent-pool worker: app/adapter_worker.py)."""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from flask import current_app

from app.domain.adapters.config import TASK
from app.domain.adapters.host import AdapterHost
from app.domain.llm_calls.channel import CallSink
from app.wiring import services

# At most once (acks_late off): a vendor call costs money, and a redelivered one would answer nobody (its client
# has timed out by then).
STALE_S = 30.0  # a call that waited this long in the queue has no client left


@shared_task(name=TASK, ignore_result=True, acks_late=False)
def chat(call_id: str, payload: dict[str, Any]) -> None:
    host: AdapterHost = current_app.extensions["pas_adapter_host"]
    sink = CallSink(services().llm_calls_store, call_id)
    try:
        submitted = payload.get("submitted_at")
        if isinstance(submitted, int | float) and time.time() - submitted > STALE_S:
            sink.error(504, "the call waited too long in the adapters queue", "timeout")
            return
        host.run(str(payload.get("provider")), payload.get("request") or {}, sink)
    finally:
        sink.close()  # no call leaves its flusher thread behind

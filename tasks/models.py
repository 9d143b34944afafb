from __future__ import annotations

from typing import Any

from celery import shared_task

from app.domain.llm_calls.channel import CallSink
from app.domain.local_models.host import ModelHost
from app.wiring import services

HOSTED: list[ModelHost] = []  # the one model this process hosts (set by app/model_worker.py at load)


def hosted() -> ModelHost:
    if not HOSTED:
        raise RuntimeError("this process hosts no model (pas.models.call runs only in a model worker)")
    return HOSTED[0]


@shared_task(name="pas.models.call", ignore_result=True, acks_late=False, send_events=False)
def call(call_id: str, payload: dict[str, Any]) -> None:
    """One call on a local model, in the worker that hosts it (app/model_worker.py). Not acked late: a call
    whose worker died is not run again (its client has had its answer: an error on the stream's timeout).
    No task events: the solo worker would publish task-received and task-started (two broker writes) before
    the call starts, on its first token's path; the call's own log line and /info measure it instead."""
    sink = CallSink(services().llm_calls_store, call_id)
    try:
        hosted().run(sink, payload)
    finally:
        sink.close()


@shared_task(name="pas.models.report", ignore_result=True)
def report() -> int:
    """Models whose file is missing are registered `degraded`, with the reason, so the registry and the HMI
    say what to do; a model with a file is its worker's to report (no worker: it goes down)."""
    return services().local_models.report_missing()

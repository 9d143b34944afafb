"""The client side of model calls: a request on a model's port (or the gateway, or the summarizer) becomes a task
on the queue of the worker that hosts the model, and its answer comes back as a CallStream."""

from __future__ import annotations

import time
from typing import Any

from app.domain.ids import new_id
from app.domain.llm_calls.channel import CallStore, CallStream, Submit


class ModelCalls:
    def __init__(self, store: CallStore, submit: Submit, first_timeout_s: float, idle_timeout_s: float) -> None:
        self._store = store
        self.submit = submit
        self.first_timeout_s = first_timeout_s
        self.idle_timeout_s = idle_timeout_s

    def start(self, queue: str, task: str, payload: dict[str, Any], first_timeout_s: float | None = None) -> CallStream:
        call_id = new_id()
        # The stream is made before the task goes out, so the reader never waits on a key that appears late.
        stream = CallStream(self._store, call_id, first_timeout_s or self.first_timeout_s, self.idle_timeout_s)
        self.submit(queue, task, call_id, {**payload, "submitted_at": time.time()})
        return stream

"""Celery's task events (what Flower shows of every task: its args, result, exception and traceback) pass the log
scrubber before they leave the process: a task that fails quoting a `?key=` URL reaches Flower with `[REDACTED]` in
its place (RELIABILITY X1)."""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

from app.logging import scrub_secrets


class ScrubbingEventDispatcher(EventDispatcher):  # type: ignore[misc]
    # _publish is the one way out: send(), publish() and the buffered flush() all end here (celery 5.7).
    def _publish(self, event: Any, producer: Any, routing_key: str, *args: Any, **kwargs: Any) -> Any:
        return super()._publish(scrub_secrets(event), producer, routing_key, *args, **kwargs)


class ScrubbingEvents(Events):  # type: ignore[misc]
    dispatcher_cls = "app.celery_events:ScrubbingEventDispatcher"

"""One JSON line per request, task and state change (stdlib logging + python-json-logger)."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter


class TaskIdFilter(logging.Filter):
    """Stamps the running Celery task id on log lines (Redash's CurrentJobFilter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            from celery import current_task

            task = current_task
            if task and task.request and task.request.id:
                record.task_id = task.request.id
        except Exception:  # pragma: no cover - logging must never fail the caller
            pass
        return True


def configure_logging(level: str = "INFO", process: str = "web") -> None:
    root = logging.getLogger()
    if getattr(root, "_pas_configured", False):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger", "message": "event"},
            static_fields={"process": process},
        )
    )
    handler.addFilter(TaskIdFilter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root._pas_configured = True  # type: ignore[attr-defined]
    # Library chatter that would log URLs or bodies at INFO.
    for noisy in (
        "werkzeug",
        "engineio",
        "socketio",
        "urllib3",
        "httpx",
        "httpx2",
        "httpcore",
        "openai",
        "anthropic",
        "google_genai",
        "google",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)

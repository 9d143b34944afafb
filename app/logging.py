"""One JSON line per request, task and state change (stdlib logging + python-json-logger). No line carries a
secret: every record's message and traceback (whichever handler formats it) and, on PAS's handler, every extra
field pass the gateway's scrubber over the process's secrets (RELIABILITY X1: an exception quoting a `?key=` URL)."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from app.domain.gateway.scrub import Scrubber

_secrets: set[str] = set()
_scrubbers = [Scrubber(())]  # one, replaced whole: records read it without the lock
_lock = threading.Lock()
_base_factory = logging.getLogRecordFactory()
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "task_id"}


def redact_secrets(secrets: Iterable[str]) -> None:
    """Adds secrets (PAS_API_TOKEN, provider keys) to what no log record of this process may carry."""
    with _lock:
        new = {s for s in secrets if s} - _secrets
        if new:
            _secrets.update(new)
            _scrubbers[0] = Scrubber(_secrets)


def scrub_secrets(value: Any) -> Any:
    """`value` (text, or JSON-like data holding text) without this process's secrets: for what leaves the process
    other than as a log line (a job's error, a Celery task event)."""
    return _clean(value, _scrubbers[0]) if _scrubbers[0] else value


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record of the process, before any handler (pytest's caplog too) formats it: message and traceback.
    Extra fields are attached after the factory runs; SecretFilter takes those on PAS's own handler."""
    record = _base_factory(*args, **kwargs)
    scrubber = _scrubbers[0]
    if not scrubber:
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: logging reports it as usual
        return record
    clean = scrubber.text(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[0] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        clean = scrubber.text(text)
        if clean != text:  # the traceback quotes a secret: only its scrubbed text goes on
            record.exc_info, record.exc_text = None, clean
    if record.stack_info:
        record.stack_info = scrubber.text(record.stack_info)
    return record


def _clean(value: Any, scrubber: Scrubber) -> Any:
    if isinstance(value, str):
        return scrubber.text(value)
    if isinstance(value, dict):
        return {k: _clean(v, scrubber) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, scrubber) for v in value]
    return value


class SecretFilter(logging.Filter):
    """The extra fields of a record (`extra={...}`: an upstream's detail, a client's text) on PAS's handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrubber = _scrubbers[0]
        if scrubber:
            for name, value in list(vars(record).items()):
                if name not in _STANDARD and isinstance(value, str | dict | list | tuple):
                    setattr(record, name, _clean(value, scrubber))
        return True


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


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """PAS's one handler: JSON lines to the process's real stdout (file descriptor 1), never to a stand-in
    that replaced sys.stdout: Celery's logging proxy (it would log the line again), or a pytest capture that is
    closed once its test ends."""

    def __init__(self) -> None:
        super().__init__(sys.__stdout__ or sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.__stdout__ or sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        # logging's default prints the traceback with the exception being handled chained in, unscrubbed
        sys.stderr.write(f"logging error: {sys.exc_info()[0]!r} writing {record.name} {record.msg!r}\n")


def configure_logging(level: str = "INFO", process: str = "web") -> None:
    root = logging.getLogger()
    if getattr(root, "_pas_configured", False):
        return
    handler = StdoutHandler()
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "ts", "levelname": "level", "name": "logger", "message": "event"},
            static_fields={"process": process},
        )
    )
    handler.addFilter(TaskIdFilter())
    handler.addFilter(SecretFilter())
    logging.setLogRecordFactory(_redacting_factory)
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

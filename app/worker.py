"""`celery -A app.worker …`: the one module that builds an app at import."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init, worker_ready

from app.celery_consumer import VisibilityRenewal
from app.celery_dispatch import extra_task_modules
from app.extensions import db
from app.factory import create_app
from app.startup_checks import log_worker_config

flask_app = create_app(serve_socketio=False, process="worker")
celery = flask_app.extensions["celery"]
celery.steps["consumer"].add(VisibilityRenewal)  # a job running past the visibility timeout is not handed out again
celery.conf.include = [
    "tasks.heartbeat_monitor",
    "tasks.resource_manager",
    "tasks.jobs",
    "tasks.token_governor",
    "tasks.gateway",
    "tasks.event_stream",
    "tasks.agent_router",
    "tasks.models",
    *extra_task_modules(),
]


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _after_fork(**_: object) -> None:
    # Pooled SQL connections must not cross the prefork boundary.
    with flask_app.app_context():
        db.engine.dispose(close=False)


@worker_ready.connect  # type: ignore[untyped-decorator]
def _check_config(sender: Any = None, **_: object) -> None:
    log_worker_config(celery.conf, flask_app.extensions["redis"])
    services = flask_app.extensions["pas"]
    if services.operations.state().paused and sender is not None:
        # Started during Pause All: this worker must not take work either.
        sender.app.control.cancel_consumer(services.settings.work_queue, destination=[sender.hostname])

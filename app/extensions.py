"""Unbound extension objects and their init functions; create_app wires them. Nothing connects at import."""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery, Task
from flask import Flask
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from app.celery_dispatch import GuardedCelery
from models.base import Base

db = SQLAlchemy(model_class=Base)
socketio = SocketIO()


def init_redis(app: Flask) -> redis.Redis:
    # A blocking pool: past max_connections a command waits (up to REDIS_POOL_TIMEOUT_S) for a free connection
    # instead of failing at once (redis-py's default pool raises MaxConnectionsError at 100, which read as a
    # false 503 "Redis is unreachable" under a burst of concurrent requests).
    pool = redis.BlockingConnectionPool.from_url(
        app.config["REDIS_URL"],
        max_connections=app.config["REDIS_MAX_CONNECTIONS"],
        timeout=app.config["REDIS_POOL_TIMEOUT_S"],
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )
    client = redis.Redis(connection_pool=pool)
    app.extensions["redis"] = client
    return client


def init_celery(app: Flask) -> Celery:
    """One Celery app per Flask app; every task runs inside that app's context."""

    class AppContextTask(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return super().__call__(*args, **kwargs)

    celery = GuardedCelery(
        app.import_name,
        task_cls=AppContextTask,  # no countdown past the visibility timeout
        events="app.celery_events:ScrubbingEvents",
    )
    celery.conf.update(app.config["CELERY"])
    celery.set_default()
    app.extensions["celery"] = celery
    return celery

"""create_app: reads like a table of contents."""

from __future__ import annotations

from flask import Flask

from app.clock_skew import shift_wall_clock
from app.dispatch import PortDispatch
from app.errors import register_error_handlers
from app.events import ListeningRedisManager
from app.extensions import db, init_celery, init_redis, socketio
from app.http_hooks import register_request_hooks
from app.logging import configure_logging, redact_secrets
from app.request_body import RequestBodyGuard
from app.wiring import build_services
from config.celery import celery_config
from config.settings import ROOT, Settings, get_settings
from models.keys import Keys
from models.schema import add_missing_columns


def create_app(settings: Settings | None = None, *, serve_socketio: bool = True, process: str = "web") -> Flask:
    settings = settings or get_settings()
    configure_logging(settings.pas_log_level, process)
    redact_secrets(settings.secret_values())
    if settings.pas_test_clock_offset_s:  # a test hook (RELIABILITY L7); off by default
        shift_wall_clock(settings.pas_test_clock_offset_s)
    app = Flask("pas", root_path=str(ROOT), template_folder="templates", static_folder="static")
    if settings.database_url is None:
        settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI=settings.effective_database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        MAX_CONTENT_LENGTH=settings.pas_max_body_bytes,
        REDIS_URL=settings.effective_redis_url,
        REDIS_MAX_CONNECTIONS=settings.pas_redis_max_connections,
        REDIS_POOL_TIMEOUT_S=settings.pas_redis_pool_timeout_s,
        CELERY=celery_config(settings),
        JSON_SORT_KEYS=False,
    )
    app.json.compact = True  # type: ignore[attr-defined]  # clients grep raw bodies
    app.extensions["settings"] = settings

    db.init_app(app)
    init_redis(app)
    init_celery(app)
    if serve_socketio:  # Celery workers only publish
        from blueprints import socketio as socketio_handlers

        socketio.init_app(
            app,
            client_manager=ListeningRedisManager(
                settings.effective_redis_url, channel=Keys(settings.pas_key_prefix).socketio_channel()
            ),
            async_mode=settings.pas_async_mode,
            cors_allowed_origins=None,  # same origin only ([] would switch the check off)
            logger=False,
            engineio_logger=False,
        )
        socketio_handlers.register(socketio)

    register_error_handlers(app)
    register_request_hooks(app, settings)
    register_blueprints(app)
    app.wsgi_app = PortDispatch(app.wsgi_app, enabled=settings.pas_legacy_ports, offset=settings.pas_port_offset)  # type: ignore[method-assign]
    # Outermost: Socket.IO's long-polling bodies are held to the same size and time.
    app.wsgi_app = RequestBodyGuard(app.wsgi_app, settings.pas_max_body_bytes, settings.pas_body_timeout_s)  # type: ignore[method-assign]
    app.extensions["pas"] = build_services(app, settings)
    return app


def register_blueprints(app: Flask) -> None:
    from blueprints import (
        adapters,
        agent_router,
        anthropic_api,
        event_stream,
        gateway,
        heartbeat_monitor,
        hmi,
        jobs,
        meta,
        models,
        openai_api,
        provider_router,
        registry,
        resource_manager,
        token_governor,
    )

    app.register_blueprint(registry.bp)
    app.register_blueprint(heartbeat_monitor.bp)
    app.register_blueprint(resource_manager.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(token_governor.bp)
    app.register_blueprint(event_stream.bp)
    app.register_blueprint(hmi.bp)
    app.register_blueprint(provider_router.bp)
    app.register_blueprint(gateway.bp)
    app.register_blueprint(agent_router.bp)
    app.register_blueprint(openai_api.bp)
    app.register_blueprint(anthropic_api.bp)
    models.register_model_routes(app)
    app.register_blueprint(adapters.bp)
    app.register_blueprint(meta.bp)
    meta.register_service_meta(app)


def create_tables(app: Flask) -> None:
    import models.alerts
    import models.jobs
    import models.receipts
    import models.summaries  # noqa: F401  (each registers its table on the metadata)

    with app.app_context():
        db.create_all()
        add_missing_columns(db.engine, db.metadata)

"""Domain objects built from settings and clients, one set per Flask app; edges reach them via services()."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask, current_app

from app.celery_dispatch import CeleryDispatcher, allowed_job_tasks
from app.domain.heartbeat_monitor.monitor import HeartbeatMonitor, MonitorConfig
from app.domain.jobs.service import Jobs
from app.domain.registry.service import Registry
from app.domain.resource_manager.capacity import load_config
from app.domain.resource_manager.service import ResourceManager
from app.events import SocketIOEmitter
from config.settings import Settings
from models.alert_store import AlertStore
from models.event_store import EventStore
from models.job_store import JobStore
from models.keys import Keys
from models.registry_store import RegistryStore, ScriptParams
from models.resource_store import ResourceStore


@dataclass
class Services:
    settings: Settings
    redis: redis.Redis
    keys: Keys
    events: EventStore
    emitter: SocketIOEmitter
    registry: Registry
    heartbeat_monitor: HeartbeatMonitor
    resource_manager: ResourceManager
    jobs: Jobs


def build_services(app: Flask, settings: Settings) -> Services:
    from app.extensions import db

    client: redis.Redis = app.extensions["redis"]
    keys = Keys(settings.pas_key_prefix)
    cap_ms = int(settings.pas_self_preservation_cap_s * 1000)
    store = RegistryStore(
        client,
        keys,
        ScriptParams(
            events_maxlen=settings.pas_events_maxlen,
            preservation_cap_ms=cap_ms,
            preservation_min_services=settings.pas_self_preservation_min_services,
            sweep_batch=settings.pas_sweep_batch,
        ),
    )
    events = EventStore(client, keys, settings.pas_events_maxlen)
    emitter = SocketIOEmitter(settings.effective_redis_url, keys.socketio_channel())
    registry = Registry(store, emitter, preservation_cap_ms=cap_ms)
    with app.app_context():
        engine = db.engine
    monitor = HeartbeatMonitor(
        store,
        events,
        AlertStore(engine, settings.pas_key_prefix),
        registry,
        emitter,
        keys,
        MonitorConfig(
            check_interval_s=settings.pas_sweep_interval_s,
            alerts_dir=settings.artifacts_dir / "hmi" / "events" if settings.pas_alert_jsonl else None,
        ),
    )
    resource_manager = ResourceManager(
        ResourceStore(client, keys, settings.pas_events_maxlen),
        emitter,
        load_config(settings.pas_resources_config, settings.artifacts_dir),
    )
    resource_manager.init_capacity()
    jobs = Jobs(
        JobStore(engine, settings.pas_key_prefix),
        resource_manager,
        events,
        emitter,
        CeleryDispatcher(app.extensions["celery"], f"{settings.pas_key_prefix}.default"),
        allowed_job_tasks,
        events.now_ms,
    )
    return Services(settings, client, keys, events, emitter, registry, monitor, resource_manager, jobs)


def services() -> Services:
    return current_app.extensions["pas"]  # type: ignore[no-any-return]

"""Domain objects built from settings and clients, one set per Flask app; edges reach them via services()."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, current_app

from app.celery_dispatch import CeleryDispatcher, CeleryWorkerControl, allowed_job_tasks
from app.domain.adapters.config import HOST_NAME, load_adapters
from app.domain.adapters.service import Adapters
from app.domain.agent_hooks.service import AgentHooks, HookConfig
from app.domain.agent_router.directory import AgentDirectory
from app.domain.agent_router.service import AgentRouter
from app.domain.agents.catalogue import Catalogue, load_catalogue
from app.domain.control.service import Operations
from app.domain.errors import PasError
from app.domain.event_stream.archive import EventArchive
from app.domain.event_stream.service import EventStream
from app.domain.gateway.anthropic_surface import Alias, context_tracker, load_aliases
from app.domain.gateway.calls import GatewayConfig
from app.domain.gateway.service import Gateway
from app.domain.heartbeat_monitor.monitor import HeartbeatMonitor, MonitorConfig
from app.domain.hmi.facade import HmiFacade, HmiSources
from app.domain.ids import new_id
from app.domain.jobs.service import Jobs
from app.domain.llm_calls.client import ModelCalls
from app.domain.local_models.catalogue import load_models
from app.domain.local_models.service import LocalModels, LocalModelsConfig
from app.domain.provider_router.config import RouterConfig
from app.domain.provider_router.matrix import load_matrix
from app.domain.provider_router.routing import Provider
from app.domain.provider_router.service import ProviderRouter
from app.domain.registry.service import Registry
from app.domain.resource_manager.capacity import host_metrics, load_config
from app.domain.resource_manager.service import ResourceManager
from app.domain.timefmt import iso
from app.domain.token_governor.model_summary import ModelSummarizer
from app.domain.token_governor.service import GovernorConfig, TokenGovernor, label_thresholds
from app.events import LIVE_CLIENTS, BackgroundEmitter, SocketIOEmitter
from app.logging import scrub_secrets
from app.providers.openai_compat import OpenAICompatClient
from config.celery import MODELS_REPORT_S
from config.ports import SERVICES
from config.settings import Settings
from contracts.heartbeat_monitor import AlertsQuery
from contracts.registry import DiscoverQuery, ServiceRecord
from models.agent_hook_store import AgentHookStore, HookTimings
from models.alert_store import AlertStore
from models.control_store import ControlStore
from models.event_store import EventStore
from models.gateway_store import GatewayStore
from models.governor_store import GovernorStore
from models.invocation_store import InvocationStore
from models.job_dispatch_store import JobDispatchStore
from models.job_store import JobStore
from models.keys import Keys
from models.llm_call_store import LlmCallStore
from models.provider_store import ProviderStore
from models.receipt_store import ReceiptStore
from models.registry_store import RegistryStore, ScriptParams
from models.resource_store import ResourceStore
from models.summary_store import SummaryStore


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
    token_governor: TokenGovernor
    event_stream: EventStream
    hmi: HmiFacade
    operations: Operations
    provider_router: ProviderRouter
    gateway: Gateway
    event_archive: EventArchive
    agent_hooks: AgentHooks
    agent_router: AgentRouter
    llm_calls_store: LlmCallStore
    local_models: LocalModels
    adapters: Adapters
    anthropic_aliases: list[Alias]


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
            blind_ms=int(settings.pas_monitor_blind_s * 1000),
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
        ResourceStore(client, keys, settings.pas_events_maxlen, cap_ms),
        emitter,
        load_config(settings.pas_resources_config, settings.artifacts_dir),
    )
    resource_manager.init_capacity()
    jobs = Jobs(
        JobStore(engine, settings.pas_key_prefix),
        resource_manager,
        events,
        emitter,
        CeleryDispatcher(app.extensions["celery"], settings.work_queue),
        JobDispatchStore(client, keys),
        allowed_job_tasks,
        events.now_ms,
        scrub_secrets,
    )
    celery = app.extensions["celery"]
    queue = settings.work_queue

    def enqueue_summary(agent: str, run_id: str, trigger: str, breach_seq: int | None, request_id: str) -> None:
        celery.send_task(
            "pas.token_governor.summarize", args=[agent, run_id, trigger, breach_seq, request_id], queue=queue
        )

    def agent_thresholds(agent: str) -> tuple[float | None, float | None]:
        """The agent's own targets, from its catalogue labels in the registry."""
        record = registered(registry, f"agent-{agent}")
        return label_thresholds(record.labels if record else None)

    llm_calls_store = LlmCallStore(client, keys)
    local_models = _local_models(settings, llm_calls_store, model_calls(settings, llm_calls_store, celery), registry,
                                 resource_manager)  # fmt: skip
    governor = TokenGovernor(
        GovernorStore(client, keys, settings.pas_events_maxlen),
        SummaryStore(engine, settings.pas_key_prefix),
        emitter,
        enqueue_summary,
        GovernorConfig(
            target_ratio=settings.pas_token_target_ratio,
            hard_max_ratio=settings.pas_token_hard_max_ratio,
            auto_summarize=settings.pas_auto_summarize,
            message_window=settings.pas_message_window,
            docs_dir=settings.docs_dir,
            transcript_root=settings.pas_transcript_root,
            summarize_wait_s=settings.pas_summarize_wait_s,
            lost_breach_after_s=30.0,
            summary_model_timeout_s=settings.pas_summary_model_timeout_s,
        ),
        agent_thresholds,
        # a task on the model's own queue, answered by its model worker; the governor's worker waits for it
        ModelSummarizer(list(local_models.models.values()), local_models.loaded, local_models.start),
    )
    event_stream = EventStream(events, emitter, LIVE_CLIENTS.count)
    control_store = ControlStore(client, keys)
    agent_hooks = _agent_hooks(settings, client, keys, store, registry, governor, emitter)
    hmi = HmiFacade(
        registry,
        events,
        HmiSources(
            health_checks={
                "registry": lambda: registry.health().model_dump(),
                "heartbeat_monitor": lambda: monitor.health().model_dump(),
                "resource_manager": lambda: {"status": "ok", "active_reservations": resource_manager.active_count()},
                "token_governor": lambda: governor.health().model_dump(),
                "event_stream": lambda: event_stream.health().model_dump(),
            },
            jobs=jobs.list,
            monitor_alerts=lambda limit: [a.model_dump() for a in monitor.alerts(AlertsQuery(limit=limit))],
            contexts=lambda: governor.status(None, None),
            quotas=resource_manager.quotas,
            reservations=resource_manager.reservations,
            paused=lambda: (control_store.paused(), control_store.paused_agents()),
            acked_alerts=control_store.acked_alerts,
            host=host_metrics,
            hook_timeline=agent_hooks.timeline,
            agent_totals=agent_hooks.totals,
        ),
    )
    operations = Operations(
        control_store,
        CeleryWorkerControl(celery, settings.work_queue),
        registry,
        events,
        emitter,
        hmi.alert_exists,
    )
    gateway_store = GatewayStore(client, keys, settings.pas_events_maxlen)
    model_ports = {s.port + settings.pas_port_offset for s in SERVICES if s.slug.startswith(("models/", "adapters/"))}
    router = ProviderRouter(
        ProviderStore(client, keys),
        gateway_store,
        load_matrix(settings.pas_providers_matrix, settings.pas_host, settings.pas_port_offset),
        lambda: registry.discover(DiscoverQuery(type="model")),
        RouterConfig(
            refresh_s=settings.pas_router_refresh_s,
            own_host=settings.pas_host,
            own_ports=frozenset(p for p in settings.bind_ports() if p in model_ports),
            pas_ports=frozenset(p for p in settings.bind_ports() if p not in model_ports),
            allowlist=settings.upstream_allowlist,
        ),
        events.now_ms(),
    )
    gateway = Gateway(
        router,
        gateway_store,
        ReceiptStore(engine, settings.pas_key_prefix),
        OpenAICompatClient(),
        BackgroundEmitter(emitter),
        GatewayConfig(
            costs_dir=settings.costs_dir,
            retries=settings.pas_gateway_retries,
            max_providers=settings.pas_gateway_max_providers,
            backoff_s=settings.pas_gateway_backoff_s,
            default_timeout_s=settings.pas_gateway_timeout_s,
            trip_after=settings.pas_gateway_trip_after,
            cooldown_s=settings.pas_gateway_cooldown_s,
            interrupted_grace_s=settings.pas_gateway_interrupted_grace_s,
        ),
        provider_headers=lambda p: _provider_auth(settings, p),
        secrets=lambda: _secrets(settings, router),
        observe=context_tracker(governor, agent_hooks.add_cost),
    )
    return Services(
        settings, client, keys, events, emitter, registry, monitor, resource_manager, jobs, governor, event_stream,
        hmi, operations, router, gateway,
        EventArchive(events, settings.artifacts_dir / "hmi" / "events", settings.pas_events_retention_days,
                     keys.archive_lock(), new_id),
        agent_hooks,
        _agent_router(client, keys, registry, events, jobs, gateway, governor),
        llm_calls_store,
        local_models,
        _adapters(settings, llm_calls_store, celery),
        load_aliases(settings.pas_anthropic_aliases),
    )  # fmt: skip


def model_calls(settings: Settings, store: LlmCallStore, celery: Any) -> ModelCalls:
    def submit(queue: str, task: str, call_id: str, payload: dict[str, Any]) -> None:
        # ignore_result: the answer comes back on the call's stream; without it Celery subscribes this process to
        # a result channel per call (a Redis round trip before the task goes out, on the first token's path).
        celery.send_task(task, args=[call_id, payload], queue=queue, ignore_result=True)

    return ModelCalls(store, submit, settings.pas_model_first_token_timeout_s, settings.pas_model_idle_timeout_s)


def _local_models(
    settings: Settings, store: LlmCallStore, calls: ModelCalls, registry: Registry, resources: ResourceManager
) -> LocalModels:
    return LocalModels(
        load_models(settings.pas_models_config),
        LocalModelsConfig(
            models_dir=settings.models_dir,
            labels_path=settings.pas_root / "config" / "domains.l0.json",
            host=settings.pas_host,
            port_offset=settings.pas_port_offset,
            queue=settings.model_queue,
            report_interval_s=MODELS_REPORT_S,
        ),
        store,
        calls,
        registry.register,
        registry.heartbeat,
        resources.reserve,
        resources.release,
        lambda service_id: record.heartbeat_interval_s if (record := registered(registry, service_id)) else None,
    )


def _adapters(settings: Settings, store: LlmCallStore, celery: Any) -> Adapters:
    # The worker answers a vendor timeout itself (504); these only catch a worker that died mid-call.
    wait_s = settings.pas_adapter_timeout_s + 5
    calls = model_calls(settings, store, celery)
    return Adapters(
        load_adapters(settings.pas_adapters_config),
        settings.env_value,
        ModelCalls(store, calls.submit, first_timeout_s=wait_s, idle_timeout_s=wait_s),
        lambda: store.host(HOST_NAME),
        "0.1.0",
    )


def _agent_router(
    client: redis.Redis, keys: Keys, registry: Registry, events: EventStore, jobs: Jobs, gateway: Gateway,
    governor: TokenGovernor,
) -> AgentRouter:  # fmt: skip
    # read on first use (42 files), then kept: it changes with a deploy
    shipped_catalogue: Callable[[], Catalogue] = functools.cache(load_catalogue)

    directory = AgentDirectory(lambda: registry.discover(DiscoverQuery(type="agent")), lambda: iso(events.now_ms()))
    return AgentRouter(directory, shipped_catalogue, jobs, gateway, governor, InvocationStore(client, keys))


def _agent_hooks(
    settings: Settings, client: redis.Redis, keys: Keys, registry_store: RegistryStore, registry: Registry,
    governor: TokenGovernor, emitter: SocketIOEmitter,
) -> AgentHooks:  # fmt: skip
    day_ms = 86_400_000
    store = AgentHookStore(
        client, keys, registry_store.params,
        HookTimings(run_ttl_ms=7 * day_ms, done_ttl_ms=day_ms, tool_ttl_ms=3_600_000,
                    grace_ms=int(settings.pas_hook_grace_s * 1000), idle_ms=int(settings.pas_hook_idle_s * 1000),
                    timeline_maxlen=settings.pas_hook_timeline_maxlen),
    )  # fmt: skip

    return AgentHooks(
        store, governor, BackgroundEmitter(emitter), lambda service_id: registered(registry, service_id),
        HookConfig(transcript_root=settings.pas_transcript_root, default_ctx_limit=settings.pas_hook_ctx_limit,
                   resume_path="/api/token-governor/resume"),
    )  # fmt: skip


def registered(registry: Registry, service_id: str) -> ServiceRecord | None:
    try:
        return registry.get(service_id)
    except PasError:
        return None


def _provider_auth(settings: Settings, provider: Provider) -> dict[str, str]:
    key = settings.provider_key(provider.api_key_env) if provider.api_key_env else None
    if provider.protocol == "anthropic":  # Anthropic's own header; the bearer scheme is for OAuth tokens there
        return {"x-api-key": key} if key else {}
    return {"Authorization": f"Bearer {key}"} if key else {}


def _secrets(settings: Settings, router: ProviderRouter) -> list[str]:
    """Every secret an upstream could quote back: each provider's key (by its api_key_env) and PAS_API_TOKEN."""
    found = [settings.provider_key(name) for name in router.key_env_names()]
    if settings.pas_api_token is not None:
        found.append(settings.pas_api_token.get_secret_value())
    return [s for s in found if s]


def services() -> Services:
    return current_app.extensions["pas"]  # type: ignore[no-any-return]

"""Celery's configuration, derived from Settings (RELIABILITY.md decision 6: at-least-once, one beat)."""

from __future__ import annotations

from typing import Any

from config.settings import Settings

MODELS_REPORT_S = 5.0  # beat's report of the local models whose file is missing (they are registered `degraded`)


def restore_interval_s(visibility_timeout_s: int) -> int:
    """How often a worker puts back the messages a dead worker left unacknowledged (those older than the
    visibility timeout): a tenth of it, 1 to 10 s. kombu's default scans only every 10th 10 s tick (100 s), so
    a job whose worker was killed came back 100 s late even with a 10 s visibility timeout (RELIABILITY C2)."""
    return max(1, min(10, visibility_timeout_s // 10))


def celery_config(settings: Settings) -> dict[str, Any]:
    url = settings.effective_redis_url
    prefix = settings.pas_key_prefix
    visibility_timeout_s = settings.pas_celery_visibility_timeout_s
    return {
        "broker_url": url,
        # No result backend: tasks report through Redis/SQL state, never AsyncResult. With one (the broker's own
        # Redis), a broker outage broke Celery's cancellation of late-acked tasks: the worker stores a RETRY state
        # before it marks the task cancelled, that write fails, and the terminated task is then acknowledged as
        # revoked — the job lost, `running` until its timeout (celery 5.7; RELIABILITY C6, C9).
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        "worker_consumer": "app.celery_consumer:QuickReconnectConsumer",
        "broker_transport": "app.celery_consumer:DetachedSafeTransport",  # kombu's redis transport, see there
        "broker_transport_options": {
            "visibility_timeout": visibility_timeout_s,
            "unacked_restore_interval": restore_interval_s(visibility_timeout_s),
            "unacked_restore_throttle": 1,  # every tick scans (the default scans every 10th)
            "global_keyprefix": f"{prefix}:celery:",
        },
        "task_default_queue": settings.system_queue,
        "task_routes": {
            "pas.jobs.run": {"queue": settings.work_queue},
            "pas.token_governor.summarize": {"queue": settings.work_queue},
        },
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_hijack_root_logger": False,
        "worker_send_task_events": True,  # Flower
        "task_send_sent_event": True,
        "beat_scheduler": "app.celery_beat:OutageProofRedBeatScheduler",
        "redbeat_redis_url": url,
        "redbeat_redis_options": {"socket_timeout": 10, "socket_connect_timeout": 5},
        "redbeat_key_prefix": f"{prefix}:redbeat:",
        "redbeat_lock_timeout": settings.pas_beat_lock_timeout_s,
        "beat_max_loop_interval": 1,
        "beat_schedule": {
            "resource-manager-sweep": {
                "task": "pas.resource_manager.sweep",
                "schedule": 1.0,
                "options": {"expires": 2.0},
            },
            "token-governor-sweep": {
                "task": "pas.token_governor.sweep",
                "schedule": 5.0,
                "options": {"expires": 10.0},
            },
            "gateway-ship": {"task": "pas.gateway.ship", "schedule": 1.0, "options": {"expires": 2.0}},
            "gateway-sweep": {"task": "pas.gateway.sweep", "schedule": 5.0, "options": {"expires": 10.0}},
            "events-archive": {"task": "pas.events.archive", "schedule": 1.0, "options": {"expires": 2.0}},
            "agent-router-sweep": {
                "task": "pas.agent_router.sweep",
                "schedule": settings.pas_hook_sweep_interval_s,
                "options": {"expires": max(2.0, settings.pas_hook_sweep_interval_s * 2)},
            },
            "models-report": {
                "task": "pas.models.report",
                "schedule": MODELS_REPORT_S,
                "options": {"expires": 2 * MODELS_REPORT_S},
            },
            "jobs-reconcile": {"task": "pas.jobs.reconcile", "schedule": 1.0, "options": {"expires": 2.0}},
            "heartbeat-monitor-sweep": {
                "task": "pas.heartbeat_monitor.sweep",
                "schedule": settings.pas_sweep_interval_s,
                # A sweep older than two intervals is stale; the next one does its work.
                "options": {"expires": max(2.0, settings.pas_sweep_interval_s * 2)},
            },
        },
    }

"""`python -m app.adapter_worker`: the Celery worker that makes the vendor adapters' calls (queue `adapters`).
A gevent pool: a vendor call waits on the network, so one process holds many at once (PAS_ADAPTER_CONCURRENCY).
Run more on other hosts against the same Redis to scale them out.

While it lives it registers the four adapters (type "model") and heartbeats each: ok with a key and no vendor
trouble, degraded with the reason otherwise; and it publishes its live facts, which the web side's /health and
/chat/completions read (no facts: no worker, degraded, 503)."""

from gevent import monkey

monkey.patch_all()  # first, before anything imports socket or threading (it is started with -m, not celery's CLI)

import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from typing import Any  # noqa: E402

from celery.signals import worker_ready, worker_shutdown  # noqa: E402

from app.domain.adapters.config import HOST_NAME, QUEUE, Placement, load_adapters, registration  # noqa: E402
from app.domain.adapters.host import AdapterHost, HostConfig  # noqa: E402
from app.domain.errors import NotFound  # noqa: E402
from app.factory import create_app  # noqa: E402
from contracts.registry import HeartbeatRequest  # noqa: E402

log = logging.getLogger("pas.adapters")

flask_app = create_app(serve_socketio=False, process="adapter_worker")
celery = flask_app.extensions["celery"]
celery.conf.include = ["tasks.adapters"]
# No task events from this worker: they are Redis round trips on every model call's path before the vendor is
# called (~1.5 ms of the hop, measured by bench/adapters.py); Flower still lists the worker, not its calls.
celery.conf.worker_send_task_events = False
services = flask_app.extensions["pas"]
settings = services.settings
adapters = load_adapters(settings.pas_adapters_config)
interval_s = float(min(a.heartbeat_interval_s for a in adapters))
_wake = threading.Event()
_stop = threading.Event()
host = AdapterHost(
    adapters,
    settings.env_value,
    HostConfig(
        timeout_s=settings.pas_adapter_timeout_s,
        trip_after=settings.pas_adapter_trip_after,
        cooldown_s=settings.pas_adapter_cooldown_s,
        auth_retry_s=settings.pas_adapter_auth_retry_s,
    ),
    on_change=_wake.set,
)
calls = services.llm_calls_store
flask_app.extensions["pas_adapter_host"] = host
placement = Placement(settings.pas_host, settings.pas_port_offset)


def beat_once(final: bool = False) -> None:
    """Every adapter's state into the registry (registering it when it is not there), then the live facts."""
    registry = services.registry
    for adapter in adapters:
        status, reason = host.status(adapter.provider)
        beat = HeartbeatRequest(
            service_id=adapter.name,
            status="down" if final else ("ok" if status == "healthy" else "degraded"),
            message="adapter worker stopped" if final else (reason or ""),
        )
        try:
            registry.heartbeat(beat)
        except NotFound:
            if final:
                continue
            registry.register(registration(adapter, placement))
            registry.heartbeat(beat)
    if final:
        calls.drop_host(HOST_NAME)
    else:
        calls.publish_host(HOST_NAME, host.facts(), int(interval_s * 3000))


def _beat_loop() -> None:
    with flask_app.app_context():
        while not _stop.is_set():
            try:
                beat_once()
            except Exception as exc:  # Redis away: the next beat tries again; the monitor sees the gap
                log.warning("adapter_heartbeat_failed", extra={"error": type(exc).__name__})
            _wake.wait(min(interval_s, host.next_change_s() or interval_s))
            _wake.clear()


@worker_ready.connect  # type: ignore[untyped-decorator]
def _start_beating(**_: object) -> None:
    threading.Thread(target=_beat_loop, name="adapter-heartbeat", daemon=True).start()
    for adapter in adapters:
        status, reason = host.status(adapter.provider)
        log.info("adapter_ready", extra={"adapter": adapter.name, "status": status, "reason": reason,
                                         "port": adapter.port + settings.pas_port_offset})  # fmt: skip


@worker_shutdown.connect  # type: ignore[untyped-decorator]
def _stop_beating(**_: Any) -> None:
    _stop.set()
    _wake.set()
    try:
        with flask_app.app_context():
            beat_once(final=True)
    except Exception as exc:
        log.warning("adapter_final_heartbeat_failed", extra={"error": type(exc).__name__})


def argv() -> list[str]:
    return [
        "worker", "--pool", "gevent", "--concurrency", str(settings.pas_adapter_concurrency),
        "--queues", QUEUE, "--hostname", f"adapters-{os.getpid()}@%h", "--loglevel", settings.pas_log_level,
        "--without-mingle", "--without-gossip",
    ]  # fmt: skip


if __name__ == "__main__":
    celery.worker_main(argv=argv() + sys.argv[1:])

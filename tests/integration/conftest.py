"""The live fixture: the app served on real ports (main + every legacy port, shifted by an offset), with a
real Celery worker and beat as processes, all on the run's private Valkey and key prefix."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from app.factory import create_app, create_tables
from config.ports import BY_SLUG
from config.settings import Settings
from tests.integration.steady import SteadyBeats
from tests.support import BIN, Proc, base_env, port_offset_with_free_ports, unique_prefix, wait_until
from tests.upstream import Upstream, start_upstream


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process read the same Settings."""
    env = {}
    for name in settings.model_fields_set:
        value = getattr(settings, name)
        if value is None:
            continue
        env[name.upper()] = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return base_env(**env)


@dataclass
class Live:
    app: Flask
    settings: Settings
    redis: redis.Redis
    worker: Proc
    beat: Proc
    extras: list[Proc] = field(default_factory=list)  # model and adapter workers, by name
    steady: SteadyBeats | None = None  # the session's 20 heartbeating services (RELIABILITY L2)

    def extra(self, name: str) -> Proc:
        return next(p for p in self.extras if p.name == name)

    def url(self, slug: str | None = None, path: str = "/") -> str:
        """A URL on the legacy port of `slug`, or on the main port."""
        port = (BY_SLUG[slug].port if slug else self.settings.pas_port) + self.settings.pas_port_offset
        return f"http://127.0.0.1:{port}{path}"


@pytest.fixture(scope="session")
def make_settings(redis_url: str, database_url: str, artifacts: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "database_url": database_url,
            "pas_key_prefix": unique_prefix(),
            "pas_async_mode": "threading",
            "pas_artifacts_dir": artifacts,
            "pas_docs_dir": artifacts / "docs" / "runs",
            "pas_log_level": "WARNING",
            # Self-preservation has its own test; elsewhere services die a few at a time and must go.
            "pas_self_preservation_min_services": 100_000,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
def upstreams() -> Iterator[list[Upstream]]:
    """Three real OpenAI-compatible HTTP upstreams on 127.0.0.1 (the live app allowlists exactly these)."""
    ups = [start_upstream() for _ in range(3)]
    yield ups
    for up in ups:
        up.server.shutdown()
        up.server.server_close()


@pytest.fixture(scope="session")
def live(make_settings: Callable[..., Settings], artifacts: Path, upstreams: list[Upstream]) -> Iterator[Live]:
    settings = make_settings(
        pas_port_offset=port_offset_with_free_ports(),
        pas_sweep_interval_s=1.0,
        pas_log_level="INFO",
        pas_upstream_allowlist=",".join(f"127.0.0.1:{u.port}" for u in upstreams),
        pas_gateway_backoff_s=0.01,
        pas_gateway_cooldown_s=2.0,
    )
    with serve_live(settings, artifacts, socketio=True) as running:
        running.steady = SteadyBeats(running.url("registry", ""))
        running.steady.start()
        try:
            yield running
        finally:
            running.steady.stop()


@contextlib.contextmanager
def serve_live(
    settings: Settings,
    artifacts: Path,
    *,
    worker_concurrency: int = 3,
    socketio: bool = False,
    extra_workers: Sequence[tuple[str, list[str]]] = (),
) -> Iterator[Live]:
    """The app on its main port and every legacy port (real HTTP servers), with a Celery worker and beat as
    processes on the same Valkey and key prefix; stopped when the block ends. Socket.IO only for the one session
    `live` app: Flask-SocketIO's extension is one per process, and a second app serving it would take it over
    from the first (its clients then hear nothing)."""
    app = create_app(settings, serve_socketio=socketio)
    create_tables(app)
    env = settings_env(settings)
    logs = artifacts / "logs"
    worker = Proc(
        "worker",
        [str(BIN / "celery"), "-A", "app.worker", "worker", "--pool", "prefork", "--concurrency",
         str(worker_concurrency), "--queues", settings.worker_queues, "--without-heartbeat", "--without-mingle",
         "--without-gossip", "--loglevel", "INFO", "--hostname", f"{settings.pas_key_prefix}@%h"],
        env, logs,
    )  # fmt: skip
    beat = Proc(
        "beat",
        [str(BIN / "celery"), "-A", "app.worker", "beat", "--scheduler", "app.celery_beat:OutageProofRedBeatScheduler",
         "--loglevel", "INFO"],
        env, logs,
    )  # fmt: skip
    extras = [Proc(name, argv, env, logs) for name, argv in extra_workers]  # model and adapter workers
    servers: list[BaseWSGIServer] = []
    for port in settings.bind_ports():
        server = make_server("127.0.0.1", port, app, threaded=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    client = app.extensions["redis"]
    live = Live(app, settings, client, worker, beat, extras)
    try:
        # The monitor is live once beat's sweeps run in the worker.
        wait_until(lambda: client.get(f"{settings.pas_key_prefix}:heartbeat_monitor:last_sweep"), 60, 0.2,
                   "the first sweep by beat + worker")  # fmt: skip
        yield live
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        beat.stop()
        for extra in extras:
            extra.stop()
        worker.stop()
        if not worker.alive() and worker.p.returncode not in (0, -15, None):
            print(worker.output()[-3000:])


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> Iterator[Flask]:
    """An app on its own key prefix with no worker or beat: sweeps run only when a test calls them."""
    app = create_app(make_settings(), serve_socketio=False)
    create_tables(app)
    yield app
    app.extensions["redis"].close()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """artifacts/screenshots/ in the checkout: every page's picture from the last test run."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

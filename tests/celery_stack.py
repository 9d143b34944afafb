"""The stack the Celery fault tests share: a private Valkey they may kill, the app on real HTTP (in-process), beat
and a system-queue worker that keep the sweeps and the reconciler running, and job workers (the work queue) that
the tests start, kill and stop."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests
from flask import Flask
from werkzeug.serving import make_server

from app.extensions import db
from app.factory import create_app, create_tables
from app.valkey import EmbeddedValkey
from config.settings import Settings
from contracts.jobs import JobCard
from models.job_store import JobStore
from tests.integration.conftest import settings_env
from tests.support import BIN, Proc, port_offset_with_free_ports, unique_prefix, wait_until

VISIBILITY_TIMEOUT_S = 10


def celery_argv(settings: Settings, name: str, queues: str, concurrency: int) -> list[str]:
    return [str(BIN / "celery"), "-A", "app.worker", "worker", "--pool", "prefork", "--concurrency", str(concurrency),
            "--queues", queues, "--include", "tests.fault_tasks", "--without-heartbeat", "--without-mingle",
            "--without-gossip", "--loglevel", "INFO", "--hostname", f"{name}-{settings.pas_key_prefix}@%h"]  # fmt: skip


@dataclass
class Stack:
    settings: Settings
    app: Flask
    valkey: EmbeddedValkey
    logs: Path
    procs: list[Proc] = field(default_factory=list)
    system: Proc | None = None  # the system-queue worker: sweeps and the reconciler, never killed
    _names: Counter[str] = field(default_factory=Counter)

    @property
    def redis(self) -> redis.Redis:
        client: redis.Redis = self.app.extensions["redis"]
        return client

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.pas_port + self.settings.pas_port_offset}"

    def worker(self, name: str, concurrency: int = 2, redis_url: str | None = None, ready: bool = True) -> Proc:
        """A job worker (the work queue only), optionally on another Redis URL (a proxy in front of the Valkey)."""
        self._names[name] += 1
        name = f"{name}{self._names[name]}"
        env = settings_env(self.settings)
        if redis_url:
            env["REDIS_URL"] = redis_url
        proc = Proc(name, celery_argv(self.settings, name, self.settings.work_queue, concurrency), env, self.logs)
        self.procs.append(proc)
        if ready:
            wait_ready(proc)
        return proc

    # jobs over HTTP, as a client submits them

    def submit(self, task: str, timeout_s: int = 60, **card: Any) -> str:
        body = {"agent": "fault-tests", "task": task, "timeout_s": timeout_s, **card}
        r = requests.post(f"{self.base}/jobs", json=body, timeout=10)
        assert r.status_code == 201, r.text
        return str(r.json()["job_id"])

    def submit_trusted(self, task: str, timeout_s: int = 60) -> str:
        """A job of a task on no allowlist (tests/fault_tasks.py), as PAS's own callers create them."""
        card = JobCard(agent="fault-tests", task=task, timeout_s=timeout_s)
        return self.app.extensions["pas"].jobs.create(card, trusted=True).job_id

    def store(self) -> JobStore:
        """The jobs' SQL store, for writing the state a crash between two writes leaves behind."""
        with self.app.app_context():
            return JobStore(db.engine, self.settings.pas_key_prefix)

    def job(self, job_id: str) -> dict[str, Any]:
        r = requests.get(f"{self.base}/jobs/{job_id}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def status(self, job_id: str) -> str:
        return str(self.job(job_id)["status"])

    # what happened, from the event stream

    def head(self) -> int:
        return self.app.extensions["pas"].events.last_seq()

    def events(self, since: int) -> list[dict[str, Any]]:
        store = self.app.extensions["pas"].events
        out: list[dict[str, Any]] = []
        while batch := [json.loads(e) for e in store.after(since, 5000)]:
            out += batch
            since = int(batch[-1]["seq"])
        return out

    def job_events(self, since: int) -> Counter[tuple[str, str]]:
        """(event type, job id) → how many: a job's side effects, counted."""
        return Counter((e["event_type"], e["data"].get("job_id", "")) for e in self.events(since))

    # the broker's own bookkeeping (kombu's Redis transport, under the run's key prefix)

    def unacked(self) -> int:
        """Job messages delivered and not acknowledged yet (the system worker's sweeps share the hash)."""
        entries = self.redis.hvals(f"{self.settings.pas_key_prefix}:celery:unacked")
        return sum(1 for e in entries if json.loads(e)[2] == self.settings.work_queue)

    def queue_lists(self) -> list[str]:
        """The work queue's lists (kombu keeps one per priority step)."""
        name = f"{self.settings.pas_key_prefix}:celery:{self.settings.work_queue}"
        return [name + step for step in ("", "\x06\x163", "\x06\x166", "\x06\x169")]

    def queued(self) -> int:
        """Job messages waiting, over kombu's priority lists of the work queue."""
        return sum(int(self.redis.llen(name)) for name in self.queue_lists())

    def queued_ids(self) -> list[str]:
        """The task ids (for `pas.jobs.run`, the job ids) of the job messages waiting."""
        raw = [m for name in self.queue_lists() for m in self.redis.lrange(name, 0, -1)]
        return [str(json.loads(m)["headers"]["id"]) for m in raw]

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def wait_ready(proc: Proc, timeout: float = 60) -> None:
    def ready() -> bool:
        assert proc.alive(), proc.output()[-3000:]
        return " ready." in proc.output()

    wait_until(ready, timeout, 0.1, f"{proc.name} ready")


@contextlib.contextmanager
def celery_stack(tmp: Path, database_url: str) -> Iterator[Stack]:
    valkey = EmbeddedValkey(tmp / "valkey").start()
    settings = Settings(
        redis_url=valkey.url, database_url=database_url, pas_key_prefix=unique_prefix("cf"),
        pas_async_mode="threading", pas_artifacts_dir=tmp, pas_log_level="INFO", pas_legacy_ports=False,
        pas_port_offset=port_offset_with_free_ports(), pas_celery_visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        pas_self_preservation_min_services=100_000,
    )  # fmt: skip
    # The web side in-process, quiet (its request lines would flood a failure's report); the processes log INFO.
    app = create_app(settings.model_copy(update={"pas_log_level": "WARNING"}), serve_socketio=False)
    create_tables(app)
    stack = Stack(settings, app, valkey, tmp / "logs")
    server = make_server("127.0.0.1", settings.bind_ports()[0], app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = settings_env(settings)
    try:
        # The product's scheduler (as `pas up` runs it): plain RedBeat exits when Valkey restarts under it.
        beat = [str(BIN / "celery"), "-A", "app.worker", "beat", "--scheduler",
                "app.celery_beat:OutageProofRedBeatScheduler", "--loglevel", "INFO"]  # fmt: skip
        stack.procs.append(Proc("beat", beat, env, stack.logs))
        system = Proc("system", celery_argv(settings, "system", settings.system_queue, 2), env, stack.logs)
        stack.procs.append(system)
        stack.system = system
        yield stack
    finally:
        server.shutdown()
        server.server_close()
        stack.close()
        stack.redis.close()
        valkey.stop()

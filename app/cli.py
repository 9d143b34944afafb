"""The `pas` command: `pas up` runs everything; the other verbs run one part (docker-compose uses them)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from config.settings import ROOT, Settings


def _exec(argv: list[str]) -> None:
    os.chdir(ROOT)
    os.execvp(argv[0], argv)


def _bin(name: str) -> str:
    # Prefer the tool installed beside this interpreter (the venv), whatever PATH says.
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def worker_argv(settings: Settings, concurrency: int) -> list[str]:
    return [
        _bin("celery"), "-A", "app.worker", "worker",
        "--pool", "prefork", "--concurrency", str(concurrency),
        "--queues", settings.worker_queues,
        "--hostname", f"worker-{os.getpid()}@%h",
        "--loglevel", "INFO", "--without-heartbeat", "--without-mingle", "--without-gossip",
    ]  # fmt: skip


def beat_argv() -> list[str]:
    return [_bin("celery"), "-A", "app.worker", "beat", "--scheduler", "redbeat.RedBeatScheduler",
            "--loglevel", "INFO"]  # fmt: skip


def web_argv() -> list[str]:
    return [_bin("gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"]


def flower_argv(settings: Settings) -> list[str]:
    # Loopback only (RELIABILITY A4): Flower has no auth of its own here.
    return [_bin("celery"), "-A", "app.worker", "flower", "--address=127.0.0.1",
            f"--port={settings.pas_flower_port}"]  # fmt: skip


@click.group()
def main() -> None:
    """PAS, the Polyglot Agent Swarm control plane."""


@main.command()
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
@click.option("--workers", default=4, show_default=True, help="Celery worker processes.")
def up(no_flower: bool, workers: int) -> None:
    """Start everything in the foreground: Valkey (if REDIS_URL is unset), web, worker, beat, Flower."""
    from app.supervisor import Child, Supervisor
    from app.valkey import EmbeddedValkey, valkey_binary

    settings = Settings()
    env = dict(os.environ)
    sup = Supervisor(env, str(ROOT))
    if not settings.redis_url:
        valkey = EmbeddedValkey(settings.artifacts_dir / "valkey")
        env["REDIS_URL"] = valkey.url
        sup.spawn(Child("valkey", valkey.command(), first_backoff_s=0.2, max_restarts=20))
        from app.valkey import wait_ready

        wait_ready(valkey.url)
        sup.log("pas", f"embedded Valkey {valkey_binary()} on {valkey.url} (AOF in {valkey.data_dir})")
    settings = Settings(redis_url=env["REDIS_URL"])
    _create_tables(settings)
    if settings.pas_api_token is None:
        sup.log("pas", "WARNING: PAS_API_TOKEN is unset: every endpoint is open to anyone who can reach it")
        if settings.pas_host not in ("127.0.0.1", "localhost", "::1"):
            sup.log("pas", f"WARNING: bound to {settings.pas_host} without a token")
    sup.spawn(Child("web", web_argv()))
    sup.spawn(Child("worker", worker_argv(settings, workers)))
    sup.spawn(Child("beat", beat_argv()))
    if not no_flower:
        sup.spawn(Child("flower", flower_argv(settings)))
    base = f"http://{settings.pas_host}:{settings.pas_port + settings.pas_port_offset}"
    sup.log("pas", f"HMI           {base}/")
    sup.log("pas", f"OpenAPI       {base}/openapi.json  (browse: {base}/docs)")
    sup.log("pas", f"registry      http://{settings.pas_host}:{6121 + settings.pas_port_offset}/  (legacy ports)")
    sup.log("pas", f"OpenAI API    {base}/v1  (gateway: chat completions, models)")
    if not no_flower:
        sup.log("pas", f"Flower        http://127.0.0.1:{settings.pas_flower_port}/")
    sup.log("pas", "Ctrl-C stops everything")
    sys.exit(sup.run())


def _create_tables(settings: Settings) -> None:
    from app.factory import create_app, create_tables

    create_tables(create_app(settings, serve_socketio=False, process="cli"))


@main.command()
def web() -> None:
    """gunicorn (gevent) bound to the main port and every legacy port."""
    _create_tables(Settings())
    _exec(web_argv())


@main.command()
@click.option("--concurrency", default=4, show_default=True)
def worker(concurrency: int) -> None:
    """A Celery worker (prefork); run more on other hosts against the same Redis."""
    _exec(worker_argv(Settings(), concurrency))


@main.command()
def beat() -> None:
    """Celery beat with the RedBeat lock: a second one waits instead of double-running sweeps."""
    _exec(beat_argv())


@main.command()
def flower() -> None:
    """Flower for the Celery workers (127.0.0.1 only)."""
    _exec(flower_argv(Settings()))


@main.group()
def db() -> None:
    """Database tables."""


@db.command("create")
def db_create() -> None:
    """Create missing tables (idempotent)."""
    _create_tables(Settings())


@main.group()
def contracts() -> None:
    """The JSON Schemas generated from contracts/."""


@contracts.command("export")
@click.option("--check", is_flag=True, help="Write nothing; fail if a committed schema is stale.")
def contracts_export(check: bool) -> None:
    from contracts.export import export

    stale = export(check=check)
    if stale:
        click.echo(f"stale schemas (run `pas contracts export`): {', '.join(stale)}", err=True)
        sys.exit(1)
    click.echo("schemas up to date" if check else "schemas written")


if __name__ == "__main__":
    main()

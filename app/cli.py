"""The `pas` command: `pas up` runs everything; the other verbs run one part (docker-compose uses them)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from config.settings import ROOT, Settings, loopback

if TYPE_CHECKING:
    from app.domain.agents.catalogue import Catalogue


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


def model_worker_argv(name: str) -> list[str]:
    """The Celery worker that loads and hosts one local model (queue llm.<name>): app/model_worker.py."""
    return [sys.executable, "-m", "app.model_worker", name]


def adapter_worker_argv() -> list[str]:
    """The Celery worker (gevent pool) that makes the vendor adapters' calls (queue adapters):
    app/adapter_worker.py."""
    return [sys.executable, "-m", "app.adapter_worker"]


def beat_argv() -> list[str]:
    return [_bin("celery"), "-A", "app.worker", "beat", "--scheduler", "app.celery_beat:OutageProofRedBeatScheduler",
            "--loglevel", "INFO"]  # fmt: skip


def web_argv() -> list[str]:
    return [_bin("gunicorn"), "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"]


def flower_command(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """Flower's argv and what it adds to the environment (RELIABILITY A4). Loopback by default; bound anywhere
    else only with PAS_FLOWER_BASIC_AUTH, handed over as FLOWER_BASIC_AUTH (argv is readable by every user)."""
    address = settings.pas_flower_address
    auth = settings.pas_flower_basic_auth.get_secret_value() if settings.pas_flower_basic_auth else ""
    if auth and not all(re.fullmatch(r"[^:,]+:[^,]+", pair) for pair in auth.split(",")):
        raise click.ClickException("PAS_FLOWER_BASIC_AUTH must be user:password (comma-separated for several)")
    if not auth and not loopback(address):
        raise click.ClickException(
            f"Flower would listen on {address or 'every interface'} without a password: set "
            "PAS_FLOWER_BASIC_AUTH=user:password, or leave PAS_FLOWER_ADDRESS at 127.0.0.1"
        )
    argv = [_bin("celery"), "-A", "app.worker", "flower", f"--address={address}",
            f"--port={settings.pas_flower_port}"]  # fmt: skip
    return argv, ({"FLOWER_BASIC_AUTH": auth} if auth else {})


def _refuse_open_bind(settings: Settings) -> None:
    if refusal := settings.open_bind_refusal():  # RELIABILITY A3
        raise click.ClickException(refusal)


@click.group()
def main() -> None:
    """PAS, the Polyglot Agent Swarm control plane."""


@main.command()
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
@click.option("--workers", default=4, show_default=True, help="Celery worker processes.")
@click.option("--no-agents", is_flag=True, help="Do not register the catalogue's missing agents at start.")
def up(no_flower: bool, workers: int, no_agents: bool) -> None:
    """Start everything in the foreground: Valkey (if REDIS_URL is unset), web, worker, beat, Flower; the
    catalogue's agents that are not registered yet are registered first."""
    from app.supervisor import Child, Supervisor
    from app.valkey import EmbeddedValkey, valkey_binary

    settings = Settings()
    _refuse_open_bind(settings)
    flower_argv, flower_env = flower_command(settings) if not no_flower else ([], {})  # refused before any start
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
    if not no_agents:
        sup.log("pas", _register_missing_agents(settings))
    if settings.pas_api_token is None:
        sup.log("pas", "WARNING: PAS_API_TOKEN is unset: every endpoint is open to anyone who can reach it")
    sup.spawn(Child("web", web_argv()))
    sup.spawn(Child("worker", worker_argv(settings, workers)))
    sup.spawn(Child("adapters", adapter_worker_argv()))
    sup.spawn(Child("beat", beat_argv()))
    with_files = _models_with_files(settings)
    for name in with_files:
        sup.spawn(Child(f"model-{name}", model_worker_argv(name)))
    sup.log("pas", _models_line(settings, with_files))
    if not no_flower:
        sup.spawn(Child("flower", flower_argv, env=flower_env))
    base = f"http://{settings.pas_host}:{settings.pas_port + settings.pas_port_offset}"
    sup.log("pas", f"HMI           {base}/")
    sup.log("pas", f"OpenAPI       {base}/openapi.json  (browse: {base}/docs)")
    sup.log("pas", f"registry      http://{settings.pas_host}:{6121 + settings.pas_port_offset}/  (legacy ports)")
    sup.log("pas", f"OpenAI API    {base}/v1  (gateway: chat completions, models)")
    sup.log(
        "pas",
        f"adapters      http://{settings.pas_host}:{8100 + settings.pas_port_offset}-"
        f"{8103 + settings.pas_port_offset}/  (OpenAI, Anthropic, Gemini, Grok; keys: *_API_KEY)",
    )
    if not no_flower:
        auth = " (basic auth)" if flower_env else ""
        sup.log("pas", f"Flower        http://{settings.pas_flower_address}:{settings.pas_flower_port}/{auth}")
    sup.log("pas", "Ctrl-C stops everything")
    sys.exit(sup.run())


def _register_missing_agents(settings: Settings) -> str:
    """The catalogue's agents that are not registered yet, straight into the store."""
    from app.domain.agents.claude_code import base_url
    from app.domain.agents.registration import register_missing
    from app.factory import create_app
    from app.wiring import registered, services

    catalogue = _catalogue(None)
    with create_app(settings, serve_socketio=False, process="cli").app_context():
        registry = services().registry
        done = register_missing(
            catalogue, registry.register, lambda sid: registered(registry, sid) is not None, base_url(settings)
        )
    return f"agents: {len(catalogue.agents)} in the catalogue, {len(done)} registered now (pas agents register)"


def _models_with_files(settings: Settings) -> list[str]:
    from app.domain.local_models.catalogue import find_file, load_models

    return [n for n, m in load_models(settings.pas_models_config).items() if find_file(m, settings.models_dir)]


def _models_line(settings: Settings, with_files: list[str]) -> str:
    from app.domain.local_models.catalogue import load_models

    missing = [n for n in load_models(settings.pas_models_config) if n not in with_files]
    line = f"local models: {', '.join(with_files) or 'none'} (one worker each)"
    if missing:
        line += f"; no file in {settings.models_dir} for {', '.join(missing)} (pas models add PATH --as NAME)"
    return line


def _create_tables(settings: Settings) -> None:
    from app.factory import create_app, create_tables

    create_tables(create_app(settings, serve_socketio=False, process="cli"))


@main.command()
def web() -> None:
    """gunicorn (gevent) bound to the main port and every legacy port."""
    settings = Settings()
    _refuse_open_bind(settings)
    _create_tables(settings)
    _exec(web_argv())


@main.command()
@click.option("--concurrency", default=4, show_default=True)
@click.option("--model", "model", default=None, help="Host this local model (config/models.json) instead.")
@click.option("--adapters", is_flag=True, help="The vendor adapters' worker instead (gevent pool, queue adapters).")
def worker(concurrency: int, model: str | None, adapters: bool) -> None:
    """A Celery worker (prefork); run more on other hosts against the same Redis. With --model NAME: the worker
    that loads and serves that one local model (queue llm.<name>). With --adapters, the worker that makes the
    vendor adapters' calls (PAS_ADAPTER_CONCURRENCY greenlets) and registers the adapters."""
    if model is not None:
        from app.domain.local_models.catalogue import load_models

        if model not in load_models(Settings().pas_models_config):
            raise click.BadParameter(f"no model {model!r} in config/models.json", param_hint="--model")
        _exec(model_worker_argv(model))
    _exec(adapter_worker_argv() if adapters else worker_argv(Settings(), concurrency))


@main.group()
def models() -> None:
    """Local GGUF models: link files in, write a tiny test model."""


@models.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "name", default=None, help="The configured model to serve it as (default: the file's stem).")
def models_add(path: Path, name: str | None) -> None:
    """Link PATH into PAS_MODELS_DIR as NAME.gguf (NAME: a model in config/models.json)."""
    from app.domain.local_models.catalogue import load_models

    settings = Settings()
    configured = load_models(settings.pas_models_config)
    name = name or path.stem
    if name not in configured:
        raise click.BadParameter(f"{name!r} is not a model in config/models.json (one of: {', '.join(configured)})",
                                 param_hint="--as")  # fmt: skip
    target = settings.models_dir / f"{name}.gguf"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(path.resolve())
    click.echo(f"{target} -> {path.resolve()} (pas up starts its worker; /info reports what the file really is)")


@models.command("tiny")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def models_tiny(directory: Path) -> None:
    """Write pas-tiny.gguf into DIRECTORY: a small deterministic model for smoke tests. It generates NONSENSE
    (random weights); it proves loading, generation, streaming and classification work end to end."""
    from app.domain.local_models.tiny import write_tiny_gguf

    path = write_tiny_gguf(directory / "pas-tiny.gguf")
    click.echo(f"wrote {path} ({path.stat().st_size} bytes; it generates nonsense). "
               f"Next: pas models add {path} --as llm_tinyllama_1b")  # fmt: skip


@main.command()
def beat() -> None:
    """Celery beat with the RedBeat lock: a second one waits instead of double-running sweeps."""
    _exec(beat_argv())


@main.command()
def flower() -> None:
    """Flower for the Celery workers: 127.0.0.1 only, unless PAS_FLOWER_ADDRESS and PAS_FLOWER_BASIC_AUTH."""
    argv, env = flower_command(Settings())
    os.environ.update(env)
    _exec(argv)


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


@main.group()
def agents() -> None:
    """The agent catalogue (agents/): rendered into Claude Code, registered in PAS."""


CATALOGUE_OPTION = click.option(
    "--catalogue", "catalogue_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="The catalogue folder (default: this PAS's agents/).",
)  # fmt: skip
URL_OPTION = click.option("--url", default=None, help="PAS's base URL (default: PAS_HOST, PAS_PORT + PAS_PORT_OFFSET).")


def _catalogue(directory: Path | None) -> Catalogue:
    from app.domain.agents.catalogue import SHIPPED_COUNTS, CatalogueError, load_catalogue

    try:  # another folder is the user's own catalogue: the tree rules hold, the shipped 7/16/19 need not
        return load_catalogue(directory, counts=SHIPPED_COUNTS if directory is None else None)
    except CatalogueError as exc:
        raise click.ClickException(exc.detail) from None


@agents.command("install")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The Claude Code project to install into (its .claude/).")  # fmt: skip
@click.option("--check", is_flag=True, help="Write nothing; fail if .claude/ differs from the catalogue.")
@CATALOGUE_OPTION
@URL_OPTION
def agents_install(directory: Path, check: bool, catalogue_dir: Path | None, url: str | None) -> None:
    """Write .claude/agents/<name>.md and merge PAS's hooks into .claude/settings.json (idempotent)."""
    from app.domain.agents import claude_code
    from app.domain.agents.catalogue import CatalogueError

    catalogue = _catalogue(catalogue_dir)
    hook_url = claude_code.hook_url(url or claude_code.base_url(Settings()))
    try:
        if check:
            drift = claude_code.check(catalogue, directory, hook_url)
            if drift:
                click.echo("\n".join(["stale .claude/ (run `pas agents install`):", *drift]), err=True)
                sys.exit(1)
            click.echo(f".claude/ up to date ({len(catalogue)} agents, hooks to {hook_url})")
            return
        changed = claude_code.install(catalogue, directory, hook_url)
    except CatalogueError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"{len(catalogue)} agents, hooks to {hook_url}: {len(changed)} file(s) written or removed")


@agents.command("register")
@CATALOGUE_OPTION
@URL_OPTION
def agents_register(catalogue_dir: Path | None, url: str | None) -> None:
    """Register every agent as `agent-<name>` (type agent, upsert): safe to re-run, restores a partial set.

    With REDIS_URL set, straight into the store; otherwise through the running PAS's registry API."""
    from app.domain.agents.claude_code import base_url
    from app.domain.agents.registration import register_catalogue

    settings = Settings()
    catalogue = _catalogue(catalogue_dir)
    base = url or base_url(settings)
    if settings.redis_url:
        from app.factory import create_app
        from app.wiring import services

        with create_app(settings, serve_socketio=False, process="cli").app_context():
            done = register_catalogue(catalogue, services().registry.register, base)
    else:
        from app.providers.pas_registry import RegistryClient, RegistryUnreachable

        token = settings.pas_api_token.get_secret_value() if settings.pas_api_token else None
        client = RegistryClient(base, token)
        try:
            done = register_catalogue(catalogue, client.register, base)
        except RegistryUnreachable as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            client.close()
    created = sum(r.created for r in done)
    click.echo(f"{len(done)} agents registered ({created} new, {len(done) - created} updated)")


if __name__ == "__main__":
    main()

"""The one settings object: every environment variable PAS reads is a field here, named after it."""

from __future__ import annotations

import ipaddress
import os
import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.provider_router import KEY_ENV_PATTERN

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Unset → `pas up` starts an embedded Valkey and sets this for its children.
    redis_url: str | None = None
    # Unset → SQLite under artifacts/.
    database_url: str | None = None

    pas_root: Path = ROOT
    pas_artifacts_dir: Path | None = None  # default: <pas_root>/artifacts
    pas_host: str = "127.0.0.1"
    pas_port: int = 6100
    pas_legacy_ports: bool = True  # bind 6121, 6109, … beside the main port
    # Added to every port PAS binds (main and legacy), so a test run can live beside a running PAS.
    pas_port_offset: int = Field(default=0, ge=0, le=50000)
    pas_async_mode: Literal["gevent", "threading", "eventlet"] = "gevent"
    pas_web_workers: int = Field(default=1, ge=1, le=16)
    pas_key_prefix: str = Field(default="pas", pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    pas_api_token: SecretStr | None = None  # never printed
    pas_log_level: str = "INFO"
    pas_max_body_bytes: int = Field(default=1 << 20, ge=1024)  # every body, chunked or not
    # How long a request body may take to arrive, whole: a client that stalls or trickles gets a 408 and is cut off.
    pas_body_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # How long a request's line and headers may take, whole (from the connection's opening, or the previous
    # answer): a head begun and unfinished gets a 408; an idle keep-alive connection is closed then.
    pas_header_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # Per web worker: connections open at once on each port (gunicorn's worker_connections), and how many one client
    # address may hold, all ports together (over that: 429, closed; 0 = no cap; behind a proxy every client has the
    # proxy's address). Only the gevent worker (app/gunicorn_worker.py) caps per address.
    pas_web_connections: int = Field(default=2000, ge=10, le=100_000)
    pas_web_connections_per_ip: int = Field(default=256, ge=0, le=100_000)
    # Per process: connections to Redis in the pool, and how long a request waits for a free one before 503.
    pas_redis_max_connections: int = Field(default=100, ge=2, le=10_000)
    pas_redis_pool_timeout_s: float = Field(default=5.0, gt=0, le=60)

    # Heartbeat monitor
    pas_sweep_interval_s: float = Field(default=1.0, gt=0, le=60)
    pas_sweep_batch: int = Field(default=1000, ge=1)
    # Deregistration is held while more than half of at least this many services are silent at once.
    pas_self_preservation_min_services: int = Field(default=4, ge=1)
    pas_self_preservation_cap_s: float = Field(default=10.0, ge=0)
    # A gap in the sweeps longer than this (Valkey restarted, no worker ran them) is PAS's outage: every
    # service's ladder starts again (a grace), instead of its beats deregistering it.
    pas_monitor_blind_s: float = Field(default=2.5, gt=0, le=3600)
    pas_alert_jsonl: bool = True

    # Resource manager: capacity ("auto" = detected), port range, per-role limits
    pas_resources_config: Path = ROOT / "config" / "resources.json"

    # Token governor
    pas_token_target_ratio: float = Field(default=0.50, ge=0, le=1)
    pas_token_hard_max_ratio: float = Field(default=0.75, ge=0, le=1)
    pas_auto_summarize: bool = True
    pas_message_window: int = Field(default=200, ge=1, le=10_000)
    pas_docs_dir: Path | None = None  # default: <pas_root>/docs/runs
    pas_transcript_root: Path | None = None  # unset: /track may not name a transcript file
    pas_summarize_wait_s: float = Field(default=30.0, gt=0, le=600)
    # A loaded local model with the `summarize` capability writes the summaries; past this, extractive.
    pas_summary_model_timeout_s: float = Field(default=60.0, gt=0, le=3600)

    # Agent router: Claude Code's hooks (POST /api/agent-router/hooks/claude-code). Transcript paths a hook names
    # are read only under PAS_TRANSCRIPT_ROOT (above); unset = never.
    pas_hook_grace_s: float = Field(default=30.0, ge=0, le=86400)  # after Stop/SessionEnd, leftover runs finish
    pas_hook_idle_s: float = Field(default=3600.0, gt=0, le=7 * 86400)  # a silent session is closed
    pas_hook_ctx_limit: int = Field(default=200_000, gt=0, le=2**53 - 1)  # context window of an unknown model
    pas_hook_sweep_interval_s: float = Field(default=1.0, gt=0, le=60)
    pas_hook_timeline_maxlen: int = Field(default=20_000, ge=100, le=1_000_000)  # hook events the HMI reads back

    # Local models (config/models.json): GGUF files are looked up in PAS_MODELS_DIR (default artifacts/models/).
    pas_models_config: Path = ROOT / "config" / "models.json"
    pas_models_dir: Path | None = None
    pas_model_first_token_timeout_s: float = Field(default=120.0, gt=0, le=3600)  # queue wait + prompt eval
    pas_model_idle_timeout_s: float = Field(default=60.0, gt=0, le=3600)  # between two tokens

    # Provider router and gateway
    pas_providers_matrix: Path = ROOT / "config" / "providers.matrix.json"
    pas_anthropic_aliases: Path = ROOT / "config" / "anthropic_aliases.json"  # Anthropic-surface model names
    # Hosts (host or host:port, comma-separated) PAS may send model calls to, besides its own loopback ports.
    pas_upstream_allowlist: str = ""
    pas_router_refresh_s: float = Field(default=0.5, gt=0, le=60)
    pas_gateway_timeout_s: float = Field(default=60.0, gt=0, le=600)
    pas_gateway_retries: int = Field(default=1, ge=0, le=5)
    pas_gateway_max_providers: int = Field(default=3, ge=1, le=10)
    pas_gateway_backoff_s: float = Field(default=0.05, ge=0, le=10)
    pas_gateway_trip_after: int = Field(default=3, ge=1, le=100)
    pas_gateway_cooldown_s: float = Field(default=30.0, ge=0.1, le=3600)
    pas_gateway_interrupted_grace_s: float = Field(default=30.0, ge=1, le=3600)

    # Vendor adapters (8100-8103): the pricing table, keys and base URLs (config/adapters.json names which
    # variable each adapter reads; these are the shipped names). Keys are never printed.
    pas_adapters_config: Path = ROOT / "config" / "adapters.json"
    openai_api_key: SecretStr | None = None
    anthropic_api_key: SecretStr | None = None
    gemini_api_key: SecretStr | None = None
    grok_api_key: SecretStr | None = None
    xai_api_key: SecretStr | None = None  # Grok's key under xAI's own name
    openai_base_url: str | None = None
    anthropic_base_url: str | None = None
    gemini_base_url: str | None = None
    grok_base_url: str | None = None
    pas_adapter_timeout_s: float = Field(default=60.0, gt=0, le=600)  # one vendor call, first byte to last
    pas_adapter_concurrency: int = Field(default=100, ge=1, le=10_000)  # gevent greenlets per adapter worker
    # Consecutive vendor failures (5xx, timeouts, unreachable) that put an adapter in cooldown (degraded), and
    # for how long; after an auth failure it stays degraded this long before it tries the key again.
    pas_adapter_trip_after: int = Field(default=3, ge=1, le=100)
    pas_adapter_cooldown_s: float = Field(default=30.0, ge=0.1, le=3600)
    pas_adapter_auth_retry_s: float = Field(default=300.0, ge=1, le=86400)

    # Events
    pas_events_maxlen: int = Field(default=100_000, ge=100)
    # The durable copy: every event, one JSONL file per UTC day under artifacts/hmi/events/ (0 days = no archive).
    pas_events_retention_days: int = Field(default=30, ge=0, le=3650)

    # Celery
    pas_celery_visibility_timeout_s: int = Field(default=3600, ge=10)
    pas_beat_lock_timeout_s: int = Field(default=10, ge=2)

    # Flower: loopback only unless the operator binds it wider, and then only behind basic auth
    # ("user:password", comma-separated for several; handed to Flower in its environment, never its argv).
    pas_flower_port: int = 5555
    pas_flower_address: str = "127.0.0.1"
    pas_flower_basic_auth: SecretStr | None = None

    # Test hook, off (0) by default: shifts this process's wall clock (time.time, time.time_ns) by this many
    # seconds, as on a host whose clock is off (app/clock_skew.py). RELIABILITY L7 runs two web processes at
    # ±30 s to prove that no liveness or lease decision reads a process clock. Never set it in production.
    pas_test_clock_offset_s: float = Field(default=0.0, ge=-86400, le=86400)

    def open_bind_refusal(self) -> str | None:
        """Why the web must not start: no PAS_API_TOKEN on an address other hosts can reach (RELIABILITY A3, the
        documented choice: a refusal, as for Flower without a password; docker-compose requires the token)."""
        if self.pas_api_token is not None or loopback(self.pas_host):
            return None
        return (
            f"PAS_API_TOKEN is unset and PAS_HOST={self.pas_host or '(every interface)'} is not loopback: every "
            "endpoint would be open to anyone who can reach this host. Set PAS_API_TOKEN, or PAS_HOST=127.0.0.1"
        )

    def bind_ports(self) -> list[int]:
        from config.ports import SERVICES

        legacy = [s.port for s in SERVICES] if self.pas_legacy_ports else []
        return [p + self.pas_port_offset for p in [self.pas_port, *legacy]]

    @property
    def system_queue(self) -> str:  # sweeps and reconciles: never paused
        return f"{self.pas_key_prefix}.default"

    def model_queue(self, name: str) -> str:  # the one worker that hosts the local model `name`
        return f"{self.pas_key_prefix}.llm.{name}"

    @property
    def models_dir(self) -> Path:
        return self.pas_models_dir or self.artifacts_dir / "models"

    @property
    def work_queue(self) -> str:  # jobs and summaries: what Pause All stops
        return f"{self.pas_key_prefix}.jobs"

    @property
    def worker_queues(self) -> str:
        return f"{self.system_queue},{self.work_queue}"

    def provider_key(self, env_name: str) -> str | None:
        """A provider's API key from the environment or .env, by the name its registration gave (only key-like
        names)."""
        if not re.fullmatch(KEY_ENV_PATTERN, env_name):
            return None
        return self.env_value(env_name)

    def secret_values(self) -> list[str]:
        """Every secret this process may hold: the SecretStr settings (PAS_API_TOKEN, the adapters' keys, Flower's
        password) and every provider key variable (KEY_ENV_PATTERN) in the environment or .env."""
        found = [v.get_secret_value() for v in vars(self).values() if isinstance(v, SecretStr)]
        names = {*os.environ, *_dotenv(Path(".env"))}
        found += [v for n in names if re.fullmatch(KEY_ENV_PATTERN, n) and (v := self.env_value(n))]
        return [s for s in found if s]

    def env_value(self, env_name: str) -> str | None:
        """A variable by its name: a field's value when Settings declares it (environment, then .env), else the
        environment, else .env. Names come from PAS's own config (config/adapters.json), never from a request."""
        field = env_name.lower()
        if field in type(self).model_fields:
            value = getattr(self, field)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            return str(value) if value else None
        return os.environ.get(env_name) or _dotenv(Path(".env")).get(env_name) or None

    @property
    def upstream_allowlist(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.pas_upstream_allowlist.split(",") if h.strip())

    @property
    def costs_dir(self) -> Path:
        return self.artifacts_dir / "costs"

    @property
    def docs_dir(self) -> Path:
        return self.pas_docs_dir or self.pas_root / "docs" / "runs"

    @property
    def artifacts_dir(self) -> Path:
        return self.pas_artifacts_dir or self.pas_root / "artifacts"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the driver we ship; plain postgresql:// would ask SQLAlchemy for psycopg2.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            elif url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgres://")
            return url
        return f"sqlite:///{self.artifacts_dir / 'pas.db'}"

    @property
    def effective_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set: start PAS with `pas up`, which starts an embedded Valkey")
        return self.redis_url


def _dotenv(path: Path) -> dict[str, str]:
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _dotenv_at(path.resolve(), stat.st_mtime_ns)


@cache
def _dotenv_at(path: Path, _mtime_ns: int) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # "" (every interface), 0.0.0.0 and any other name


@cache
def get_settings() -> Settings:
    """Entry points only; everything else is handed a Settings."""
    return Settings()

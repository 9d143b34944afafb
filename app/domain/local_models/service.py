"""Local models as PAS services: what the web side answers (/health, /info, calls that become tasks on the
model's queue), what the model worker does around its engine (load, register, heartbeat, reserve, unload), and
what beat does for a model whose file is missing (registered `degraded`, saying where to put the file)."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.domain.errors import ModelUnavailable, NotFound
from app.domain.llm_calls.channel import CallStream
from app.domain.llm_calls.client import ModelCalls
from app.domain.local_models.catalogue import file_facts, find_file, gpu_share, missing_reason
from app.domain.local_models.host import ModelHost, load_label_sets
from app.domain.resource_manager.capacity import detect
from contracts.models import LocalModelFacts, LocalModelInfo, ModelConfig, ModelHealth, Performance
from contracts.registry import CostHint, HeartbeatRequest, HeartbeatResponse, RegisterRequest, RegisterResponse
from contracts.resource_manager import ReleaseRequest, ResourceRequest

log = logging.getLogger("pas.models")
VERSION = "0.1.0"
CALL_TASK = "pas.models.call"
ENDPOINTS = {"chat": ["/chat/completions", "/generate"],
             "classifier": ["/chat/completions", "/generate", "/classify_domain", "/extract_tmd"]}  # fmt: skip


@dataclass(frozen=True)
class LocalModelsConfig:
    models_dir: Path
    labels_path: Path
    host: str
    port_offset: int
    queue: Callable[[str], str]  # model name -> its Celery queue
    report_interval_s: float = 5.0  # beat's report of the models whose file is missing (config/celery.py)


class HostStore(Protocol):  # what the service needs of models/llm_call_store.py
    def publish_host(self, name: str, facts: dict[str, Any], ttl_ms: int) -> None: ...
    def drop_host(self, name: str) -> None: ...
    def host(self, name: str) -> dict[str, Any] | None: ...


class LocalModels:
    def __init__(
        self,
        models: dict[str, ModelConfig],
        cfg: LocalModelsConfig,
        store: HostStore,
        calls: ModelCalls,
        register: Callable[[RegisterRequest], RegisterResponse],
        heartbeat: Callable[[HeartbeatRequest], HeartbeatResponse],
        reserve: Callable[[ResourceRequest], Any],
        release: Callable[[ReleaseRequest], Any],
        registered_interval: Callable[[str], int | None],  # a record's heartbeat interval; None: not registered
    ) -> None:
        self.models = models
        self._cfg = cfg
        self._store = store
        self._calls = calls
        self._register = register
        self._heartbeat = heartbeat
        self._reserve = reserve
        self._release = release
        self._registered_interval = registered_interval
        self._started = time.time()

    def model(self, name: str) -> ModelConfig:
        try:
            return self.models[name]
        except KeyError:
            raise NotFound(f"no local model named {name!r} in config/models.json", field="model") from None

    # --- web side --------------------------------------------------------------------------------------------

    def health(self, name: str, port: int) -> ModelHealth:
        m = self.model(name)
        facts = self._store.host(name)
        reason = None
        if facts is None:
            found = find_file(m, self._cfg.models_dir)
            reason = missing_reason(m, self._cfg.models_dir) if found is None else (
                f"no model worker is running for {name} (pas up starts one; elsewhere: pas worker --model {name})"
            )  # fmt: skip
        last = facts.get("last_request_at") if facts else None
        return ModelHealth(
            status="healthy" if facts is not None else "degraded",
            service=name,
            port=port,
            model=m.model,
            model_loaded=facts is not None,
            uptime_seconds=round(time.time() - (facts["loaded_at"] if facts else self._started), 3),
            last_request_ms=round((time.time() - last) * 1000, 1) if isinstance(last, int | float) else None,
            reason=reason,
        )

    def info(self, name: str, prefix: str) -> LocalModelInfo:
        m = self.model(name)
        facts = self._store.host(name) or {}
        return LocalModelInfo(
            service_name=name,
            version=VERSION,
            model=_file_facts(m, facts),
            capabilities=m.capabilities,
            performance=Performance.model_validate(facts.get("performance") or {}),
            endpoints=[prefix + p for p in ["/health", "/info", *ENDPOINTS[m.kind]]],
        )

    def loaded(self, name: str) -> LocalModelFacts | None:
        """What the loaded file is, or None while no model worker hosts `name`."""
        m = self.model(name)
        facts = self._store.host(name)
        return None if facts is None else _file_facts(m, facts)

    def start(self, name: str, op: str, body: dict[str, Any]) -> CallStream:
        m = self.model(name)
        if op in ("classify_domain", "extract_tmd") and m.kind != "classifier":
            raise NotFound(f"{name} is not a classifier", field="path")
        if self._store.host(name) is None:
            raise ModelUnavailable(self.health(name, m.port).reason or "model not loaded", field="model")
        return self._calls.start(self._cfg.queue(name), CALL_TASK, {"op": op, "body": body})

    # --- model worker side -----------------------------------------------------------------------------------

    def load(self, name: str) -> ModelHost:
        """Registered first (a call routed meanwhile waits in the queue until the load is done), then its memory
        reserved (this host's earlier reservation, from a worker that died, released), then loaded."""
        from app.providers.llama_engine import LlamaEngine

        m = self.model(name)
        path = find_file(m, self._cfg.models_dir)
        if path is None:
            raise SystemExit(missing_reason(m, self._cfg.models_dir))
        self._register_model(m, {"file": path.name})
        job_id = f"model-{name}@{socket.gethostname()}"
        with contextlib.suppress(NotFound):
            self._release(ReleaseRequest(job_id=job_id))
        host_gpu = detect(self._cfg.models_dir)
        gpus, gpu_mem = gpu_share(m, path.stat().st_size, host_gpu["gpu"], host_gpu["gpu_mem_mb"])
        grant = self._reserve(ResourceRequest(job_id=job_id, agent=name, mem_mb=m.memory_mb, gpu=gpus,
                                              gpu_mem_mb=gpu_mem, service_id=name, role="model"))  # fmt: skip
        if getattr(grant, "status", None) != "granted":
            reason = f"the resource manager refused its memory ({m.memory_mb} MB): {getattr(grant, 'detail', '')}"
            self._heartbeat(HeartbeatRequest(service_id=name, status="degraded", message=reason))
            raise SystemExit(f"{name}: {reason}")
        started = time.perf_counter()
        engine = LlamaEngine(path, m)
        facts = file_facts(path, engine.metadata, engine.n_params, engine.n_vocab)
        labels = load_label_sets(self._cfg.labels_path) if m.kind == "classifier" else None
        host = ModelHost(m, engine, facts, labels, job_id)
        log.info("model_loaded", extra={"model": name, "file": path.name, "file_model": facts.name,
                                        "ms": round((time.perf_counter() - started) * 1000, 1)})  # fmt: skip
        self._publish(host)
        self._heartbeat(HeartbeatRequest(service_id=name, status="ok", message=None))
        return host

    def _register_model(self, m: ModelConfig, labels: dict[str, Any], interval_s: int | None = None) -> None:
        interval_s = interval_s or m.heartbeat_interval_s
        self._register(RegisterRequest(
            service_id=m.name, name=m.name, type="model", role="production",
            url=f"http://{self._cfg.host}:{m.port + self._cfg.port_offset}",
            caps=m.capabilities,
            labels={"provider": "local", "model": m.model, "kind": m.kind, "context_window": m.context_length,
                    **labels},
            ctx_limit=m.context_length, cost_hint=CostHint(usd_per_1k=m.price_per_token * 1000),
            heartbeat_interval_s=interval_s, ttl_s=max(90, 10 * interval_s),
        ))  # fmt: skip

    def _register_host(self, host: ModelHost) -> None:
        self._register_model(host.cfg, {"file": Path(host.file.path).name, "file_model": host.file.name,
                                        "host": host.host})  # fmt: skip
        self._publish(host)

    def _publish(self, host: ModelHost) -> None:
        self._store.publish_host(host.cfg.name, host.facts(), ttl_ms=int(host.cfg.heartbeat_interval_s * 3000))

    def heartbeat_loop(self, host: ModelHost, stop: threading.Event) -> None:
        interval = host.cfg.heartbeat_interval_s
        while not stop.wait(interval):
            try:
                self._publish(host)
                self._heartbeat(HeartbeatRequest(service_id=host.cfg.name, status="ok"))
            except NotFound:  # deregistered meanwhile (an operator, or its TTL): register again
                self._register_host(host)
            except Exception:
                log.exception("model_heartbeat_failed", extra={"model": host.cfg.name})

    def unload(self, host: ModelHost) -> None:
        self._store.drop_host(host.cfg.name)
        try:
            self._release(ReleaseRequest(job_id=host.job_id))
        except Exception:
            log.exception("model_release_failed", extra={"model": host.cfg.name})
        log.info("model_unloaded", extra={"model": host.cfg.name})

    # --- beat ------------------------------------------------------------------------------------------------

    def report_missing(self) -> int:
        n = 0
        for m in self.models.values():
            if self._store.host(m.name) is not None or find_file(m, self._cfg.models_dir) is not None:
                continue
            reason = missing_reason(m, self._cfg.models_dir)
            # Only this report beats a missing model's record: its interval must span two reports, or the record
            # goes down and comes back at every report (an alert storm). A record its worker left (2 s) too.
            interval = max(m.heartbeat_interval_s, math.ceil(2 * self._cfg.report_interval_s))
            current = self._registered_interval(m.name)
            if current is None or current < interval:
                self._register_model(m, {"missing": m.file}, interval)
            try:
                self._heartbeat(HeartbeatRequest(service_id=m.name, status="degraded", message=reason))
            except NotFound:
                continue
            n += 1
        return n


def _file_facts(m: ModelConfig, facts: dict[str, Any]) -> LocalModelFacts:
    """What the loaded file really is (its own name and size), whatever it was linked in as."""
    f = facts.get("file") or {}
    params = f.get("parameters")
    return LocalModelFacts(
        name=f.get("name") or m.model,
        parameters=_params(params) if params else m.parameters,
        quantization=f.get("quantization") or m.quantization,
        context_length=f.get("context_length") or m.context_length,
        file=f.get("path"),
        architecture=f.get("architecture"),
        vocab_size=f.get("vocab_size"),
        file_bytes=f.get("file_bytes"),
    )


def _params(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)

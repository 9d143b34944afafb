"""The deployed topology, as docker-compose.yml runs it, for tests/system/test_topology.py: two web processes
(gunicorn + gevent, the production web) and two Celery workers plus two beats on one Valkey, one key prefix, with
tests/invariants.py recording the registry and the resource manager every 100 ms and a python-socketio client on
each web. The two webs' clocks are off by +30 s and -30 s (PAS_TEST_CLOCK_OFFSET_S) the whole time.

The Valkey is this stack's own embedded one (not the run's `redis_url`): S4 restarts it, and the topology, not
the store, is under test here; so is the SQLite file."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import socketio

from app.valkey import EmbeddedValkey
from tests.invariants import Recorder
from tests.support import (
    BIN,
    Proc,
    base_env,
    port_offset_with_free_ports,
    start_web,
    unique_prefix,
    wait_http,
    wait_until,
)
from tests.upstream import Step, Upstream, start_upstream

SKEW_S = {"a": 30.0, "b": -30.0}
SWEEP = "Scheduler: Sending due task heartbeat-monitor-sweep"


@dataclass
class Live:
    """A python-socketio client on one web process; every event it receives, with the wall time it arrived."""

    name: str
    client: socketio.Client
    got: list[tuple[float, dict[str, Any]]] = field(default_factory=list)

    def of(self, event_type: str, **data: Any) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in list(self.got) if e["event_type"] == event_type
                and all(e["data"].get(k) == v for k, v in data.items())]  # fmt: skip


@dataclass
class Topology:
    valkey: EmbeddedValkey
    redis: redis.Redis
    prefix: str
    artifacts: Path
    offsets: dict[str, int]
    webs: dict[str, Proc]
    workers: list[Proc]
    beats: list[Proc]
    upstream: Upstream
    recorder: Recorder
    live: dict[str, Live]
    ready_at: float = 0.0
    sweeps_at_ready: int = 0

    def url(self, web: str, path: str) -> str:
        return f"http://127.0.0.1:{6100 + self.offsets[web]}{path}"

    def channel_subscribers(self) -> int:
        return int(dict(self.redis.pubsub_numsub(f"{self.prefix}:socketio"))[f"{self.prefix}:socketio"])

    def sweeps_sent(self) -> int:
        return sum(b.output().count(SWEEP) for b in self.beats)


def connect(name: str, url: str, transport: str, recorder: Recorder) -> Live:
    client = socketio.Client(reconnection=False)
    live = Live(name, client)

    def on_event(envelope: dict[str, Any]) -> None:
        live.got.append((time.time(), envelope))
        recorder.delivered(name, int(envelope["seq"]))

    client.on("event", on_event)
    client.connect(url, transports=[transport], wait_timeout=10)
    return live


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    tmp = tmp_path_factory.mktemp("topology")
    valkey = EmbeddedValkey(tmp / "valkey").start()
    up = start_upstream()
    up.reset(default=Step(delay_s=0.05))
    offsets = {"a": port_offset_with_free_ports()}
    while abs((b := port_offset_with_free_ports()) - offsets["a"]) in (0, 2000):  # 2000: B's 6100 is A's 8100
        pass
    offsets["b"] = b
    prefix, artifacts, logs = unique_prefix("topo"), tmp / "artifacts", tmp / "logs"
    env = base_env(
        REDIS_URL=valkey.url, DATABASE_URL=f"sqlite:///{tmp / 'pas.db'}", PAS_KEY_PREFIX=prefix,
        PAS_ARTIFACTS_DIR=str(artifacts), PAS_LOG_LEVEL="INFO", PAS_SWEEP_INTERVAL_S="1",
        PAS_CELERY_VISIBILITY_TIMEOUT_S="10", PAS_GATEWAY_TIMEOUT_S="2", PAS_GATEWAY_INTERRUPTED_GRACE_S="1",
        PAS_UPSTREAM_ALLOWLIST=f"127.0.0.1:{up.port}", PAS_PORT_OFFSET=str(offsets["a"]),
    )  # fmt: skip
    procs: list[Proc] = []
    webs: dict[str, Proc] = {}
    live: dict[str, Live] = {}
    base = f"http://127.0.0.1:{6100 + offsets['a']}"
    recorder = Recorder(base)
    try:
        for name in ("a", "b"):
            web_env = {**env, "PAS_PORT_OFFSET": str(offsets[name]), "PAS_TEST_CLOCK_OFFSET_S": str(SKEW_S[name])}
            webs[name] = start_web(f"web-{name}", web_env, logs)
            procs.append(webs[name])
        # docker-compose's `pas worker --concurrency N` and `pas beat`, twice each
        workers = [Proc(f"worker-{i}", [str(BIN / "pas"), "worker", "--concurrency", "2"], env, logs) for i in (1, 2)]
        beats = [Proc(f"beat-{i}", [str(BIN / "pas"), "beat"], env, logs) for i in (1, 2)]
        procs += workers + beats
        client = redis.Redis.from_url(valkey.url, decode_responses=True)
        for name in webs:
            wait_http(f"http://127.0.0.1:{6100 + offsets[name]}/health", 60)
        wait_until(lambda: client.get(f"{prefix}:heartbeat_monitor:last_sweep"), 60, 0.2, "the first sweep")
        # cpu capacity 2: the jobs below (cpu 1 each) compete for it while the recorder watches `allocated`
        cpu = {"resource_type": "cpu", "new_capacity": 2}
        r = requests.post(f"{base}/api/resource-manager/quotas/update", json=cpu, timeout=10)
        assert r.ok, r.text
        provider = {"name": "topo-mock", "model": "m", "context_window": 1000, "cost_per_input_token": 1e-6,
                    "cost_per_output_token": 1e-6, "endpoint": up.base_url}  # fmt: skip
        assert requests.post(f"{base}/api/provider-router/register", json=provider, timeout=10).ok
        recorder.start()
        live["a"] = connect("a", base, "websocket", recorder)
        live["b"] = connect("b", f"http://127.0.0.1:{6100 + offsets['b']}", "polling", recorder)
        topo = Topology(valkey, client, prefix, artifacts, offsets, webs, workers, beats, up, recorder, live)
        topo.ready_at, topo.sweeps_at_ready = time.monotonic(), topo.sweeps_sent()
        yield topo
    finally:
        for proc in procs:
            if not proc.alive() and proc.p.returncode not in (0, -9, -15):
                print(f"--- {proc.name} exited {proc.p.returncode}:\n{proc.output()[-3000:]}")
        recorder.halt()
        for lv in live.values():
            lv.client.disconnect()
        for proc in reversed(procs):
            proc.stop()
        up.server.shutdown()
        valkey.stop()


def broadcast(stack: Topology, web: str, nonce: str) -> None:
    r = requests.post(stack.url(web, "/api/event-stream/broadcast"), timeout=10,
                      json={"event_type": "topology_ping", "data": {"nonce": nonce}})  # fmt: skip
    assert r.status_code == 200, r.text


def reaches_both(stack: Topology, web: str, timeout: float = 5.0) -> None:
    nonce = uuid.uuid4().hex
    broadcast(stack, web, nonce)
    for lv in stack.live.values():
        wait_until(lambda lv=lv: lv.of("topology_ping", nonce=nonce), timeout, 0.02, f"{web}'s event on {lv.name}")

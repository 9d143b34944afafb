"""The invariant checker (RELIABILITY's catalogue): a recorder samples the registry and the resource manager every
~100 ms over real HTTP while a test (or a soak bench) runs, the test notes what its clients saw (each heartbeat
with its send and answer times, each gateway call answered 2xx, each live event received), and the event stream
and the receipts are read at the end. The checks are plain functions of that recorded history, each returning
the violations it found (empty = the invariant held):

- `over_allocations`: no resource is ever allocated past its capacity, nor below 0 (Q1, Q4);
- `restores_without_heartbeat`: a service never goes from `down` back to up with no heartbeat between (L3);
- `repeated_transitions`: every liveness transition and every job state change is emitted exactly once (L4);
- `receipt_problems`: every 2xx gateway call has exactly one receipt, and no receipt is written twice (G1);
- `duplicate_deliveries`: no live client received one event twice (at most once, S1).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

TERMINAL_JOB_EVENTS = {"job_completed": "succeeded", "job_failed": "failed", "job_killed": None}


@dataclass(frozen=True)
class Sample:
    """One read of the store, bracketed by when it was sent and when its answers came (time.monotonic)."""

    sent: float
    answered: float
    statuses: Mapping[str, str]  # service_id -> status
    quotas: Mapping[str, tuple[float, float]]  # resource -> (allocated, capacity)


@dataclass(frozen=True)
class Beat:
    """A heartbeat (or a registration, which counts as one) a client sent, and whether PAS took it (2xx)."""

    service_id: str
    sent: float
    answered: float
    ok: bool


@dataclass
class History:
    samples: list[Sample] = field(default_factory=list)
    beats: list[Beat] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # the event stream's envelopes, by seq
    gateway_ok: list[str] = field(default_factory=list)  # request ids of the calls answered 2xx
    receipts: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)  # final job records
    deliveries: dict[str, list[int]] = field(default_factory=dict)  # live client -> seqs in arrival order


# --- the checks -----------------------------------------------------------------------------------------------


def over_allocations(samples: Iterable[Sample]) -> list[str]:
    return [
        f"{name}: allocated {used} of {cap} at t={s.sent:.2f}"
        for s in samples
        for name, (used, cap) in s.quotas.items()
        if used > cap or used < 0
    ]


def restores_without_heartbeat(samples: Sequence[Sample], beats: Sequence[Beat]) -> list[str]:
    """Between a sample that saw a service down and a later one that saw it up, PAS must have taken a heartbeat
    of it: one sent before the later read was answered and answered after the earlier read was sent. Only the
    services whose beats were recorded are judged (PAS beats some of its own, unseen by the recorder)."""
    by_service: dict[str, list[Beat]] = defaultdict(list)
    for b in beats:
        if b.ok:
            by_service[b.service_id].append(b)
    watched = {b.service_id for b in beats}
    last_down: dict[str, Sample] = {}
    found = []
    for s in sorted(samples, key=lambda x: x.sent):
        for sid, status in s.statuses.items():
            if sid not in watched:
                continue
            if status == "down":
                last_down[sid] = s
            elif sid in last_down:
                down = last_down.pop(sid)
                if not any(b.sent < s.answered and b.answered > down.sent for b in by_service[sid]):
                    found.append(f"{sid}: down at t={down.sent:.2f}, {status} at t={s.sent:.2f}, no heartbeat between")
    return found


def repeated_transitions(events: Sequence[Mapping[str, Any]], samples: Sequence[Sample] = ()) -> list[str]:
    """Each liveness step (service, alert type, the heartbeat it counts from) and each job state change appears
    once in the stream, seqs are unique and increasing, and every `down` the samples saw has its event."""
    found = []
    seqs = [int(e["seq"]) for e in events]
    if seqs != sorted(set(seqs)):
        found.append("event seqs are not unique and increasing")
    steps: Counter[tuple[Any, ...]] = Counter()
    downs: Counter[str] = Counter()
    for e in events:
        d = e.get("data") or {}
        if e["event_type"] == "alert" and e["source"] == "heartbeat_monitor" and d.get("service_id"):
            steps[("liveness", d["service_id"], d.get("alert_type"), d.get("last_seen"))] += 1
            downs[d["service_id"]] += d.get("alert_type") == "service_down"
        elif e["event_type"] == "job_started":
            steps[("job_started", d.get("job_id"), d.get("attempt"))] += 1
        elif e["event_type"] in TERMINAL_JOB_EVENTS:
            steps[("job_finished", d.get("job_id"))] += 1
    found += [f"{key} emitted {n} times" for key, n in steps.items() if n > 1]
    for sid, episodes in down_episodes(samples).items():
        if episodes > downs[sid]:
            found.append(f"{sid}: seen down {episodes} times, {downs[sid]} service_down events")
    return found


def down_episodes(samples: Sequence[Sample]) -> Counter[str]:
    """How many separate times each service was seen going down (sampling can miss one, never invent one)."""
    episodes: Counter[str] = Counter()
    was_down: dict[str, bool] = {}
    for s in sorted(samples, key=lambda x: x.sent):
        for sid, status in s.statuses.items():
            down = status == "down"
            if down and not was_down.get(sid, False):
                episodes[sid] += 1
            was_down[sid] = down
    return episodes


def job_problems(events: Sequence[Mapping[str, Any]], jobs: Iterable[Mapping[str, Any]]) -> list[str]:
    """A finished job has exactly one terminal event, matching its final status; an unfinished one has none."""
    terminal: dict[str, list[str]] = defaultdict(list)
    for e in events:
        if e["event_type"] in TERMINAL_JOB_EVENTS:
            terminal[str((e.get("data") or {}).get("job_id"))].append(e["event_type"])
    found = []
    for job in jobs:
        kinds = terminal.get(job["job_id"], [])
        if job["status"] in ("queued", "running"):
            if kinds:
                found.append(f"job {job['job_id']} is {job['status']} but has {kinds}")
            continue
        if job["status"] == "denied":
            continue  # refused at the door: its one event is job_failed, written before the 409
        want = {v: k for k, v in TERMINAL_JOB_EVENTS.items() if v}.get(job["status"], "job_killed")
        if kinds != [want]:
            found.append(f"job {job['job_id']} {job['status']}: terminal events {kinds}, wanted [{want}]")
    return found


def receipt_problems(gateway_ok: Iterable[str], receipts: Sequence[Mapping[str, Any]]) -> list[str]:
    found = [
        f"receipt {rid} written {n} times" for rid, n in Counter(r["receipt_id"] for r in receipts).items() if n > 1
    ]
    success = Counter(r["request_id"] for r in receipts if r["status"] == "success")
    found += [f"2xx call {rid} has {success[rid]} success receipts" for rid in gateway_ok if success[rid] != 1]
    return found


def duplicate_deliveries(deliveries: Mapping[str, Sequence[int]]) -> list[str]:
    return [
        f"{client} received seq {seq} {n} times"
        for client, seqs in deliveries.items()
        for seq, n in Counter(seqs).items()
        if n > 1
    ]


def violations(h: History) -> list[str]:
    return (
        over_allocations(h.samples)
        + restores_without_heartbeat(h.samples, h.beats)
        + repeated_transitions(h.events, h.samples)
        + job_problems(h.events, h.jobs)
        + receipt_problems(h.gateway_ok, h.receipts)
        + duplicate_deliveries(h.deliveries)
    )


# --- the recorder ---------------------------------------------------------------------------------------------


class Recorder:
    """Samples `base` (PAS's main port) every `interval_s` on a thread; clients note their beats and 2xx calls
    here. A read that fails (PAS or its store away) is skipped: it shows nothing, so it proves nothing."""

    def __init__(self, base: str, interval_s: float = 0.1) -> None:
        self.base = base
        self.interval_s = interval_s
        self.history = History()
        self.failed_reads = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="invariant-recorder", daemon=True)

    def start(self) -> Recorder:
        self._thread.start()
        return self

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                services = session.get(f"{self.base}/api/registry/services", timeout=5)
                quotas = session.get(f"{self.base}/api/resource-manager/quotas", timeout=5)
                if services.status_code != 200 or quotas.status_code != 200:
                    raise requests.RequestException(f"{services.status_code}/{quotas.status_code}")
                held = quotas.json()["quotas"]
                sample = Sample(
                    started, time.monotonic(),
                    {i["service_id"]: i["status"] for i in services.json()["items"]},
                    {k: (float(q["allocated"]), float(q["total_capacity"])) for k, q in held.items()},
                )  # fmt: skip
                with self._lock:
                    self.history.samples.append(sample)
            except (requests.RequestException, ValueError, KeyError):
                self.failed_reads += 1
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        session.close()

    def beat(self, service_id: str, sent: float, ok: bool) -> None:
        with self._lock:
            self.history.beats.append(Beat(service_id, sent, time.monotonic(), ok))

    def gateway_ok(self, request_id: str) -> None:
        with self._lock:
            self.history.gateway_ok.append(request_id)

    def delivered(self, client: str, seq: int) -> None:
        with self._lock:
            self.history.deliveries.setdefault(client, []).append(seq)

    def halt(self) -> None:
        """Stops sampling (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def stop(self, receipts_for: Sequence[str] = ("default",)) -> History:
        """Stops sampling, then reads the whole event stream, the receipts of the given runs and the jobs."""
        self.halt()
        events_url = f"{self.base}/api/event-stream/events"
        self.history.events = read_events(
            lambda after: requests.get(events_url, params={"after": after, "limit": 1000}, timeout=10).json()
        )
        for run in receipts_for:
            body = requests.get(f"{self.base}/api/gateway/receipts/{run}", params={"limit": 10000}, timeout=10)
            self.history.receipts += body.json()["receipts"]
        self.history.jobs = requests.get(f"{self.base}/jobs", params={"limit": 1000}, timeout=10).json()["jobs"]
        return self.history


def read_events(page: Callable[[int], Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every event after seq 0, a page at a time (`page(after)` is one GET /events answer)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        events = page(after)["events"]
        if not events:
            return out
        out += events
        after = int(events[-1]["seq"])

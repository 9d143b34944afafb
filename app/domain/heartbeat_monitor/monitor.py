"""The heartbeat monitor: deadline sweeps (the source of truth), alert history, stats.

Transitions happen inside one Lua script per sweep (compare-and-set on the stored miss level), which also
appends each alert to the event stream. Shipping copies alerts from the stream to SQL and the JSONL log
afterwards, keyed by seq, so a crash between the two loses nothing and duplicates nothing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.domain.events import alert_data, log_transitions
from app.domain.ports import EventEmitter
from app.domain.registry.service import DEGRADED, Registry
from app.domain.timefmt import iso
from contracts.heartbeat_monitor import Alert, AlertsQuery, MonitorHealth, MonitorStats
from models.alert_store import AlertStore
from models.event_store import EventStore
from models.keys import Keys
from models.registry_store import RegistryStore, SweepResult

log = logging.getLogger("pas.heartbeat_monitor")

PRESERVATION_ALERT = json.dumps(
    {
        "alert_type": "self_preservation",
        "action": "held",
        "service_id": None,
        "service_name": None,
        "parent": None,
        "message": "more than half of the services went silent at once; deregistration is held",
    },
    separators=(",", ":"),
)


@dataclass(frozen=True)
class MonitorConfig:
    check_interval_s: float
    alerts_dir: Path | None  # heartbeat_alerts_<YYYYMMDD>.jsonl; None = off


class HeartbeatMonitor:
    def __init__(
        self,
        store: RegistryStore,
        events: EventStore,
        alerts: AlertStore,
        registry: Registry,
        emitter: EventEmitter,
        keys: Keys,
        config: MonitorConfig,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._events = events
        self._alerts = alerts
        self._registry = registry
        self._emitter = emitter
        self._keys = keys
        self._config = config
        self._sleep = sleep
        self._monotonic = monotonic

    def sweep_once(self) -> SweepResult:
        result = self._store.sweep(PRESERVATION_ALERT)
        self._emitter.emit(result.events)
        log_transitions(log, result.events)
        return result

    def sweep(self, budget_s: float) -> int:
        """Sweeps until budget_s has passed, waking at each next deadline, so a transition lands within
        milliseconds of its deadline rather than up to one beat period later. Returns the sweep count."""
        started = self._monotonic()
        sweeps = 0
        while True:
            result = self.sweep_once()
            sweeps += 1
            if result.due:  # there may be more due than one batch
                self.ship()
            remaining = budget_s - (self._monotonic() - started)
            if remaining <= 0:
                break
            wait = remaining
            if result.next_due_ms is not None:
                wait = min(wait, max(0.0, (result.next_due_ms - result.now_ms) / 1000) + 0.002)
            self._sleep(min(wait, 0.25))
        self.ship()
        return sweeps

    def ship(self, wait_s: float = 0.0) -> int:
        """Copies alerts recorded in the event stream to SQL and the JSONL log; idempotent by seq.
        One shipper at a time (the JSONL has no dedup); with wait_s, waits for the current one to finish."""
        lock, token = self._keys.shipper_lock(), uuid.uuid4().hex
        give_up = self._monotonic() + wait_s
        while not self._events.try_lock(lock, token, 30_000):
            if self._monotonic() >= give_up:
                return 0
            self._sleep(0.01)
        shipped = 0
        try:
            cursor = self._events.shipped()
            while True:
                bodies = self._events.after(cursor, 1000)
                if not bodies:
                    break
                rows, lines = [], []
                for body in bodies:
                    event = json.loads(body)
                    cursor = int(event["seq"])
                    data = event.get("data") or {}
                    # Only the monitor's own alerts: the others (jobs, governor, gateway, external broadcasts)
                    # have other shapes, and the HMI lists them from the stream.
                    if event["event_type"] != "alert" or event["source"] != "heartbeat_monitor":
                        continue
                    wire = alert_data(data, cursor, int(event["ts_ms"]))
                    rows.append(
                        {
                            "seq": cursor,
                            "ts_ms": int(event["ts_ms"]),
                            "alert_type": str(data["alert_type"]),
                            "action": str(data.get("action", "")),
                            "service_id": data.get("service_id"),
                            "service_name": data.get("service_name"),
                            "missed_beats": int(data.get("missed_beats") or 0),
                            "last_seen_ms": data.get("last_seen_ms"),
                            "source": str(event["source"]),
                            "body": json.dumps(wire, separators=(",", ":")),
                        }
                    )
                    lines.append((int(event["ts_ms"]), wire))
                self._alerts.insert_many(rows)
                self._append_jsonl(lines)
                self._events.mark_shipped(cursor)
                shipped += len(rows)
        finally:
            self._events.unlock(lock, token)
        return shipped

    def _append_jsonl(self, lines: list[tuple[int, dict[str, object]]]) -> None:
        if self._config.alerts_dir is None or not lines:
            return
        self._config.alerts_dir.mkdir(parents=True, exist_ok=True)
        by_day: dict[str, list[str]] = {}
        for ts_ms, wire in lines:
            day = datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y%m%d")
            by_day.setdefault(day, []).append(json.dumps(wire, separators=(",", ":")))
        for day, day_lines in by_day.items():
            with (self._config.alerts_dir / f"heartbeat_alerts_{day}.jsonl").open("a") as fh:
                fh.write("\n".join(day_lines) + "\n")

    # reads

    def alerts(self, query: AlertsQuery) -> list[Alert]:
        self.ship(wait_s=2.0)  # what the sweep just recorded is visible at once
        rows = self._alerts.latest(query.limit, query.service_id, query.alert_type)
        return [Alert.model_validate_json(row.body) for row in rows]

    def stats(self) -> MonitorStats:
        snapshot = self._store.snapshot()
        records = self._registry.records(snapshot)
        down = sum(r.status == "down" for r in records)
        degraded = sum(r.status in DEGRADED for r in records)
        return MonitorStats(
            total_services=len(records),
            healthy_services=len(records) - down - degraded,
            degraded_services=degraded,
            down_services=down,
            last_check=iso(snapshot.last_sweep_ms) if snapshot.last_sweep_ms else None,
            self_preservation=snapshot.preservation_since_ms is not None,
        )

    def health(self) -> MonitorHealth:
        return MonitorHealth(check_interval_s=self._config.check_interval_s)

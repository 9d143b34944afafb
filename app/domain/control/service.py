"""Operator controls: Pause All really stops work (workers stop consuming the work queue; agents are told in
their heartbeat responses), per-agent pause, every action audited."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from app.domain.errors import InvalidInput, NotFound
from app.domain.ports import EventEmitter
from app.domain.registry.service import Registry
from app.domain.timefmt import iso
from contracts.control import ActionRequest, ActionResponse, ControlState
from models.control_store import ControlStore
from models.event_store import EventStore

log = logging.getLogger("pas.control")


class WorkerControl(Protocol):
    def stop_consuming_work(self) -> int: ...

    def resume_consuming_work(self) -> int: ...


class Operations:
    def __init__(
        self,
        store: ControlStore,
        workers: WorkerControl,
        registry: Registry,
        events: EventStore,
        emitter: EventEmitter,
        alert_exists: Callable[[int], bool],
    ) -> None:
        self._alert_exists = alert_exists
        self._store = store
        self._workers = workers
        self._registry = registry
        self._events = events
        self._emitter = emitter

    def state(self) -> ControlState:
        return ControlState(paused=self._store.paused(), paused_agents=self._store.paused_agents())

    def act(self, req: ActionRequest) -> ActionResponse:
        acked = 0
        if req.action == "pause_all":
            self._store.set_paused(True)  # first: a worker that starts now reads it
            acked = self._workers.stop_consuming_work()
        elif req.action == "resume_all":
            self._store.set_paused(False)
            acked = self._workers.resume_consuming_work()
        elif req.action == "ack_alert":
            if req.alert_seq is None:
                raise InvalidInput("ack_alert needs an alert_seq", field="alert_seq")
            if not self._alert_exists(req.alert_seq):
                raise NotFound(f"no alert with seq {req.alert_seq}", field="alert_seq")
            self._store.ack_alert(req.alert_seq, iso(self._events.now_ms()), req.note)
        else:
            if req.service_id is None:
                raise InvalidInput(f"{req.action} needs a service_id", field="service_id")
            self._registry.get(req.service_id)  # 404 for an unknown service
            self._store.pause_agent(req.service_id, req.action == "pause_agent")
        state = self.state()
        body = self._events.append(
            "operator_action",
            "hmi",
            {"action": req.action, "service_id": req.service_id, "alert_seq": req.alert_seq, "note": req.note,
             "paused": state.paused,
             "paused_agents": state.paused_agents, "workers_acknowledged": acked},
        )  # fmt: skip
        self._emitter.emit([body])
        log.info(
            "operator_action",
            extra={"action": req.action, "service_id": req.service_id, "alert_seq": req.alert_seq, "workers": acked},
        )
        return ActionResponse(action=req.action, state=state, workers_acknowledged=acked, ts=iso(self._events.now_ms()))

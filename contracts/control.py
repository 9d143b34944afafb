from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.common import ID_PATTERN, Body, Request, SafeInt

Action = Literal["pause_all", "resume_all", "pause_agent", "resume_agent", "ack_alert"]


class ActionRequest(Request):
    """An operator action from the HMI; every one is audit-logged and emitted as an `operator_action` event."""

    action: Action
    service_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=ID_PATTERN)
    alert_seq: SafeInt | None = Field(default=None, ge=1)  # ack_alert: the alert's seq
    note: str | None = Field(default=None, max_length=500)


class ControlState(Body):
    paused: bool
    paused_agents: list[str]


class ActionResponse(Body):
    action: Action
    ok: bool = True
    state: ControlState
    workers_acknowledged: int
    ts: str

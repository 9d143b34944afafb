from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from contracts.common import ID_PATTERN, Body, Request, SafeInt

Action = Literal["pause_all", "resume_all", "pause_agent", "resume_agent", "ack_alert"]


def _needs(field: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": [field], "properties": {field: schema}}


class ActionRequest(Request):
    """An operator action from the HMI; every one is audit-logged and emitted as an `operator_action` event.
    `ack_alert` needs `alert_seq`; `pause_agent`/`resume_agent` need `service_id` (control/service.py enforces it)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {"if": {"properties": {"action": {"const": "ack_alert"}}},
                 "then": _needs("alert_seq", {"type": "integer"})},
                {"if": {"properties": {"action": {"enum": ["pause_agent", "resume_agent"]}}},
                 "then": _needs("service_id", {"type": "string"})},
            ]
        }
    )  # fmt: skip

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

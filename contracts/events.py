from __future__ import annotations

from typing import Any, Literal

from contracts.common import Body

# Socket.IO topics: a page subscribes to the ones it shows (a client that never subscribes gets everything).
# The one map from event type to topic; the server stamps it on every envelope, so no page re-derives it.
EventTopic = Literal["alerts", "agents", "tools", "jobs", "costs", "other"]
TOPICS: tuple[EventTopic, ...] = ("alerts", "agents", "tools", "jobs", "costs", "other")
TOPIC_BY_TYPE: dict[str, EventTopic] = {
    "alert": "alerts",
    "alert_acknowledged": "alerts",
    "service_registered": "agents",
    "service_deregistered": "agents",
    "status_update": "agents",
    "context_warning": "agents",
    "context_breach": "agents",
    "summary_created": "agents",
    "context_cleared": "agents",
    "context_resumed": "agents",
    "operator_action": "agents",
    # Claude Code's hooks (the agent router): runs, delegations, usage and sessions change the tree ...
    "agent_run_started": "agents",
    "agent_run_finished": "agents",
    "agent_delegation": "agents",
    "agent_usage": "agents",
    "session_update": "agents",
    # ... tool calls are many (every Read, Bash …): a topic of their own, so the tree never receives them.
    "tool_call": "tools",
    "cost_update": "costs",
    "budget_update": "costs",
}
TOPIC_PREFIXES: tuple[tuple[str, EventTopic], ...] = (("job_", "jobs"), ("reservation_", "jobs"))


def topic_of(event_type: str) -> EventTopic:
    for prefix, topic in TOPIC_PREFIXES:
        if event_type.startswith(prefix):
            return topic
    return TOPIC_BY_TYPE.get(event_type, "other")


class EventEnvelope(Body):
    """What every Socket.IO `event` carries; seq increases by one per event, so a gap is visible."""

    event_type: str
    seq: int
    ts: str
    source: str
    data: dict[str, Any]
    server_timestamp: str
    topic: EventTopic = "other"  # the Socket.IO topic (room) it is delivered through: topic_of(event_type)

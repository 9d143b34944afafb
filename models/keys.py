"""Every Redis key PAS uses is built here: `<prefix>:<service>:<entity>[:<id>]`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote


def key_part(value: str) -> str:
    """Client ids may hold ':' '*' '{'; escaped, they cannot reach another key."""
    return quote(value, safe="")


def from_key_part(part: str) -> str:
    return unquote(part)


@dataclass(frozen=True)
class Keys:
    prefix: str = "pas"

    # registry — members of sets and sorted sets are escaped ids (key_part)
    def service(self, service_id: str) -> str:  # hash
        return f"{self.prefix}:registry:service:{key_part(service_id)}"

    def service_prefix(self) -> str:  # Lua appends the escaped id
        return f"{self.prefix}:registry:service:"

    def service_ids(self) -> str:  # set of escaped ids
        return f"{self.prefix}:registry:ids"

    def index(self, field: str, value: str) -> str:  # set of escaped ids
        return f"{self.prefix}:registry:index:{field}:{key_part(value)}"

    def index_prefix(self) -> str:
        return f"{self.prefix}:registry:index:"

    # heartbeat monitor
    def deadlines(self) -> str:  # zset: escaped id -> next check, ms on the Redis clock
        return f"{self.prefix}:heartbeat_monitor:deadlines"

    def alive_prefix(self) -> str:  # string per service with PEXPIRE ttl_s (the card's key expiry)
        return f"{self.prefix}:heartbeat_monitor:alive:"

    def alive(self, service_id: str) -> str:
        return f"{self.alive_prefix()}{key_part(service_id)}"

    def silent(self) -> str:  # set of escaped ids that missed at least one beat
        return f"{self.prefix}:heartbeat_monitor:silent"

    def preservation(self) -> str:  # string: ms since self-preservation began; absent = off
        return f"{self.prefix}:heartbeat_monitor:preservation"

    def preservation_cleared(self) -> str:  # string: ms when most services were heard again (the hold's tail)
        return f"{self.prefix}:heartbeat_monitor:preservation_cleared"

    def grace_from(self) -> str:  # string: ms of the last grace (ages count from it; see prelude.lua)
        return f"{self.prefix}:heartbeat_monitor:grace_from"

    def last_sweep(self) -> str:  # string: ms of the last sweep
        return f"{self.prefix}:heartbeat_monitor:last_sweep"

    def last_heard(self) -> str:  # string: ms of the last heartbeat or sweep script (see regain_sight)
        return f"{self.prefix}:heartbeat_monitor:last_heard"

    def shipper_lock(self) -> str:
        return f"{self.prefix}:heartbeat_monitor:shipper_lock"

    def sweep_lock(self) -> str:
        return f"{self.prefix}:heartbeat_monitor:sweep_lock"

    # jobs — the reconciler's look for job messages the broker lost (see models/job_dispatch_store.py)
    def jobs_lost_scan(self) -> str:  # string with PX: present = a scan ran within its period
        return f"{self.prefix}:jobs:lost_scan"

    def jobs_missing(self) -> str:  # hash: job id -> ms of the first scan that found its message nowhere
        return f"{self.prefix}:jobs:missing"

    # resource manager — amounts are integers in each resource's unit (cpu and disk_gb in thousandths)
    def rm(self, entity: str) -> str:
        return f"{self.prefix}:resource_manager:{entity}"

    def reservation(self, reservation_id: str) -> str:
        return f"{self.prefix}:resource_manager:reservation:{key_part(reservation_id)}"

    def reservations_by_job(self, job_id: str) -> str:
        return f"{self.prefix}:resource_manager:by_job:{key_part(job_id)}"

    # HMI operator controls (read by the heartbeat script: keep these names in step with heartbeat.lua)
    def paused(self) -> str:  # string: present = Pause All
        return f"{self.prefix}:hmi:paused"

    def paused_agents(self) -> str:  # set of escaped service ids
        return f"{self.prefix}:hmi:paused_agents"

    def acked_alerts(self) -> str:  # hash: alert seq -> JSON {ts, note}
        return f"{self.prefix}:hmi:acked"

    # event stream
    def event_seq(self) -> str:  # counter
        return f"{self.prefix}:event_stream:seq"

    def events(self) -> str:  # stream; entry id = <seq>-1
        return f"{self.prefix}:event_stream:events"

    def events_archived(self) -> str:  # last seq written to the daily JSONL archive
        return f"{self.prefix}:events:archived"

    def archive_lock(self) -> str:
        return f"{self.prefix}:events:archive_lock"

    def events_shipped(self) -> str:  # last seq copied to SQL
        return f"{self.prefix}:event_stream:shipped"

    def socketio_channel(self) -> str:  # pub/sub ignores DB numbers; the prefix isolates
        return f"{self.prefix}:socketio"

    def event_once(self, once_id: str) -> str:  # string with PX: present = the event of this id is written
        return f"{self.prefix}:event_stream:once:{key_part(once_id)}"

    # agent router: Claude Code sessions and sub-agent runs as their hooks report them (prefixes: Lua appends
    # the escaped id)
    def hook_session_prefix(self) -> str:  # hash per session: status open|idle|ended|closed, session_id, …
        return f"{self.prefix}:agent_router:session:"

    def hook_session_runs_prefix(self) -> str:  # set per session: escaped agent ids of its running runs
        return f"{self.prefix}:agent_router:session_runs:"

    def hook_run_prefix(self) -> str:  # hash per run (Claude Code agent_id): status running|done, tokens …
        return f"{self.prefix}:agent_router:run:"

    def hook_agent_runs_prefix(self) -> str:  # set per catalogue agent (escaped service id): its running runs
        return f"{self.prefix}:agent_router:agent_runs:"

    def hook_tool_prefix(self) -> str:  # hash per <session>:<tool_use_id>: start_ms, done (Pre→Post, dedup)
        return f"{self.prefix}:agent_router:tool:"

    def hook_closing(self) -> str:  # zset: escaped session id -> when its leftover runs are finished (ms)
        return f"{self.prefix}:agent_router:closing"

    def hook_active(self) -> str:  # zset: escaped session id -> its last hook (ms), for idle sessions
        return f"{self.prefix}:agent_router:active"

    def hook_open_sessions(self) -> str:  # set of escaped session ids not closed yet
        return f"{self.prefix}:agent_router:open_sessions"

    def hook_running(self) -> str:  # set of escaped agent ids of running runs
        return f"{self.prefix}:agent_router:running"

    # agent router invocations: one-shot handoffs between the web process and the job's worker, never kept
    def invocation_payload(self, invocation_id: str) -> str:  # string with PX: the payload, GETDEL'd by the worker
        return f"{self.prefix}:agent_router:invocation:{key_part(invocation_id)}:payload"

    def invocation_result(self, invocation_id: str) -> str:  # list with PX: the one outcome, BLPOP'd by the web
        return f"{self.prefix}:agent_router:invocation:{key_part(invocation_id)}:result"

    def hook_timeline(self) -> str:  # stream (capped): the hooks' own events, for the HMI's tree and sequencer
        return f"{self.prefix}:agent_router:timeline"

    def hook_totals_prefix(self) -> str:  # hash per catalogue agent (escaped service id): tokens, runs, cost_usd
        return f"{self.prefix}:agent_router:totals:"

    # provider router
    def providers(self) -> str:  # hash: name -> provider JSON (registered through the API)
        return f"{self.prefix}:provider_router:providers"

    def providers_version(self) -> str:  # counter: bumped on every change, so snapshots know to refresh
        return f"{self.prefix}:provider_router:version"

    # gateway
    def gw(self, entity: str) -> str:
        return f"{self.prefix}:gateway:{entity}"

    def budget(self, scope: str, name: str) -> str:  # hash {budget, spent, inflight} in micro-USD
        return f"{self.prefix}:gateway:budget:{scope}:{key_part(name)}"

    def provider_latency(self, name: str) -> str:  # list: recent latencies (ms), newest first
        return f"{self.prefix}:gateway:latency:{key_part(name)}"

    def provider_outcomes(self, name: str) -> str:  # list: recent outcomes (1 ok, 0 failed), newest first
        return f"{self.prefix}:gateway:outcomes:{key_part(name)}"

    def provider_breaker(self, name: str) -> str:  # string: consecutive failures
        return f"{self.prefix}:gateway:fails:{key_part(name)}"

    def provider_cooldown(self, name: str) -> str:  # string with PX: present = cooling down (value: until ms)
        return f"{self.prefix}:gateway:cooldown:{key_part(name)}"

    def idempotency(self, key: str) -> str:  # hash {fp, receipt_id, status, body}
        return f"{self.prefix}:gateway:idem:{key_part(key)}"

    # model calls (local models and vendor adapters): web process <-> Celery worker
    def llm_out(self, call_id: str) -> str:  # stream: the call's events (deltas, then end or error), short-lived
        return f"{self.prefix}:llm:out:{key_part(call_id)}"

    def llm_cancel(self, call_id: str) -> str:  # string with PX: present = the client went away
        return f"{self.prefix}:llm:cancel:{key_part(call_id)}"

    def llm_claim(self, call_id: str) -> str:  # string with PX, renewed by the running worker: absent = it died
        return f"{self.prefix}:llm:claim:{key_part(call_id)}"

    def llm_host(self, name: str) -> str:  # string with PX: JSON facts of the worker hosting `name` (live)
        return f"{self.prefix}:llm:host:{key_part(name)}"

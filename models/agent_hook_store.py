"""Claude Code sessions and sub-agent runs in Redis, as the hooks report them. Every hook is one Lua script
(ah_hook.lua) that changes the run, its session, its agent's registry status and the events together."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from models.fast_script import FastScript
from models.keys import Keys, key_part
from models.registry_store import ScriptParams
from models.scripts import lua


@dataclass(frozen=True)
class HookTimings:
    run_ttl_ms: int  # a running run (and its session) is forgotten after this long without a hook
    done_ttl_ms: int  # a finished run is kept this long (late and duplicate hooks still match it)
    tool_ttl_ms: int  # a PreToolUse waits this long for its PostToolUse
    grace_ms: int  # after Stop / SessionEnd, runs still going are finished this much later
    idle_ms: int  # a session silent this long is closed (Claude Code killed without Stop)
    timeline_maxlen: int = 20_000  # hook events kept for the HMI's snapshots (the stream is trimmed to about it)


@dataclass
class HookOutcome:
    outcome: str  # ok | dup
    now_ms: int
    extra: str = ""
    events: list[str] = field(default_factory=list)


def usage_tokens(usage: dict[str, Any]) -> int:
    """An Agent report's tokens: its totalTokens, else the sum of its usage's counts."""
    if isinstance(usage.get("total_tokens"), int):
        return int(usage["total_tokens"])
    parts = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(p) or 0) for p in parts)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class AgentHookStore:
    def __init__(self, client: redis.Redis, keys: Keys, params: ScriptParams, timings: HookTimings) -> None:
        self._r = client
        self._keys = keys
        self._params = params
        self._timings = timings
        # On the hot path (every tool call of every session): straight on a connection. A resend is harmless:
        # each kind is a compare-and-set (a second start, stop or post of the same id is a 'dup').
        self._script = FastScript(client, lua("ah_hook"))
        k = keys
        self._keys_list = [
            k.hook_session_prefix(), k.hook_session_runs_prefix(), k.hook_run_prefix(), k.hook_agent_runs_prefix(),
            k.hook_tool_prefix(), k.hook_closing(), k.hook_active(), k.hook_open_sessions(), k.hook_running(),
            k.index("type", "agent"), k.hook_timeline(), k.hook_totals_prefix(),
        ]  # fmt: skip

    def _run(self, kind: str, facts: dict[str, str], data: dict[str, Any] | None, usage: str = "") -> HookOutcome:
        t = self._timings
        facts = {
            **facts,
            "run_ttl_ms": str(t.run_ttl_ms),
            "done_ttl_ms": str(t.done_ttl_ms),
            "tool_ttl_ms": str(t.tool_ttl_ms),
            "timeline_maxlen": str(t.timeline_maxlen),
        }
        args: list[Any] = [
            self._keys.prefix, self._params.events_maxlen, self._params.preservation_cap_ms, self._params.blind_ms,
            kind, _compact(facts), _compact(data) if data is not None else "", usage,
        ]  # fmt: skip
        raw: Any = self._script(self._keys_list, args)
        return HookOutcome(str(raw[0]), int(raw[1]), str(raw[2]), [str(e) for e in raw[3:]])

    @staticmethod
    def _who(session_id: str, agent_id: str | None, agent_type: str | None) -> dict[str, str]:
        service_id = f"agent-{agent_type}" if agent_type else ""
        return {
            "session": key_part(session_id),
            "session_id": session_id,
            "run": key_part(agent_id) if agent_id else "",
            "agent_id": agent_id or "",
            "agent_type": agent_type or "",
            "service_id": service_id,
            "qid": key_part(service_id) if service_id else "",
        }

    @staticmethod
    def _tool(session_id: str, tool_use_id: str) -> str:
        # A tool_use_id is unique only where the model backend makes it so (a proxy or a local model server may
        # number them from 1 in every session): a call is its session's own.
        return f"{key_part(session_id)}:{key_part(tool_use_id)}"

    def start(self, session_id: str, agent_id: str, agent_type: str) -> HookOutcome:
        return self._run("start", self._who(session_id, agent_id, agent_type), None)

    def stop(self, session_id: str, agent_id: str, agent_type: str, transcript: str | None) -> HookOutcome:
        return self._run("stop", {**self._who(session_id, agent_id, agent_type), "transcript": transcript or ""}, None)

    def touch(self, session_id: str) -> HookOutcome:
        return self._run("touch", self._who(session_id, None, None), None)

    def close(self, session_id: str, how: str) -> HookOutcome:
        facts = {**self._who(session_id, None, None), "close": how, "grace_ms": str(self._timings.grace_ms)}
        return self._run("close", facts, None)

    def tool_pre(
        self, session_id: str, agent_id: str | None, agent_type: str | None, tool_use_id: str,
        target: str | None, data: dict[str, Any],
    ) -> HookOutcome:  # fmt: skip
        facts = {
            **self._who(session_id, agent_id, agent_type),
            "tool": self._tool(session_id, tool_use_id),
            "target_qid": key_part(f"agent-{target}") if target else "",
        }
        return self._run("pre", facts, data)

    def tool_post(
        self, session_id: str, agent_id: str | None, agent_type: str | None, tool_use_id: str,
        duration_ms: int | None, data: dict[str, Any], usage: dict[str, Any] | None,
    ) -> HookOutcome:  # fmt: skip
        facts = {
            **self._who(session_id, agent_id, agent_type),
            "tool": self._tool(session_id, tool_use_id),
            "duration_ms": "" if duration_ms is None else str(duration_ms),
            "usage_run": "",
        }
        if usage is not None:
            facts.update(
                usage_run=key_part(str(usage["agent_id"])),
                input_tokens=str(usage["input_tokens"]),
                output_tokens=str(usage["output_tokens"]),
                ctx_used=str(usage["ctx_used"]),
                total_tokens="" if usage.get("total_tokens") is None else str(usage["total_tokens"]),
                usage_qid=key_part(str(usage["service_id"])) if usage.get("service_id") else "",
                usage_tokens=str(usage_tokens(usage)),
                cost_usd="" if usage.get("cost_usd") is None else repr(float(usage["cost_usd"])),
            )
        return self._run("post", facts, data, _compact(usage) if usage is not None else "")

    def sweep(self, batch: int) -> HookOutcome:
        facts = {**self._who("-", None, None), "batch": str(batch), "idle_ms": str(self._timings.idle_ms)}
        return self._run("sweep", facts, None)

    def counts(self) -> tuple[int, int, int, int]:
        """(type:"agent" records in the registry, open sessions, running runs, the Redis clock in ms)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.scard(self._keys.index("type", "agent"))
        pipe.scard(self._keys.hook_open_sessions())
        pipe.scard(self._keys.hook_running())
        pipe.time()
        agents, sessions, runs, (sec, usec) = pipe.execute()
        return int(agents), int(sessions), int(runs), int(sec) * 1000 + int(usec) // 1000

    def add_cost(self, service_id: str, cost_usd: float) -> None:
        """A gateway receipt's cost, on the catalogue agent's totals (the tree's cost per agent)."""
        self._r.hincrbyfloat(self._keys.hook_totals_prefix() + key_part(service_id), "cost_usd", cost_usd)

    # reads for the HMI

    def timeline(self, count: int) -> list[str]:
        """The newest `count` hook events (event bodies as the stream holds them), oldest first."""
        rows: Any = self._r.xrevrange(self._keys.hook_timeline(), count=count)
        return [str(fields["e"]) for _id, fields in reversed(rows)]

    def totals(self, service_ids: list[str]) -> dict[str, dict[str, str]]:
        """Each catalogue agent's totals hash (tokens, runs, cost_usd), by service id; absent ones left out."""
        pipe = self._r.pipeline(transaction=False)
        for service_id in service_ids:
            pipe.hgetall(self._keys.hook_totals_prefix() + key_part(service_id))
        found: list[Any] = pipe.execute()
        return {sid: dict(h) for sid, h in zip(service_ids, found, strict=True) if h}

    def run(self, agent_id: str) -> dict[str, str]:
        h: Any = self._r.hgetall(self._keys.hook_run_prefix() + key_part(agent_id))
        return dict(h)

    def session(self, session_id: str) -> dict[str, str]:
        h: Any = self._r.hgetall(self._keys.hook_session_prefix() + key_part(session_id))
        return dict(h)

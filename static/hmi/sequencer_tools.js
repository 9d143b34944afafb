// The sequencer's Claude Code lanes (loaded before sequencer.js): grouped by session, one lane per agent (the
// session's main agent, then each sub-agent type), one block per tool call (name, duration, status). Calls come
// from /api/agent-activity on load and from `tool_call` events live. Every name and id is agent-supplied: drawn
// with .text() and attributes only.
(function () {
  "use strict";
  const H = window.PASHMI;
  if (!H) return;
  const COLORS = { ok: "#14b8a6", error: "#e74c3c" };
  const MAIN = "(main agent)";
  const ms = (iso) => (iso ? Date.parse(iso) : null);
  const laneKey = (c) => `tool\u0000${c.session_id}\u0000${c.agent_type || ""}`;

  function fromEvent(env) {
    const d = env.data || {};
    if (typeof d.tool_use_id !== "string" || typeof d.tool_name !== "string" || typeof d.session_id !== "string") return null;
    const end = Date.parse(env.ts);
    const duration = typeof d.duration_ms === "number" ? d.duration_ms : null;
    return { seq: env.seq, tool_use_id: d.tool_use_id, tool_name: d.tool_name, session_id: d.session_id,
             agent_id: d.agent_id ?? null, agent_type: d.agent_type || null, service_id: d.service_id ?? null,
             status: d.status === "error" ? "error" : "ok", start: new Date(end - (duration || 0)).toISOString(),
             end: env.ts, duration_ms: duration };
  }

  // Rows for the sessions with a call in [start, end], first seen first; appended under the job rows.
  function rows(calls, start, end) {
    const bySession = new Map();
    for (const c of calls.values()) {
      const s = ms(c.start), e = ms(c.end);
      if (e < start || s > end) continue;
      if (!bySession.has(c.session_id)) bySession.set(c.session_id, { first: s, lanes: new Map() });
      const g = bySession.get(c.session_id);
      g.first = Math.min(g.first, s);
      g.lanes.set(laneKey(c), c.agent_type || null);
    }
    const out = [];
    const sessions = [...bySession.entries()].sort(([, a], [, b]) => a.first - b.first);
    for (const [sid, g] of sessions) {
      out.push({ header: `session ${sid.slice(0, 8)}${sid.length > 8 ? "…" : ""}`, key: `h:session\u0000${sid}`, session: sid });
      const lanes = [...g.lanes.entries()].sort(([, a], [, b]) => (a === null ? -1 : b === null ? 1 : a.localeCompare(b)));
      for (const [key, agent] of lanes) out.push({ key, name: agent === null ? MAIN : agent, session: sid, tool: true });
    }
    return out;
  }

  function draw(layer, calls, { x, byKey, start, end, ROW, LEFT, selected }) {
    const visible = [...calls.values()].filter((c) => ms(c.end) >= start && ms(c.start) <= end && byKey.has(laneKey(c)));
    const blocks = layer.selectAll("g.tool").data(visible, (c) => c.tool_use_id).join((enter) => {
      const g = enter.append("g").attr("class", "tool");
      g.append("rect").attr("class", "tool-block");
      g.append("text").attr("class", "tool-name").attr("dy", "0.32em").attr("pointer-events", "none");
      g.append("title");
      return g;
    });
    blocks.each(function (c) {
      const row = byKey.get(laneKey(c));
      const x0 = Math.max(LEFT, x(new Date(ms(c.start))));
      const w = Math.max(4, x(new Date(ms(c.end))) - x0);
      const g = d3.select(this);
      g.select("rect.tool-block").attr("x", x0).attr("y", row.y + 4).attr("width", w).attr("height", ROW - 8)
        .attr("fill", COLORS[c.status] || COLORS.ok)
        .attr("class", `tool-block${selected === c.tool_use_id ? " selected" : ""}`)
        .attr("data-tool", c.tool_use_id).attr("data-status", c.status);
      // The name beside its block (inside when the block is wide enough): most calls take milliseconds.
      const inside = w > 60;
      g.select("text.tool-name").attr("x", inside ? x0 + 4 : x0 + w + 3).attr("y", row.y + ROW / 2)
        .text(c.tool_name);  // text(): inert
      g.select("title").text(`${c.tool_name} · ${c.duration_ms ?? "?"} ms · ${c.status}`);
    });
    return visible.length;
  }

  function details(add, c) {
    add("tool", c.tool_name);
    add("tool use id", c.tool_use_id);
    add("session", c.session_id);
    add("agent", c.agent_type || MAIN);
    add("run", c.agent_id);
    add("status", c.status);
    add("duration", c.duration_ms === null ? null : `${c.duration_ms} ms`);
    add("finished", new Date(c.end).toLocaleString());
  }

  H.toolLanes = { fromEvent, rows, draw, details, laneKey };
})();

// Dashboard: system, core services, one card per service, the event feed.
// A page module: its helpers come from hmi.js (window.PASHMI); it registers before DOMContentLoaded.
(function () {
  "use strict";
  const { el, getJSON, post, ago, statusClass, noteServerTime, bar, fmt, scheduleSnapshot, renderBanner } = window.PASHMI;

  (function dashboard() {
    const cardsRoot = document.getElementById("services");
    if (!cardsRoot) return;
    let view = null;
    const byId = new Map();  // service_id → card element
    const core = document.getElementById("core");
    const system = document.getElementById("system");
    const stat = (label, value, extra) => {
      const c = el("div", "card");
      c.append(el("div", "muted", label), el("div", "big", value));
      if (extra) c.append(extra);
      return c;
    };
    function renderSystem() {
      const h = view.host;
      const cap = view.capacity;
      const util = (name) => (cap[name] ? cap[name].utilization : 0);
      const down = view.agents.filter((a) => a.status === "down").length;
      system.replaceChildren(
        stat("host CPU", `${fmt(h.cpu_percent, 0)}%`, bar(h.cpu_percent / 100, h.cpu_percent > 90 ? "hot" : "")),
        stat("host memory", `${fmt(h.mem_percent, 0)}%`, bar(h.mem_percent / 100, h.mem_percent > 90 ? "hot" : "")),
        stat("load (1 min)", fmt(h.load_1m, 2)),
        stat("CPU reserved", `${fmt(util("cpu") * 100, 0)}%`, bar(util("cpu"))),
        stat("memory reserved", `${fmt(util("mem_mb") * 100, 0)}%`, bar(util("mem_mb"))),
        stat("services", `${view.agents.length - down} up / ${down} down`),
        stat("open critical alerts", view.open_alerts),
      );
    }
    function card(a) {
      const c = el("div");
      c.dataset.serviceId = a.service_id;
      fill(c, a);
      return c;
    }
    function fill(c, a) {
      const capCpu = view.capacity.cpu ? Number(view.capacity.cpu.total_capacity) : 0;
      const capMem = view.capacity.mem_mb ? Number(view.capacity.mem_mb.total_capacity) : 0;
      c.className = `card ${statusClass(a.status)}${a.paused ? " paused" : ""}`;
      const title = el("div", "name");
      title.append(el("span", `light ${statusClass(a.status)}`), el("span", "label", a.name));
      const meta = el("div", "meta", [a.type, a.role, a.status, a.tier !== null && a.tier !== undefined ? `tier ${a.tier}` : null,
                                      a.paused ? "paused" : null].filter(Boolean).join(" · "));
      const parts = [title, meta];
      const progress = a.job ? a.job.progress : a.progress;
      if (progress !== null && progress !== undefined) {
        const row = el("div", "row");
        row.append(el("span", null, "progress"), el("span", null, `${Math.round(progress * 100)}%`));
        parts.push(row, bar(progress));
      }
      if (a.context) {
        const row = el("div", "row");
        row.append(el("span", null, "context"), el("span", null, `${a.context.ctx_used} / ${a.context.ctx_limit}`));
        parts.push(row, bar(a.context.ctx_ratio, a.context.status));
      }
      if (a.holding.reservations) {
        const row = el("div", "row");
        row.append(el("span", null, `cpu ${a.holding.cpu}`), el("span", null, `mem ${a.holding.mem_mb} MB`));
        parts.push(row, bar(capCpu ? a.holding.cpu / capCpu : 0), bar(capMem ? a.holding.mem_mb / capMem : 0));
      }
      if (a.job) parts.push(el("div", "job", `▶ ${a.job.task} (${a.job.status})`));
      if (a.message) parts.push(el("div", "meta", a.message));
      const beat = el("div", "meta beat", `last beat ${ago(a.last_heartbeat_ts)}`);
      beat.dataset.ts = a.last_heartbeat_ts;
      parts.push(beat);
      if (a.type === "agent") {
        const b = el("button", "control mini", a.paused ? "resume" : "pause");
        b.type = "button";
        b.addEventListener("click", () => post("/api/action", { action: a.paused ? "resume_agent" : "pause_agent",
                                                                 service_id: a.service_id }).then(() => scheduleSnapshot(0)).catch(() => {}));
        parts.push(b);
      }
      c.replaceChildren(...parts);
    }
    function renderCards() {
      document.getElementById("count").textContent = `(${view.agents.length})`;
      const wanted = new Set(view.agents.map((a) => a.service_id));
      for (const [id, node] of byId) if (!wanted.has(id)) { node.remove(); byId.delete(id); }
      view.agents.forEach((a, i) => {
        let node = byId.get(a.service_id);
        if (node) fill(node, a); else { node = card(a); byId.set(a.service_id, node); }
        if (cardsRoot.children[i] !== node) cardsRoot.insertBefore(node, cardsRoot.children[i] || null);
      });
      renderBanner(view.agents.filter((a) => a.status === "down").map((a) => a.name), view.open_alerts);
    }
    const dirty = new Set();
    window.PASHMI.register("dashboard", {
      topics: null,
      snapshot: () => Promise.all([getJSON("/api/swarm"), getJSON("/api/metrics")]).then(([swarm, metrics]) => {
        view = swarm;
        noteServerTime(swarm.timestamp);
        core.replaceChildren(...Object.entries(metrics.services).map(([name, body]) => {
          const c = el("div", `card ${body.status === "ok" ? "ok" : "down"}`);
          const t = el("div", "name");
          t.append(el("span", `light ${body.status === "ok" ? "ok" : "down"}`), el("span", null, name));
          c.append(t, el("div", "meta", body.status));
          return c;
        }));
        renderSystem();
        renderCards();
        return swarm.last_seq;
      }),
      apply(env, replayed) {
        if (!view) return "snapshot";
        const d = env.data || {};
        const a = view.agents.find((x) => x.service_id === d.service_id);
        if (env.event_type === "status_update" && a && d.to) {
          a.status = d.to;
          dirty.add(a.service_id);
          return "applied";
        }
        if (env.event_type === "service_deregistered" && d.service_id) {
          view.agents = view.agents.filter((x) => x.service_id !== d.service_id);
          dirty.add("*");
          return "applied";
        }
        if (env.event_type.startsWith("job_") && d.agent) {
          const owner = view.agents.find((x) => x.service_id === d.agent || x.name === d.agent);
          if (owner) {
            owner.job = d.status === "running" || d.status === "queued"
              ? { job_id: d.job_id, task: d.task, status: d.status, progress: d.progress ?? 0, started_at: d.start_time } : null;
            dirty.add(owner.service_id);
          }
          // Progress moves only the bar (a job reporting 100 times a second re-read the whole swarm each time and
          // showed each report 0.2-0.5 s late); a start or an end changes holdings: those follow in the re-read.
          return replayed || env.event_type === "job_progress" ? "applied" : "snapshot";
        }
        // Claude Code's hooks: a card changes through its status_update (above) or its usage (context) alone.
        if (env.event_type === "agent_usage") return "snapshot";
        if (topicOf(env) === "other" || topicOf(env) === "tools" || env.source === "agent_router") return "applied";
        return "snapshot";
      },
      render() {
        if (!view || !dirty.size) return;
        if (dirty.has("*")) renderCards();
        else for (const id of dirty) { const a = view.agents.find((x) => x.service_id === id); const n = byId.get(id); if (a && n) fill(n, a); }
        if (dirty.size) renderBanner(view.agents.filter((a) => a.status === "down").map((a) => a.name), view.open_alerts);
        dirty.clear();
      },
    });
  })();

  // The server stamps each envelope with its topic (contracts/events.py); events replayed from an older archive
  // may lack it.
  const topicOf = (env) => env.topic || "other";
})();

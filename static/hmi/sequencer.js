// The sequencer: one row per agent grouped by tier, one block per job coloured by status with its progress,
// a playhead that replays history at 0.1–100×, zoom (buttons, wheel), pan (drag), a time range, "follow now",
// and a details panel on click. Job events update blocks in place; agents come from the snapshot. Under the
// jobs, Claude Code's tool calls by session and agent (sequencer_tools.js), live from `tool_call` events.
(function () {
  "use strict";
  const H = window.PASHMI;
  const svgNode = document.getElementById("timeline");
  if (!svgNode || !H || typeof d3 === "undefined") return;

  const LEFT = 190;
  const TOP = 26;
  const ROW = 24;
  const HEADER = 20;
  const COLORS = { queued: "#7b8794", running: "#4aa3ff", succeeded: "#2ecc71", failed: "#e74c3c", timeout: "#e67e22",
                   killed: "#c0392b", denied: "#8e44ad" };
  const controls = {
    play: document.getElementById("play"),
    speed: document.getElementById("speed"),
    range: document.getElementById("range"),
    follow: document.getElementById("follow"),
    zoomIn: document.getElementById("zoom-in"),
    zoomOut: document.getElementById("zoom-out"),
    time: document.getElementById("playhead-time"),
    details: document.getElementById("details"),
  };
  const view = {
    agents: [],
    tasks: new Map(),  // task_id → task
    tools: new Map(),  // tool_use_id → tool call
    spanMs: Number(controls.range.value) * 1000,
    endMs: H.serverNow(),  // right edge of the view when not following
    playMs: H.serverNow(),
    playing: false,
    follow: controls.follow.checked,
    selected: null,
    lastFrame: null,
  };
  window.PAS.sequencer = view;  // for tests

  const svg = d3.select(svgNode);
  const axisLayer = svg.append("g").attr("class", "axis").attr("transform", `translate(0,${TOP - 4})`);
  const laneLayer = svg.append("g");
  const blockLayer = svg.append("g");
  const toolLayer = svg.append("g");
  const nowLine = svg.append("line").attr("class", "now");
  const playLine = svg.append("line").attr("class", "playhead");

  const ms = (iso) => (iso ? Date.parse(iso) : null);
  const tierLabel = (t) => (t === null || t === undefined || t === "" ? "no tier" : `tier ${t}`);

  function rows(start, end) {
    // Agents grouped by tier (numeric tiers first), then jobs whose agent is not registered.
    const byKey = new Map();
    const out = [];
    const groups = new Map();
    for (const a of view.agents) {
      const label = tierLabel(a.tier);
      if (!groups.has(label)) groups.set(label, { tier: a.tier, agents: [] });
      groups.get(label).agents.push(a);
    }
    const orderedGroups = [...groups.entries()].sort(([, a], [, b]) => {
      const na = Number(a.tier), nb = Number(b.tier);
      const fa = Number.isFinite(na) && a.tier !== null, fb = Number.isFinite(nb) && b.tier !== null;
      return fa && fb ? na - nb : fa ? -1 : fb ? 1 : String(a.tier).localeCompare(String(b.tier));
    });
    for (const [label, g] of orderedGroups) {
      out.push({ header: label });
      for (const a of g.agents.sort((x, y) => x.name.localeCompare(y.name))) {
        const row = { key: a.service_id, name: a.name, status: a.status };
        byKey.set(a.service_id, row);
        byKey.set(a.name, row);
        out.push(row);
      }
    }
    const strays = [...new Set([...view.tasks.values()].map((t) => t.agent_id).filter((id) => !byKey.has(id)))].sort();
    if (strays.length) {
      out.push({ header: "not registered" });
      for (const id of strays) { const row = { key: `stray:${id}`, name: id, status: "unknown" }; byKey.set(id, row); out.push(row); }
    }
    for (const row of H.toolLanes.rows(view.tools, start, end)) {
      if (row.tool) byKey.set(row.key, row);
      out.push(row);
    }
    let y = TOP;
    for (const r of out) { r.y = y; y += r.header ? HEADER : ROW; }
    return { rows: out, byKey, height: y + 8 };
  }

  function window_() {
    const now = H.serverNow();
    if (view.follow) { view.endMs = now + view.spanMs * 0.05; view.playMs = now; }
    return { start: view.endMs - view.spanMs, end: view.endMs, now };
  }

  function draw() {
    const t0 = performance.now();
    const width = svgNode.clientWidth || 900;
    const { start, end, now } = window_();
    const { rows: rs, byKey, height } = rows(start, end);
    svgNode.setAttribute("height", String(Math.max(height, 120)));
    const x = d3.scaleTime().domain([new Date(start), new Date(end)]).range([LEFT, width - 10]);
    axisLayer.call(d3.axisTop(x).ticks(Math.max(2, Math.floor((width - LEFT) / 110))));

    laneLayer.selectAll("g.lane-row").data(rs, (r) => r.key || `h:${r.header}`).join((enter) => {
      const g = enter.append("g").attr("class", "lane-row");
      g.append("rect");
      g.append("text");
      return g;
    }).each(function (r, i) {
      const g = d3.select(this);
      g.select("rect").attr("class", `lane${i % 2 ? " odd" : ""}`).attr("x", 0).attr("y", r.y)
        .attr("width", width).attr("height", r.header ? HEADER : ROW);
      g.select("text").attr("class", r.header ? "tier" : "agent").attr("x", r.header ? 6 : 16)
        .attr("y", r.y + (r.header ? HEADER : ROW) / 2).attr("dy", "0.32em")
        .text(r.header ? r.header : r.name);  // text(): inert
      g.attr("data-session", r.session ?? null);
    });

    const visible = [...view.tasks.values()].filter((t) => {
      const s = ms(t.start_time) ?? now;
      const e = ms(t.end_time) ?? now;
      return e >= start && s <= end && byKey.has(t.agent_id);
    });
    const blocks = blockLayer.selectAll("g.task").data(visible, (t) => t.task_id).join((enter) => {
      const g = enter.append("g").attr("class", "task");
      g.append("rect").attr("class", "block");
      g.append("rect").attr("class", "progress");
      g.append("title");
      return g;
    });
    blocks.each(function (t) {
      const row = byKey.get(t.agent_id);
      const s = ms(t.start_time) ?? now;
      const realEnd = ms(t.end_time) ?? now;
      const future = s > view.playMs;
      // Replaying: a job running at the playhead is drawn up to the playhead.
      const e = future ? realEnd : Math.min(realEnd, Math.max(view.playMs, s));
      const x0 = Math.max(LEFT, x(new Date(s)));
      const w = Math.max(3, x(new Date(e)) - x0);
      const g = d3.select(this);
      g.select("rect.block").attr("x", x0).attr("y", row.y + 3).attr("width", w).attr("height", ROW - 6)
        .attr("fill", COLORS[t.status] || "#7b8794")
        .attr("class", `block${future ? " future" : ""}${view.selected === t.task_id ? " selected" : ""}`)
        .attr("data-task", t.task_id);
      g.select("rect.progress").attr("x", x0).attr("y", row.y + ROW - 7).attr("height", 3)
        .attr("width", t.status === "running" ? w * Math.max(0, Math.min(1, t.progress || 0)) : 0).attr("fill", "#fff")
        .attr("pointer-events", "none");
      g.select("title").text(`${t.name} · ${t.status} · ${Math.round((t.progress || 0) * 100)}%`);
    });

    nowLine.attr("x1", x(new Date(now))).attr("x2", x(new Date(now))).attr("y1", TOP).attr("y2", height)
      .attr("visibility", now >= start && now <= end ? "visible" : "hidden");
    const px = x(new Date(view.playMs));
    playLine.attr("x1", px).attr("x2", px).attr("y1", TOP - 8).attr("y2", height)
      .attr("visibility", view.playMs >= start && view.playMs <= end ? "visible" : "hidden");
    controls.time.textContent = `playhead ${new Date(view.playMs).toLocaleTimeString()}${view.follow ? " (now)" : ""}`;
    const tools = H.toolLanes.draw(toolLayer, view.tools, { x, byKey, start, end, ROW, LEFT, selected: view.selected });
    window.PAS.renders.push({ page: "sequencer", ms: performance.now() - t0, nodes: visible.length + tools });
    if (window.PAS.renders.length > 500) window.PAS.renders.splice(0, 250);
  }

  function showDetails(t) {
    const dl = controls.details;
    dl.replaceChildren();
    const add = (k, v) => dl.append(H.el("dt", null, k), H.el("dd", null, v ?? "–"));
    const s = ms(t.start_time);
    const e = ms(t.end_time);
    add("job", t.name);
    add("job id", t.task_id);
    add("agent", t.agent_id);
    add("status", t.status);
    add("progress", `${Math.round((t.progress || 0) * 100)}%`);
    add("started", t.start_time ? new Date(t.start_time).toLocaleString() : null);
    add("finished", t.end_time ? new Date(t.end_time).toLocaleString() : null);
    if (s) add("duration", `${(((e ?? H.serverNow()) - s) / 1000).toFixed(1)} s${e ? "" : " so far"}`);
  }

  // ---- interaction ----
  svgNode.addEventListener("click", (ev) => {
    const tool = ev.target.dataset && ev.target.dataset.tool;
    if (tool && view.tools.has(tool)) {
      view.selected = tool;
      controls.details.replaceChildren();
      H.toolLanes.details((k, v) => controls.details.append(H.el("dt", null, k), H.el("dd", null, v ?? "–")),
                          view.tools.get(tool));
      draw();
      return;
    }
    const id = ev.target.dataset && ev.target.dataset.task;
    if (!id || !view.tasks.has(id)) return;
    view.selected = id;
    showDetails(view.tasks.get(id));
    draw();
  });
  function setFollow(on) {
    view.follow = on;
    controls.follow.checked = on;
    if (on) { view.playing = false; controls.play.textContent = "Play"; }
  }
  function zoom(factor) {
    const { start, end } = window_();
    const centre = view.follow ? end - view.spanMs * 0.05 : (start + end) / 2;
    view.spanMs = Math.max(5_000, Math.min(7 * 86_400_000, view.spanMs * factor));
    if (!view.follow) view.endMs = centre + view.spanMs / 2;
    draw();
  }
  controls.zoomIn.addEventListener("click", () => zoom(0.5));
  controls.zoomOut.addEventListener("click", () => zoom(2));
  controls.range.addEventListener("change", () => { view.spanMs = Number(controls.range.value) * 1000; draw(); });
  controls.follow.addEventListener("change", () => { setFollow(controls.follow.checked); draw(); });
  controls.play.addEventListener("click", () => {
    if (view.playing) { view.playing = false; controls.play.textContent = "Play"; return; }
    if (view.follow || view.playMs >= H.serverNow()) {  // replay the window from its left edge
      const { start } = window_();
      setFollow(false);
      view.playMs = start;
    }
    view.playing = true;
    view.lastFrame = null;
    controls.play.textContent = "Pause";
  });
  svgNode.addEventListener("wheel", (ev) => { ev.preventDefault(); zoom(ev.deltaY > 0 ? 1.25 : 0.8); }, { passive: false });
  let drag = null;
  svgNode.addEventListener("pointerdown", (ev) => { drag = { x: ev.clientX, end: view.endMs }; });
  window.addEventListener("pointerup", () => { drag = null; });
  svgNode.addEventListener("pointermove", (ev) => {
    if (!drag || Math.abs(ev.clientX - drag.x) < 4) return;
    if (view.follow) setFollow(false);
    const perPx = view.spanMs / Math.max(1, (svgNode.clientWidth || 900) - LEFT);
    view.endMs = drag.end - (ev.clientX - drag.x) * perPx;
    draw();
  });

  function frame(ts) {
    if (view.playing) {
      const dt = view.lastFrame === null ? 0 : ts - view.lastFrame;
      view.playMs += dt * Number(controls.speed.value);
      const now = H.serverNow();
      if (view.playMs >= now) { setFollow(true); }  // caught up with the present
      else if (view.playMs > view.endMs - view.spanMs * 0.05) view.endMs = view.playMs + view.spanMs * 0.5;
      else if (view.playMs < view.endMs - view.spanMs) view.endMs = view.playMs + view.spanMs * 0.5;
    }
    view.lastFrame = ts;
    // Playing: every frame. Following now: four times a second is smooth enough, and cheap with 5,000 rows.
    if (view.playing || (view.follow && ts - (view.lastDraw || 0) >= 250)) { view.lastDraw = ts; draw(); }
    requestAnimationFrame(frame);
  }

  H.register("sequencer", {
    topics: ["jobs", "agents", "tools"],
    snapshot: () => Promise.all([H.getJSON("/api/sequencer"), H.getJSON("/api/agent-activity")]).then(([s, a]) => {
      H.noteServerTime(s.timestamp);
      view.agents = s.agents;
      view.tasks = new Map(s.tasks.map((t) => [t.task_id, t]));
      const live = [...view.tools.values()].filter((c) => c.seq > a.last_seq);  // newer than the read: kept
      view.tools = new Map([...a.tool_calls, ...live].map((c) => [c.tool_use_id, c]));
      if (view.selected && view.tasks.has(view.selected)) showDetails(view.tasks.get(view.selected));
      draw();
      return null;
    }),
    apply(env) {
      const d = env.data || {};
      if (env.event_type === "tool_call") {
        const call = H.toolLanes.fromEvent(env);
        if (call) view.tools.set(call.tool_use_id, call);
        return "applied";
      }
      if (env.event_type.startsWith("agent_") || env.event_type === "session_update") return "applied";
      if (env.event_type.startsWith("job_") && d.job_id) {
        const old = view.tasks.get(d.job_id);
        view.tasks.set(d.job_id, {
          task_id: d.job_id, agent_id: d.agent ?? old?.agent_id, name: d.task ?? old?.name, status: d.status ?? old?.status,
          progress: d.progress ?? old?.progress ?? 0, start_time: d.start_time || old?.start_time || env.ts,
          end_time: d.end_time ?? null,
        });
        if (view.selected === d.job_id) showDetails(view.tasks.get(d.job_id));
        return "applied";
      }
      return env.event_type.startsWith("service_") || env.event_type === "status_update" ? "snapshot" : "applied";
    },
    render: () => draw(),
  });
  window.addEventListener("resize", () => draw());
  requestAnimationFrame(frame);
})();

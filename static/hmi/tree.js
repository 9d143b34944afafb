// Tree: D3 hierarchy under "PAS Root" (the catalogue's parents from labels); folds (by service id) and the zoom
// survive every update. Node colour = status, size = the token governor's context ratio, with tokens and cost
// under the name. Claude Code sessions stand in a column left of the root, a dashed link to each agent they
// delegated to; a delegation (agent_delegation) pulses that link and the catalogue edge into the agent.
// A page module: its helpers come from hmi.js (window.PASHMI); it registers before DOMContentLoaded.
(function () {
  "use strict";
  const { getJSON, ago, statusClass, treeModels: models } = window.PASHMI;
  const OWN_STATUS = new Set(["queued", "running", "error", "done"]);  // the seed's colours; others as before
  const SESSION_X = -280;
  const SESSION_GAP = 34;
  const MAX_SESSIONS = 12;
  const PULSE_MS = 1200;

  (function tree() {
    const svgNode = document.getElementById("tree");
    if (!svgNode || typeof d3 === "undefined") return;
    const folded = new Set();
    const tip = document.getElementById("tip");
    let data = null;
    let sessions = new Map();  // session_id → session (status, delegations by service id)
    const positions = new Map();  // service id → {x, y} of the last layout (visible nodes only)
    let layer = null;
    let linkLayer = null;
    let sessionLayer = null;
    let nodeLayer = null;
    window.PAS.pulses = [];
    const key = (d) => models.keyOf(d.data);  // a service id; the models branch's groups have their own keys
    const radius = (d) => (d.depth === 0 ? 9 : 5 + 9 * Math.max(0, Math.min(1, d.data.ctx_ratio || 0)));
    const nodeClass = (s) => (OWN_STATUS.has(s) ? `st-${s}` : statusClass(s));
    const kTokens = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));
    function meta(d) {
      const parts = [];
      if (typeof d.ctx_ratio === "number") parts.push(`ctx ${Math.round(d.ctx_ratio * 100)}%`);
      if (typeof d.tokens === "number") parts.push(`${kTokens(d.tokens)} tok`);
      if (typeof d.cost_usd === "number") parts.push(`$${d.cost_usd.toFixed(4)}`);
      else if (typeof d.tokens === "number") parts.push("$ –");  // Claude Code reported no cost
      return parts.join(" · ");
    }

    function draw() {
      const t0 = performance.now();
      const svg = d3.select(svgNode);
      if (!layer) {
        layer = svg.append("g");
        linkLayer = layer.append("g");  // links under nodes, whatever order updates arrive in
        sessionLayer = layer.append("g");
        nodeLayer = layer.append("g");
        const zoom = d3.zoom().scaleExtent([0.05, 4]).on("zoom", (e) => layer.attr("transform", e.transform));
        svg.call(zoom).call(zoom.transform, d3.zoomIdentity.translate(-SESSION_X + 60, svgNode.clientHeight / 2));
      }
      const root = d3.hierarchy(data, (d) => (folded.has(models.keyOf(d)) ? null : d.children));
      d3.tree().nodeSize([30, 220]).separation(models.separation)(root);
      positions.clear();
      for (const d of root.descendants()) if (d.data.service_id) positions.set(d.data.service_id, { x: d.x, y: d.y });
      const link = d3.linkHorizontal().x((d) => d.y).y((d) => d.x);
      linkLayer.selectAll("path.link").data(root.links(), (l) => key(l.target))
        .join((enter) => enter.append("path").attr("class", "link"))
        .attr("data-target", (l) => key(l.target))  // attribute: inert
        .attr("d", link);
      const nodes = nodeLayer.selectAll("g.node").data(root.descendants(), key).join((enter) => {
        const g = enter.append("g");
        g.append("circle");
        g.append("text").attr("class", "label").attr("dy", "0.32em").attr("x", 16);
        g.append("text").attr("class", "meta").attr("dy", "1.5em").attr("x", 16);
        g.append("text").attr("class", "caps").attr("dy", "2.7em").attr("x", 16);  // models only
        g.append("text").attr("class", "reason").attr("dy", "3.9em").attr("x", 16);
        return g;
      });
      nodes.attr("class", (d) => `node ${d.depth === 0 ? "ok" : nodeClass(d.data.status)}${folded.has(key(d)) ? " folded" : ""}`
          + (models.isModel(d.data) ? " model" : models.isGroup(d.data) ? " group" : ""))
        .attr("data-id", (d) => (models.isGroup(d.data) ? null : key(d)))
        .attr("data-group", (d) => (models.isGroup(d.data) ? d.data.group : null))
        .attr("data-status", (d) => d.data.status || "")
        .attr("transform", (d) => `translate(${d.y},${d.x})`);
      nodes.select("circle").attr("r", radius);
      nodes.select("text.label").text((d) => d.data.name + (folded.has(key(d)) && d.data.children && d.data.children.length
        ? ` (+${d.data.children.length})` : ""));  // text(): inert, whatever the agent named itself
      const extra = (d) => (d.depth === 0 ? null : models.lines(d.data));
      nodes.select("text.meta").text((d) => (d.depth === 0 ? "" : (extra(d) || { meta: meta(d.data) }).meta));
      nodes.select("text.caps").text((d) => (extra(d) || { caps: "" }).caps);
      nodes.select("text.reason").text((d) => (extra(d) || { reason: "" }).reason);  // text(): inert
      drawSessions();
      const ms = performance.now() - t0;
      window.PAS.renders.push({ page: "tree", ms, nodes: root.descendants().length });
    }

    // The newest sessions, top to bottom; a dashed link to each visible agent a session delegated to.
    function shownSessions() {
      return [...sessions.values()].sort((a, b) => Date.parse(b.last_ts) - Date.parse(a.last_ts)).slice(0, MAX_SESSIONS);
    }
    function drawSessions() {
      if (!sessionLayer) return;
      const shown = shownSessions();
      const top = -((shown.length - 1) * SESSION_GAP) / 2;
      shown.forEach((s, i) => { s.x = top + i * SESSION_GAP; });
      const pairs = [];
      for (const s of shown) {
        for (const d of s.delegations.values()) {
          const to = positions.get(d.to_service_id);
          if (to) pairs.push({ s, d, to });
        }
      }
      const curve = d3.linkHorizontal().x((p) => p[0]).y((p) => p[1]);
      sessionLayer.selectAll("path.dlink").data(pairs, (p) => `${p.s.session_id}\u0000${p.d.to_service_id}`)
        .join((enter) => enter.append("path").attr("class", "dlink"))
        .attr("data-session", (p) => p.s.session_id)
        .attr("data-target", (p) => p.d.to_service_id)
        .attr("stroke-width", (p) => 1 + Math.log2(1 + p.d.count))  // wider: more delegations
        .attr("d", (p) => curve({ source: [SESSION_X + 150, p.s.x], target: [p.to.y, p.to.x] }));
      const boxes = sessionLayer.selectAll("g.session").data(shown, (s) => s.session_id).join((enter) => {
        const g = enter.append("g");
        g.append("rect").attr("x", 0).attr("y", -11).attr("width", 150).attr("height", 22).attr("rx", 4);
        g.append("text").attr("x", 6).attr("dy", "0.32em");
        return g;
      });
      boxes.attr("class", (s) => `session ss-${s.status === "open" ? "open" : "quiet"}`)
        .attr("data-session", (s) => s.session_id)
        .attr("transform", (s) => `translate(${SESSION_X},${s.x})`);
      boxes.select("text").text((s) => `session ${s.session_id.slice(0, 8)}${s.session_id.length > 8 ? "…" : ""} · ${s.status}`);
    }

    function pulse(selector) {
      const node = svgNode.querySelector(selector);
      if (!node) return false;
      node.classList.remove("pulse");
      void node.getBoundingClientRect();  // restart the animation
      node.classList.add("pulse");
      clearTimeout(node._pulseTimer);
      node._pulseTimer = setTimeout(() => node.classList.remove("pulse"), PULSE_MS);
      return true;
    }
    const attrSel = (name, value) => `[${name}="${CSS.escape(value)}"]`;

    function setSessions(list) {
      sessions = new Map(list.map((s) => [s.session_id, {
        ...s, delegations: new Map(s.delegations.map((d) => [d.to_service_id, d])) }]));
    }
    function session(id, ts) {
      let s = sessions.get(id);
      if (!s) { s = { session_id: id, status: "open", first_ts: ts, last_ts: ts, tool_calls: 0, delegations: new Map() }; sessions.set(id, s); }
      if (Date.parse(ts) > Date.parse(s.last_ts)) s.last_ts = ts;
      return s;
    }
    function delegated(env) {
      const d = env.data || {};
      if (typeof d.session_id !== "string" || typeof d.to_service_id !== "string") return;
      const s = session(d.session_id, env.ts);
      const old = s.delegations.get(d.to_service_id);
      s.delegations.set(d.to_service_id, { to_agent_type: d.to_agent_type, to_service_id: d.to_service_id,
        to_registered: !!d.to_registered, count: (old ? old.count : 0) + 1, last_ts: env.ts });
      drawSessions();
      const edge = pulse(`path.link${attrSel("data-target", d.to_service_id)}`);
      const from = pulse(`path.dlink${attrSel("data-session", d.session_id)}${attrSel("data-target", d.to_service_id)}`);
      pulse(`g.node${attrSel("data-id", d.to_service_id)}`);
      window.PAS.pulses.push({ seq: env.seq, session_id: d.session_id, to_service_id: d.to_service_id, edge, from });
      if (window.PAS.pulses.length > 500) window.PAS.pulses.splice(0, 250);
    }

    nodeLayerEvents();
    function nodeLayerEvents() {
      svgNode.addEventListener("click", (e) => {
        const g = e.target.closest && e.target.closest("g.node");
        if (!g) return;
        const id = key(d3.select(g).datum());
        folded.has(id) ? folded.delete(id) : folded.add(id);
        draw();
      });
      svgNode.addEventListener("mousemove", (e) => {
        const g = e.target.closest && (e.target.closest("g.node") || e.target.closest("g.session"));
        if (!g) { tip.hidden = true; return; }
        const d = d3.select(g).datum();
        tip.textContent = g.classList.contains("session") ? sessionTip(d)
          : models.isModel(d.data) || models.isGroup(d.data) ? models.tip(d.data, ago) : nodeTip(d.data);  // inert
        const box = svgNode.getBoundingClientRect();
        tip.style.left = `${e.clientX - box.left + 14}px`;
        tip.style.top = `${e.clientY - box.top + 14}px`;
        tip.hidden = false;
      });
      svgNode.addEventListener("mouseleave", () => { tip.hidden = true; });
    }
    function nodeTip(d) {
      return [d.display_name && d.display_name !== d.name ? `${d.name} (${d.display_name})` : d.name, d.status, d.type,
        d.agent_role, d.tier !== null && d.tier !== undefined ? `tier ${d.tier}` : null, meta(d) || null,
        typeof d.runs === "number" ? `${d.runs} Claude Code run(s)` : null,
        d.last_heartbeat ? `last beat ${ago(d.last_heartbeat)}` : null].filter(Boolean).join("\n");
    }
    function sessionTip(s) {
      return [`Claude Code session ${s.session_id}`, s.status, `${s.tool_calls} tool call(s)`,
        ...[...s.delegations.values()].map((d) => `→ ${d.to_agent_type} ×${d.count}`)].join("\n");
    }
    function patch(node, id, status) {
      if (node.service_id === id) { node.status = status; return true; }
      return (node.children || []).some((c) => patch(c, id, status));
    }
    let dirty = false;
    window.PASHMI.register("tree", {
      topics: ["agents", "alerts"],
      periodic: false,  // statuses arrive as events; a 5,000-node re-layout every 5 s is not worth it
      snapshot: () => Promise.all([getJSON("/api/tree"), getJSON("/api/agent-activity?tools=false")]).then(([t, a]) => {
        data = t;
        setSessions(a.sessions);
        draw();
        return null;
      }),
      apply(env) {
        const d = env.data || {};
        const t = env.event_type;
        if (t === "status_update" && data && d.service_id && d.to && patch(data, d.service_id, d.to)) {
          models.patched(data, d);  // a model's reason and its groups' colours
          dirty = true;
          return "applied";
        }
        if (t === "agent_delegation") { if (data) delegated(env); return "applied"; }
        if (t === "session_update" && typeof d.session_id === "string") {
          session(d.session_id, env.ts).status = String(d.status);
          dirty = true;
          return "applied";
        }
        if (t === "agent_run_started" || t === "agent_run_finished") return "applied";  // status_update colours it
        return t === "alert" ? "applied" : "snapshot";  // agent_usage: tokens, cost and context are re-read
      },
      render() { if (dirty && data) { dirty = false; draw(); } },
    });
  })();
})();

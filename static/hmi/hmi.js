// PAS HMI. Snapshot over REST, then live events over Socket.IO (websocket only); a gap in `seq` or a
// reconnect re-reads the snapshot (the live stream is at most once). Agent-supplied strings are written
// with textContent only.
(function () {
  "use strict";
  const page = document.body.dataset.page;
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };
  const getJSON = (url) => fetch(url, { headers: { Accept: "application/json" } }).then((r) => r.json());
  const ago = (iso) => {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
  };
  const state = { lastSeq: null, timer: null };
  window.PAS = { events: [], applied: {} };  // for tests and the lag benchmark

  function statusClass(status) {
    if (status === "down" || status === "error") return "down";
    if (status === "degraded" || status === "blocked") return "degraded";
    return "ok";
  }

  function renderCore(metrics) {
    const root = document.getElementById("core");
    if (!root) return;
    root.replaceChildren(...Object.entries(metrics.services).map(([name, body]) => {
      const card = el("div", `card ${body.status === "ok" ? "ok" : "down"}`);
      const title = el("div", "name");
      title.append(el("span", `light ${body.status === "ok" ? "ok" : "down"}`), el("span", null, name));
      card.append(title, el("div", "meta", body.status));
      return card;
    }));
  }

  function renderServices(services) {
    const root = document.getElementById("services");
    if (!root) return;
    document.getElementById("count").textContent = `(${services.length})`;
    root.replaceChildren(...services.map((s) => {
      const card = el("div", `card ${statusClass(s.status)}`);
      card.dataset.serviceId = s.service_id;
      const title = el("div", "name");
      title.append(el("span", `light ${statusClass(s.status)}`), el("span", "label", s.name));
      const beat = el("div", "meta beat", `last beat ${ago(s.last_heartbeat_ts)}`);
      beat.dataset.ts = s.last_heartbeat_ts;
      card.append(title, el("div", "meta", `${s.type} · ${s.role} · ${s.status}`), beat);
      if (s.message) card.append(el("div", "meta", s.message));
      return card;
    }));
    const down = services.filter((s) => s.status === "down");
    const banner = document.getElementById("banner");
    banner.hidden = down.length === 0;
    banner.textContent = down.length ? `${down.length} service(s) down: ${down.map((s) => s.name).join(", ")}` : "";
  }

  // The tree: D3 hierarchy under "PAS Root"; folds (by service id) and the zoom survive every update.
  const folded = new Set();
  let treeLayer = null;
  let linkLayer = null;
  let nodeLayer = null;
  function renderTree(tree) {
    const svgNode = document.getElementById("tree");
    if (!svgNode || typeof d3 === "undefined") return;
    const svg = d3.select(svgNode);
    if (!treeLayer) {
      treeLayer = svg.append("g");
      linkLayer = treeLayer.append("g");  // links under nodes, whatever order updates arrive in
      nodeLayer = treeLayer.append("g");
      const zoom = d3.zoom().scaleExtent([0.2, 4]).on("zoom", (e) => treeLayer.attr("transform", e.transform));
      svg.call(zoom).call(zoom.transform, d3.zoomIdentity.translate(60, svgNode.clientHeight / 2));
    }
    const key = (d) => d.data.service_id || "PAS Root";
    const root = d3.hierarchy(tree, (d) => (folded.has(d.service_id || "PAS Root") ? null : d.children));
    d3.tree().nodeSize([30, 200])(root);
    linkLayer.selectAll("path.link").data(root.links(), (l) => key(l.target)).join("path")
      .attr("class", "link")
      .attr("d", d3.linkHorizontal().x((d) => d.y).y((d) => d.x));
    const nodes = nodeLayer.selectAll("g.node").data(root.descendants(), key).join((enter) => {
      const g = enter.append("g");
      g.append("circle").attr("r", 7);
      g.append("text").attr("dy", "0.32em").attr("x", 12);
      g.append("title");
      return g;
    });
    nodes.attr("class", (d) => `node ${d.depth === 0 ? "ok" : statusClass(d.data.status)}` +
                               (folded.has(key(d)) ? " folded" : ""))
      .attr("data-id", key)
      .attr("transform", (d) => `translate(${d.y},${d.x})`)
      .on("click", (_e, d) => {
        folded.has(key(d)) ? folded.delete(key(d)) : folded.add(key(d));
        renderTree(tree);
      });
    nodes.select("text").text((d) => d.data.name);  // text(): inert, whatever the agent named itself
    nodes.select("title").text((d) => [d.data.name, d.data.status, d.data.agent_role, d.data.tier !== null &&
      d.data.tier !== undefined ? `tier ${d.data.tier}` : null, d.data.last_heartbeat].filter(Boolean).join(" · "));
  }

  function renderAlerts(alerts) {
    const body = document.querySelector("#alerts tbody");
    if (!body) return;
    body.replaceChildren(...alerts.slice().reverse().map((a) => {
      const tr = el("tr");
      tr.append(el("td", null, a.ts), el("td", null, a.alert_type), el("td", null, a.service_name || a.job_id || ""),
                el("td", null, a.action || a.severity || ""), el("td", null, a.missed_beats ?? ""));
      return tr;
    }));
  }

  function renderCosts(view) {
    const summary = document.getElementById("cost-summary");
    if (!summary) return;
    const m = view.cost_metrics;
    const card = (label, value) => { const c = el("div", "card"); c.append(el("div", "muted", label), el("div", "big", value)); return c; };
    summary.replaceChildren(card("spent (USD)", m.total_cost_usd.toFixed(6)), card("requests", m.total_requests),
      card("tokens", m.total_tokens), card("USD / min", view.usd_per_min.toFixed(6)),
      card("tokens / min", view.tokens_per_min.toFixed(1)), card("errors", m.errors),
      card("providers active", view.provider_stats.active_providers));
    const rows = Object.keys(m.requests_per_provider).sort().map((p) => {
      const tr = el("tr");
      tr.append(el("td", null, p), el("td", null, m.requests_per_provider[p]), el("td", null, m.tokens_per_provider[p] ?? 0),
                el("td", null, (m.cost_per_provider[p] ?? 0).toFixed(6)));
      return tr;
    });
    document.querySelector("#by-provider tbody").replaceChildren(...rows);
    document.querySelector("#receipts tbody").replaceChildren(...view.recent.slice().reverse().map((r) => {
      const tr = el("tr", r.status === "success" ? null : "bad");
      tr.append(el("td", null, r.timestamp), el("td", null, r.run_id), el("td", null, r.agent),
                el("td", null, r.provider || ""), el("td", null, r.dry_run ? "dry run" : r.status),
                el("td", null, r.input_tokens + r.output_tokens), el("td", null, r.cost_usd.toFixed(6)),
                el("td", null, Math.round(r.latency_ms)));
      return tr;
    }));
  }
  const windowSelect = document.getElementById("window");
  if (windowSelect) windowSelect.addEventListener("change", () => refresh());

  const pauseButton = document.getElementById("pause");
  function renderControl(ctl) {
    pauseButton.dataset.paused = ctl.paused ? "1" : "0";
    pauseButton.textContent = ctl.paused ? "Resume all" : "Pause all";
    pauseButton.classList.toggle("paused", ctl.paused);
  }
  pauseButton.addEventListener("click", () => {
    const action = pauseButton.dataset.paused === "1" ? "resume_all" : "pause_all";
    fetch("/api/action", { method: "POST", headers: { "Content-Type": "application/json" },
                           body: JSON.stringify({ action }) })
      .then((r) => r.json()).then((b) => renderControl(b.state));
  });

  function refresh() {
    const jobs = [getJSON("/api/control").then(renderControl)];
    if (page === "dashboard") {
      jobs.push(getJSON("/api/metrics").then(renderCore), getJSON("/api/services").then((b) => renderServices(b.services)));
    } else if (page === "tree") {
      jobs.push(getJSON("/api/tree").then(renderTree));
    } else if (page === "costs") {
      const win = windowSelect ? windowSelect.value : "hour";
      jobs.push(getJSON(`/api/costs?window=${encodeURIComponent(win)}`).then(renderCosts));
    } else if (page === "alerts") {
      jobs.push(getJSON("/api/alerts").then((b) => renderAlerts(b.alerts)));
    }
    return Promise.all(jobs);
  }

  function scheduleRefresh(seq) {
    if (state.timer) return;
    state.timer = setTimeout(() => {
      state.timer = null;
      refresh().then(() => { if (seq !== undefined) window.PAS.applied[seq] = performance.now(); });
    }, 100);
  }

  const socket = io({ transports: ["websocket"] });
  const conn = document.getElementById("conn");
  socket.on("connect", () => { conn.textContent = "live"; conn.className = "conn on"; refresh(); });
  socket.on("disconnect", () => { conn.textContent = "offline"; conn.className = "conn off"; });
  socket.on("connected", (info) => { state.lastSeq = info.last_seq; });
  socket.on("event", (env) => {
    window.PAS.events.push(env.seq);
    if (state.lastSeq !== null && env.seq > state.lastSeq + 1) scheduleRefresh();  // a gap: re-read
    state.lastSeq = Math.max(state.lastSeq ?? 0, env.seq);
    scheduleRefresh(env.seq);
  });
  setInterval(() => {
    document.querySelectorAll(".beat").forEach((n) => { n.textContent = `last beat ${ago(n.dataset.ts)}`; });
  }, 1000);
  refresh();
})();

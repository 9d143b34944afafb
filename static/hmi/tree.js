// Tree: D3 hierarchy under "PAS Root"; folds (by service id) and the zoom survive every update.
// A page module: its helpers come from hmi.js (window.PASHMI); it registers before DOMContentLoaded.
(function () {
  "use strict";
  const { getJSON, ago, statusClass } = window.PASHMI;

  (function tree() {
    const svgNode = document.getElementById("tree");
    if (!svgNode || typeof d3 === "undefined") return;
    const folded = new Set();
    const tip = document.getElementById("tip");
    let data = null;
    let layer = null;
    let linkLayer = null;
    let nodeLayer = null;
    const key = (d) => d.data.service_id || "PAS Root";
    const radius = (d) => (d.depth === 0 ? 9 : 5 + 9 * Math.max(0, Math.min(1, d.data.ctx_ratio || 0)));
    function draw() {
      const t0 = performance.now();
      const svg = d3.select(svgNode);
      if (!layer) {
        layer = svg.append("g");
        linkLayer = layer.append("g");  // links under nodes, whatever order updates arrive in
        nodeLayer = layer.append("g");
        const zoom = d3.zoom().scaleExtent([0.05, 4]).on("zoom", (e) => layer.attr("transform", e.transform));
        svg.call(zoom).call(zoom.transform, d3.zoomIdentity.translate(60, svgNode.clientHeight / 2));
      }
      const root = d3.hierarchy(data, (d) => (folded.has(d.service_id || "PAS Root") ? null : d.children));
      d3.tree().nodeSize([26, 220])(root);
      const link = d3.linkHorizontal().x((d) => d.y).y((d) => d.x);
      linkLayer.selectAll("path.link").data(root.links(), (l) => key(l.target))
        .join((enter) => enter.append("path").attr("class", "link"))
        .attr("d", link);
      const nodes = nodeLayer.selectAll("g.node").data(root.descendants(), key).join((enter) => {
        const g = enter.append("g");
        g.append("circle");
        g.append("text").attr("dy", "0.32em").attr("x", 14);
        return g;
      });
      nodes.attr("class", (d) => `node ${d.depth === 0 ? "ok" : statusClass(d.data.status)}${folded.has(key(d)) ? " folded" : ""}`)
        .attr("data-id", key)
        .attr("transform", (d) => `translate(${d.y},${d.x})`);
      nodes.select("circle").attr("r", radius);
      nodes.select("text").text((d) => d.data.name + (folded.has(key(d)) && d.data.children && d.data.children.length
        ? ` (+${d.data.children.length})` : ""));  // text(): inert, whatever the agent named itself
      const ms = performance.now() - t0;
      window.PAS.renders.push({ page: "tree", ms, nodes: root.descendants().length });
    }
    nodeLayerEvents();
    function nodeLayerEvents() {
      svgNode.addEventListener("click", (e) => {
        const g = e.target.closest && e.target.closest("g.node");
        if (!g) return;
        const id = g.dataset.id;
        folded.has(id) ? folded.delete(id) : folded.add(id);
        draw();
      });
      svgNode.addEventListener("mousemove", (e) => {
        const g = e.target.closest && e.target.closest("g.node");
        if (!g) { tip.hidden = true; return; }
        const d = d3.select(g).datum().data;
        tip.textContent = [d.name, d.status, d.type, d.agent_role, d.tier !== null && d.tier !== undefined ? `tier ${d.tier}` : null,
          d.ctx_ratio !== null && d.ctx_ratio !== undefined ? `context ${Math.round(d.ctx_ratio * 100)}%` : null,
          d.last_heartbeat ? `last beat ${ago(d.last_heartbeat)}` : null].filter(Boolean).join("\n");
        const box = svgNode.getBoundingClientRect();
        tip.style.left = `${e.clientX - box.left + 14}px`;
        tip.style.top = `${e.clientY - box.top + 14}px`;
        tip.hidden = false;
      });
      svgNode.addEventListener("mouseleave", () => { tip.hidden = true; });
    }
    function patch(node, id, status) {
      if (node.service_id === id) { node.status = status; return true; }
      return (node.children || []).some((c) => patch(c, id, status));
    }
    let dirty = false;
    window.PASHMI.register("tree", {
      topics: ["agents", "alerts"],
      periodic: false,  // statuses arrive as events; a 5,000-node re-layout every 5 s is not worth it
      snapshot: () => getJSON("/api/tree").then((t) => { data = t; draw(); return null; }),
      apply(env) {
        const d = env.data || {};
        if (env.event_type === "status_update" && data && d.service_id && d.to && patch(data, d.service_id, d.to)) {
          dirty = true;
          return "applied";
        }
        return env.event_type === "alert" ? "applied" : "snapshot";
      },
      render() { if (dirty && data) { dirty = false; draw(); } },
    });
  })();
})();

// Resources: host, capacity bars, holdings by agent, active reservations.
// A page module: its helpers come from hmi.js (window.PASHMI); it registers before DOMContentLoaded.
(function () {
  "use strict";
  const { el, getJSON, ago, noteServerTime, bar, fmt } = window.PASHMI;

  (function resources() {
    const capRoot = document.getElementById("capacity");
    if (!capRoot) return;
    const labels = { cpu: "CPU", mem_mb: "memory (MB)", gpu: "GPU", gpu_mem_mb: "GPU memory (MB)", disk_gb: "disk (GB)" };
    window.PASHMI.register("resources", {
      topics: ["jobs", "agents"],
      snapshot: () => getJSON("/api/resources").then((v) => {
        noteServerTime(v.timestamp);
        const h = v.host;
        const c = (label, value, extra) => { const n = el("div", "card"); n.append(el("div", "muted", label), el("div", "big", value)); if (extra) n.append(extra); return n; };
        document.getElementById("host").replaceChildren(
          c("CPUs", h.cpus), c("CPU busy", `${fmt(h.cpu_percent, 0)}%`, bar(h.cpu_percent / 100)),
          c("memory used", `${h.mem_used_mb} / ${h.mem_total_mb} MB`, bar(h.mem_percent / 100)), c("load (1 min)", fmt(h.load_1m, 2)),
          c("ports", `${v.ports.reserved} held / ${v.ports.available} free`),
        );
        capRoot.replaceChildren(...Object.entries(v.capacity).map(([name, q]) => {
          const row = el("div", "res");
          row.dataset.resource = name;
          const total = Number(q.total_capacity);
          row.append(el("span", null, labels[name] || name),
                     bar(q.utilization, q.utilization > 0.9 ? "hot" : q.utilization > 0.7 ? "warning" : "ok"),
                     el("span", "muted", `${q.allocated} / ${total} (${Math.round(q.utilization * 100)}%)`));
          return row;
        }));
        document.querySelector("#holdings tbody").replaceChildren(...Object.entries(v.holdings).sort().map(([agent, hd]) => {
          const tr = el("tr");
          tr.append(el("td", null, agent), el("td", null, hd.reservations), el("td", null, hd.cpu), el("td", null, hd.mem_mb), el("td", null, hd.gpu));
          return tr;
        }));
        document.querySelector("#reservations tbody").replaceChildren(...v.reservations.map((r) => {
          const tr = el("tr");
          tr.append(el("td", null, ago(r.created_at)), el("td", null, r.reservation_id), el("td", null, r.job_id), el("td", null, r.agent),
                    el("td", null, r.resources.cpu), el("td", null, r.resources.mem_mb), el("td", null, r.resources.gpu),
                    el("td", null, r.resources.ports.join(", ")));
          return tr;
        }));
        return null;
      }),
      apply: (env) => (env.event_type.startsWith("reservation_") || env.event_type.startsWith("job_") ? "snapshot" : "applied"),
    });
  })();
})();

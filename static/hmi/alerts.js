// Alerts: history with filters; acknowledge (audited through POST /api/action).
// A page module: its helpers come from hmi.js (window.PASHMI); it registers before DOMContentLoaded.
(function () {
  "use strict";
  const { el, getJSON, post, clock, scheduleSnapshot } = window.PASHMI;

  (function alerts() {
    const body = document.querySelector("#alerts tbody");
    if (!body) return;
    const filters = { alert_type: "f-type", severity: "f-severity", source: "f-source", service: "f-service", acknowledged: "f-ack" };
    const query = () => {
      const q = new URLSearchParams({ limit: "500" });
      for (const [param, id] of Object.entries(filters)) {
        const v = document.getElementById(id).value.trim();
        if (v) q.set(param, v);
      }
      return q.toString();
    };
    for (const id of Object.values(filters)) document.getElementById(id).addEventListener("input", () => scheduleSnapshot(200));
    function row(a) {
      const tr = el("tr", a.acknowledged ? "acked" : null);
      tr.dataset.seq = a.seq;
      const ack = el("td");
      if (!a.acknowledged) {
        const b = el("button", "control mini", "acknowledge");
        b.type = "button";
        b.addEventListener("click", () => post("/api/action", { action: "ack_alert", alert_seq: a.seq }).then(() => scheduleSnapshot(0)).catch(() => {}));
        ack.append(b);
      } else ack.append(el("span", "muted", `ack ${clock(a.acknowledged_at)}`));
      tr.append(el("td", null, clock(a.ts)), el("td", `sev-${a.severity}`, a.severity || ""), el("td", null, a.alert_type),
                el("td", null, a.service_name || a.agent || a.job_id || a.provider || ""), el("td", null, a.source || "heartbeat_monitor"),
                el("td", null, a.action || a.message || ""), el("td", null, a.missed_beats ?? ""), ack);
      return tr;
    }
    window.PASHMI.register("alerts", {
      topics: ["alerts", "agents"],
      snapshot: () => getJSON(`/api/alerts?${query()}`).then((b) => {
        body.replaceChildren(...b.alerts.slice().reverse().map(row));
        document.getElementById("alert-count").textContent = `${b.alerts.length} shown`;
        return null;
      }),
      apply: (env) => (env.event_type === "alert" || env.event_type === "operator_action" ? "snapshot" : "applied"),
    });
  })();
})();

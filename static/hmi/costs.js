// Costs: by provider, by agent and run, $/min and tokens/min, receipts live.
// A page module: its helpers come from hmi.js (window.PASHMI); it registers before DOMContentLoaded.
(function () {
  "use strict";
  const { el, getJSON, scheduleSnapshot } = window.PASHMI;

  (function costs() {
    const summary = document.getElementById("cost-summary");
    if (!summary) return;
    const windowSelect = document.getElementById("window");
    windowSelect.addEventListener("change", () => scheduleSnapshot(0));
    window.PASHMI.register("costs", {
      topics: ["costs"],
      snapshot: () => getJSON(`/api/costs?window=${encodeURIComponent(windowSelect.value)}`).then((view) => {
        const m = view.cost_metrics;
        const card = (label, value) => { const c = el("div", "card"); c.append(el("div", "muted", label), el("div", "big", value)); return c; };
        summary.replaceChildren(card("spent (USD)", m.total_cost_usd.toFixed(6)), card("requests", m.total_requests),
          card("tokens", m.total_tokens), card("USD / min", view.usd_per_min.toFixed(6)),
          card("tokens / min", view.tokens_per_min.toFixed(1)), card("errors", m.errors),
          card("providers active", view.provider_stats.active_providers));
        document.querySelector("#by-provider tbody").replaceChildren(...Object.keys(m.requests_per_provider).sort().map((p) => {
          const tr = el("tr");
          tr.append(el("td", null, p), el("td", null, m.requests_per_provider[p]), el("td", null, m.tokens_per_provider[p] ?? 0),
                    el("td", null, (m.cost_per_provider[p] ?? 0).toFixed(6)));
          return tr;
        }));
        const groups = new Map();
        for (const r of view.recent) {
          const k = `${r.agent}\u0000${r.run_id}`;
          const g = groups.get(k) || { agent: r.agent, run: r.run_id, n: 0, tokens: 0, cost: 0 };
          g.n += 1; g.tokens += r.input_tokens + r.output_tokens; g.cost += r.cost_usd;
          groups.set(k, g);
        }
        document.querySelector("#by-agent tbody").replaceChildren(...[...groups.values()].sort((a, b) => b.cost - a.cost).map((g) => {
          const tr = el("tr");
          tr.append(el("td", null, g.agent), el("td", null, g.run), el("td", null, g.n), el("td", null, g.tokens), el("td", null, g.cost.toFixed(6)));
          return tr;
        }));
        document.querySelector("#receipts tbody").replaceChildren(...view.recent.slice().reverse().map((r) => {
          const tr = el("tr", r.status === "success" ? null : "bad");
          tr.append(el("td", null, r.timestamp), el("td", null, r.run_id), el("td", null, r.agent),
                    el("td", null, r.provider || ""), el("td", null, r.dry_run ? "dry run" : r.status),
                    el("td", null, r.input_tokens + r.output_tokens), el("td", null, r.cost_usd.toFixed(6)),
                    el("td", null, Math.round(r.latency_ms)));
          return tr;
        }));
        return null;
      }),
      apply: () => "snapshot",
    });
  })();
})();

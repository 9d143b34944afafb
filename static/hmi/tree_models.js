// The tree's "models" branch (GET /api/tree): a synthetic root-level node "models", one group per provider (local,
// openai …), one node per registered type "model" service with its status, provider, model, caps and — while it is
// not ok — the reason its last heartbeat gave. Groups have no service id: they are keyed by `group`, which no
// service id can equal (the key carries a control character, which the registry refuses in ids). A status_update
// patches a model's status and reason and recolours its groups (worst member). Every string is written with
// D3's .text() or textContent by tree.js: a model's name or reason is never markup.
// Loaded before tree.js, which reads window.PASHMI.treeModels.
(function () {
  "use strict";
  // The registry's healthy statuses (app/domain/registry/service.py HEALTHY): no reason shown.
  const HEALTHY = new Set(["ok", "running", "queued", "waiting_approval", "done", "paused"]);
  const REASON_CHARS = 90;  // on the picture; the tip has it whole
  const health = (s) => (s === "down" ? "down" : HEALTHY.has(s) ? "ok" : "degraded");
  const worst = (list) => {
    const levels = new Set(list.map(health));
    return levels.has("down") ? "down" : levels.has("degraded") ? "degraded" : "ok";
  };
  const isModel = (n) => n.type === "model";
  const isGroup = (n) => typeof n.group === "string";
  const keyOf = (n) => (isGroup(n) ? `\u0001group:${n.group}` : n.service_id || "PAS Root");
  const clip = (s) => (s.length > REASON_CHARS ? `${s.slice(0, REASON_CHARS - 1)}…` : s);
  const count = (n) => (n.group === "models" ? n.children.reduce((k, g) => k + g.children.length, 0) : n.children.length);

  // The second to fourth lines under a node's name ("" when the node has none).
  function lines(n) {
    if (isGroup(n)) return { meta: `${count(n)} model(s) · ${n.status}`, caps: "", reason: "" };
    if (!isModel(n)) return null;
    const what = [n.status, n.provider, n.model].filter((x) => x !== null && x !== undefined && x !== "");
    return {
      meta: what.map(String).join(" · "),
      caps: Array.isArray(n.caps) ? n.caps.join(", ") : "",
      reason: typeof n.reason === "string" ? clip(n.reason) : "",
    };
  }

  function tip(n, ago) {
    if (isGroup(n)) return [n.group === "models" ? "models" : `models · ${n.name}`, n.status, `${count(n)} model(s)`].join("\n");
    return [n.name, `${n.status} · model`, n.provider ? `provider ${n.provider}` : null,
      n.model ? `model ${n.model}` : null, Array.isArray(n.caps) && n.caps.length ? `caps ${n.caps.join(", ")}` : null,
      typeof n.reason === "string" ? `reason: ${n.reason}` : null,
      n.last_heartbeat ? `last beat ${ago(n.last_heartbeat)}` : null].filter(Boolean).join("\n");
  }

  // A status_update already applied to the node's status: its reason and its groups' colours follow.
  function patched(root, d) {
    const branch = (root.children || []).find((c) => c.group === "models");
    if (!branch) return false;
    let hit = false;
    for (const g of branch.children) {
      for (const m of g.children) {
        if (m.service_id !== d.service_id) continue;
        hit = true;
        if (HEALTHY.has(m.status)) m.reason = null;
        else if ("message" in d) m.reason = typeof d.message === "string" ? d.message : null;
      }
      g.status = worst(g.children.map((c) => c.status));
    }
    branch.status = worst(branch.children.map((g) => g.status));
    return hit;
  }

  // Room for a model's four lines: its neighbours stand further apart.
  const separation = (a, b) => (a.parent === b.parent ? 1 : 2) * (isModel(a.data) || isModel(b.data) ? 2.4 : 1);

  window.PASHMI.treeModels = { isModel, isGroup, keyOf, lines, tip, patched, separation };
})();

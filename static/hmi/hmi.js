// PAS HMI. Each page loads a REST snapshot, then applies live events from Socket.IO (websocket only). The live
// stream is at most once: a client subscribed to everything replays a gap or a reconnect by seq from
// /api/event-stream/events; a page subscribed to topics re-reads its snapshot. Agent-supplied strings are only
// ever written with textContent (or D3's .text()), never as markup.
(function () {
  "use strict";
  const page = document.body.dataset.page;

  // ---- small helpers -------------------------------------------------------------------------------------
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  };
  const store = {
    get: (k, dflt) => { try { return localStorage.getItem(k) ?? dflt; } catch (_e) { return dflt; } },
    set: (k, v) => { try { localStorage.setItem(k, v); } catch (_e) { /* private mode: not persisted */ } },
  };
  const token = () => { try { return sessionStorage.getItem("pas.token"); } catch (_e) { return null; } };
  const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});
  const getJSON = (url) => fetch(url, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(15000) }).then((r) => {
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return r.json();
  });
  const signin = document.getElementById("signin");
  function post(url, body) {
    return fetch(url, { method: "POST", headers: { "Content-Type": "application/json", ...authHeaders() },
                        body: JSON.stringify(body) })
      .then((r) => r.json().then((b) => {
        if (r.status === 401) signin.hidden = false;
        if (!r.ok) throw new Error(b.detail || `HTTP ${r.status}`);
        return b;
      }));
  }
  let skewMs = 0;  // server clock − browser clock, from every snapshot's timestamp
  const serverNow = () => Date.now() + skewMs;
  const noteServerTime = (iso) => { if (iso) skewMs = Date.parse(iso) - Date.now(); };
  const ago = (iso) => {
    if (!iso) return "never";
    const s = Math.max(0, Math.round((serverNow() - Date.parse(iso)) / 1000));
    return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
  };
  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "");
  const statusClass = (status) => (status === "down" || status === "error" || status === "failed" ? "down"
    : status === "degraded" || status === "blocked" || status === "warning" ? "degraded" : "ok");
  const bar = (fraction, cls) => {
    const b = el("div", `bar ${cls || ""}`);
    const fill = el("span");
    fill.style.width = `${Math.max(0, Math.min(1, fraction || 0)) * 100}%`;
    b.append(fill);
    return b;
  };
  const fmt = (n, digits = 1) => (typeof n === "number" ? n.toFixed(digits) : "–");

  // Hooks for tests and the benchmarks: seq → performance.now() when its effect is in the DOM; render timings.
  // Bounded, so a tab left open all day does not grow.
  window.PAS = { events: [], applied: {}, renders: [], sounds: [], spoken: [], heard: [] };
  const HOOK_CAP = 20000;
  const markApplied = (seq, at) => {
    window.PAS.applied[seq] = at;
    const drop = seq - HOOK_CAP;
    if (drop > 0 && drop in window.PAS.applied) delete window.PAS.applied[drop];
  };
  const capped = (list, n = HOOK_CAP) => { if (list.length > n) list.splice(0, list.length - n); };
  const pages = {};
  window.PASHMI = { register: (name, impl) => { pages[name] = impl; }, el, getJSON, post, ago, clock, statusClass,
                    serverNow, noteServerTime, bar, fmt };

  // ---- settings: update frequency, sounds, narration (off by default, kept in localStorage) ---------------
  const freqSelect = document.getElementById("freq");
  const soundsBox = document.getElementById("sounds");
  const narrationBox = document.getElementById("narration");
  freqSelect.value = store.get("pas.freq", "0");
  if (freqSelect.selectedIndex < 0) freqSelect.value = "0";
  soundsBox.checked = store.get("pas.sounds", "0") === "1";
  narrationBox.checked = store.get("pas.narration", "0") === "1";
  freqSelect.addEventListener("change", () => { store.set("pas.freq", freqSelect.value); restartFlushTimer(); });
  soundsBox.addEventListener("change", () => { store.set("pas.sounds", soundsBox.checked ? "1" : "0"); audio.unlock(); });
  narrationBox.addEventListener("change", () => store.set("pas.narration", narrationBox.checked ? "1" : "0"));

  // Short tones by event kind and tier (Web Audio), at most one every 250 ms.
  const audio = {
    ctx: null,
    last: 0,
    unlock() {
      if (!soundsBox.checked) return;
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!this.ctx) this.ctx = new Ctx();
      if (this.ctx.state === "suspended") this.ctx.resume();
    },
    tone(kind, tier, seq) {
      if (!soundsBox.checked) return;
      const now = performance.now();
      const base = { critical: 220, warning: 330, info: 660, job_started: 520, job_succeeded: 780, job_failed: 260 }[kind] || 440;
      const freq = base * (1 + 0.12 * Math.max(0, (Number(tier) || 1) - 1));  // higher tiers sound higher
      const played = now - this.last >= 250;
      window.PAS.sounds.push({ kind, tier: tier ?? null, freq, seq, played });
      capped(window.PAS.sounds, 200);
      if (!played) return;
      this.last = now;
      this.unlock();
      if (!this.ctx) return;
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.08, this.ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, this.ctx.currentTime + 0.18);
      osc.connect(gain).connect(this.ctx.destination);
      osc.start();
      osc.stop(this.ctx.currentTime + 0.2);
    },
  };
  document.addEventListener("click", () => audio.unlock(), { once: true });  // autoplay needs a gesture

  // One sentence per job start/finish and per alert (Web Speech), at most one every 4 s; extra ones are dropped.
  const narrator = {
    last: -Infinity,
    say(sentence, seq) {
      if (!narrationBox.checked) return;
      const now = performance.now();
      const spoken = now - this.last >= 4000;
      window.PAS.heard.push({ seq, sentence, spoken });
      capped(window.PAS.heard, 200);
      if (!spoken) return;
      this.last = now;
      window.PAS.spoken.push(sentence);
      capped(window.PAS.spoken, 200);
      if ("speechSynthesis" in window) window.speechSynthesis.speak(new SpeechSynthesisUtterance(sentence));
    },
  };

  // ---- controls: Pause all / Resume all, sign-in ------------------------------------------------------------
  const pauseButton = document.getElementById("pause");
  function renderControl(ctl) {
    pauseButton.dataset.paused = ctl.paused ? "1" : "0";
    pauseButton.textContent = ctl.paused ? "Resume all" : "Pause all";
    pauseButton.classList.toggle("paused", ctl.paused);
  }
  pauseButton.addEventListener("click", () => {
    const action = pauseButton.dataset.paused === "1" ? "resume_all" : "pause_all";
    post("/api/action", { action }).then((b) => { renderControl(b.state); scheduleSnapshot(0); }).catch(() => {});
  });
  signin.addEventListener("click", () => {
    const t = window.prompt("PAS API token");
    if (!t) return;
    try { sessionStorage.setItem("pas.token", t); } catch (_e) { /* not kept */ }
    signin.hidden = true;
    socket.auth = { token: t };
    socket.disconnect().connect();
  });

  // ---- the alert banner (every page) ---------------------------------------------------------------------
  const banner = document.getElementById("banner");
  function renderBanner(down, openCritical, downCount = down.length) {
    const parts = [];
    if (downCount) parts.push(`${downCount} service(s) down: ${down.slice(0, 8).join(", ")}${downCount > 8 ? ", …" : ""}`);
    if (openCritical) parts.push(`${openCritical} open critical alert(s)`);
    banner.hidden = parts.length === 0;
    banner.replaceChildren();
    if (parts.length) {
      const link = el("a", null, parts.join(" · "));
      link.href = "/alerts";
      banner.append(link);
    }
  }
  let bannerTimer = null;
  const scheduleBanner = () => {
    if (!bannerTimer) bannerTimer = setTimeout(() => { bannerTimer = null; loadBanner().catch(() => {}); }, 300);
  };
  const loadBanner = () => getJSON("/api/banner").then((b) => renderBanner(b.down, b.open_critical, b.down_count));

  // ---- the event feed (dashboard): every event, newest first -----------------------------------------------
  const feed = document.getElementById("feed");
  function describe(env) {
    const d = env.data || {};
    const who = d.service_name || d.name || d.agent || d.service_id || d.provider || d.job_id || "";
    const what = d.alert_type || d.status || d.to || d.action || d.task || d.reason || "";
    return [who, what, d.message].filter((x) => x !== undefined && x !== null && x !== "").join(" · ");
  }
  function addToFeed(env) {
    if (!feed) return;
    const li = el("li", env.event_type === "alert" ? "alert" : null);
    li.dataset.seq = env.seq;
    li.append(el("span", "t", clock(env.ts)), el("span", "k", env.event_type), el("span", "d", describe(env)));
    feed.prepend(li);
    while (feed.childElementCount > 100) feed.lastElementChild.remove();
  }

  // ---- sounds and narration by event -----------------------------------------------------------------------
  function announce(env) {
    const d = env.data || {};
    const tier = d.tier ?? null;
    if (env.event_type === "alert") {
      audio.tone(d.severity || "warning", tier, env.seq);
      narrator.say(`Alert: ${String(d.alert_type || "alert").replace(/_/g, " ")} on ${d.service_name || d.agent || d.job_id || d.provider || "PAS"}.`, env.seq);
    } else if (env.event_type === "job_started") {
      audio.tone("job_started", tier, env.seq);
      narrator.say(`${d.agent || "An agent"} started ${d.task || "a job"}.`, env.seq);
    } else if (["job_succeeded", "job_failed", "job_timeout", "job_killed"].includes(env.event_type)) {
      audio.tone(env.event_type === "job_succeeded" ? "job_succeeded" : "job_failed", tier, env.seq);
      narrator.say(`${d.agent || "An agent"} ${env.event_type === "job_succeeded" ? "finished" : String(d.status || "stopped")} ${d.task || "a job"}.`, env.seq);
    }
  }

  // ---- snapshot and live events -------------------------------------------------------------------------
  const impl = () => pages[page] || { topics: null, snapshot: () => Promise.resolve(null), apply: () => "snapshot" };
  const startSeq = Number(document.body.dataset.lastSeq || "0");  // the seq when the server rendered this page
  const state = { lastSeq: startSeq, pending: [], seen: new Set(), recent: [], snapInFlight: null, snapAgain: false,
                  snapTimer: null, waitingForSnap: [], flushTimer: null, everConnected: false, held: [] };
  const SEEN_CAP = 10000;  // more than one replay's worth: a replayed event never comes back as new

  function remember(env) {
    state.seen.add(env.seq);
    state.recent.push(env);
    if (state.recent.length > SEEN_CAP) state.seen.delete(state.recent.shift().seq);
  }

  function snapshot() {
    if (state.snapInFlight) { state.snapAgain = true; return state.snapInFlight; }
    const waiting = state.waitingForSnap.splice(0);
    const jobs = [getJSON("/api/control").then(renderControl), impl().snapshot()];
    if (page !== "dashboard") jobs.push(loadBanner());
    state.snapInFlight = Promise.all(jobs).then(([, lastSeq]) => {
      // Events newer than what the snapshot read are applied again on top of it.
      if (typeof lastSeq === "number") {
        for (const env of state.recent) if (env.seq > lastSeq) impl().apply(env, true);
        if (impl().render) impl().render();
      }
      const now = performance.now();
      for (const seq of waiting) markApplied(seq, now);
    }).catch((err) => console.warn("snapshot failed", err)).finally(() => {
      state.snapInFlight = null;
      if (state.snapAgain) { state.snapAgain = false; scheduleSnapshot(0); }
    });
    return state.snapInFlight;
  }
  function scheduleSnapshot(delay = 150) {
    if (state.snapTimer) return;
    state.snapTimer = setTimeout(() => { state.snapTimer = null; snapshot(); }, delay);
  }

  function flush() {
    const batch = state.pending.splice(0).sort((a, b) => a.seq - b.seq);
    if (!batch.length) return;
    const direct = [];
    let needSnapshot = false;
    for (const env of batch) {
      addToFeed(env);
      announce(env);
      const outcome = impl().apply(env, false);
      if (outcome === "snapshot") { needSnapshot = true; state.waitingForSnap.push(env.seq); } else direct.push(env.seq);
    }
    if (impl().render) impl().render();
    if (page !== "dashboard" && batch.some((e) => e.event_type === "alert" || e.event_type === "status_update" ||
                                                 e.event_type === "operator_action")) scheduleBanner();
    const now = performance.now();
    // On the dashboard the feed shows every event at once; elsewhere an event that needs a re-read counts when
    // the re-read lands.
    for (const seq of page === "dashboard" ? batch.map((e) => e.seq) : direct) markApplied(seq, now);
    if (needSnapshot) scheduleSnapshot();
  }
  function restartFlushTimer() {
    if (state.flushTimer) { clearInterval(state.flushTimer); state.flushTimer = null; }
    const every = Number(freqSelect.value) || 0;
    if (every > 0) state.flushTimer = setInterval(flush, every);
    else flush();
  }
  let flushQueued = false;
  function enqueue(env) {
    if (state.seen.has(env.seq)) return;  // a replayed event that also arrived live
    remember(env);
    window.PAS.events.push(env.seq);
    capped(window.PAS.events);
    state.pending.push(env);
    if (Number(freqSelect.value) > 0 || flushQueued) return;  // throttled: the interval applies it
    flushQueued = true;
    setTimeout(() => { flushQueued = false; flush(); }, 0);  // one DOM pass for a burst
  }

  // Replay (after, …] over REST: the way back from a gap or a reconnect without losing or doubling events. Live
  // events that arrive meanwhile are held and applied after, so everything lands in seq order.
  let replaying = false;
  async function replay(after) {
    if (replaying) return;
    replaying = true;
    try {
      let cursor = after;
      for (;;) {
        const body = await getJSON(`/api/event-stream/events?after=${cursor}&limit=2000`);
        if (body.resnapshot) scheduleSnapshot(0);
        for (const env of body.events) { enqueue(env); cursor = Math.max(cursor, env.seq); }
        if (body.events.length < 2000) break;
      }
      state.lastSeq = Math.max(state.lastSeq ?? 0, cursor);
    } catch (_e) {
      scheduleSnapshot(0);
    } finally {
      replaying = false;
    }
    const held = state.held.splice(0).sort((a, b) => a.seq - b.seq);
    for (const env of held) onLive(env);
  }

  function onLive(env) {
    if (replaying) { state.held.push(env); return; }
    if (subscribeAll() && state.lastSeq !== null && env.seq > state.lastSeq + 1 && !state.seen.has(env.seq)) {
      state.held.push(env);  // a gap: fetch what is missing first, then this one
      replay(state.lastSeq);
      return;
    }
    state.lastSeq = Math.max(state.lastSeq ?? 0, env.seq);
    enqueue(env);
  }

  const subscribeAll = () => !impl().topics;
  const socket = io({ transports: ["websocket"], auth: (cb) => cb(token() ? { token: token() } : {}) });
  const conn = document.getElementById("conn");
  socket.on("connect", () => {
    conn.textContent = "live";
    conn.className = "conn on";
    if (!subscribeAll()) socket.emit("subscribe", { topics: impl().topics });
    if (state.everConnected) {  // a reconnect: catch up on what the outage hid
      if (subscribeAll() && state.lastSeq !== null) replay(state.lastSeq); else scheduleSnapshot(0);
    }
    state.everConnected = true;
  });
  socket.on("connect_error", () => { if (!token()) signin.hidden = false; });
  socket.on("disconnect", () => { conn.textContent = "offline"; conn.className = "conn off"; });
  // Joined: whatever happened between rendering this page and joining is replayed (everything) or re-read
  // (a page on topics reads its snapshot again, if anything happened at all).
  socket.on("connected", (info) => {
    if (subscribeAll() && info.last_seq > (state.lastSeq ?? 0)) replay(state.lastSeq ?? 0);
  });
  socket.on("subscribed", (info) => {
    if (info.last_seq > startSeq && !state.subscribedOnce) scheduleSnapshot(0);
    state.subscribedOnce = true;
  });
  socket.on("event", onLive);

  // Heartbeats are not events (there would be thousands a second): the snapshot refreshes every 5 s, and
  // "last beat Ns ago" ticks every second.
  setInterval(() => {
    document.querySelectorAll(".beat").forEach((n) => { n.textContent = `last beat ${ago(n.dataset.ts)}`; });
  }, 1000);
  setInterval(() => { if (!document.hidden && impl().periodic !== false) scheduleSnapshot(0); }, 5000);

  // ---- pages -----------------------------------------------------------------------------------------------

  // Dashboard: system, core services, one card per service, the event feed.
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
    PASHMI.register("dashboard", {
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
          return replayed ? "applied" : "snapshot";  // holdings and the rest follow in the re-read
        }
        if (topicOf(env) === "other") return "applied";  // the feed shows it
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

  function topicOf(env) {
    const t = env.event_type;
    if (t.startsWith("job_") || t.startsWith("reservation_")) return "jobs";
    if (t === "alert" || t === "alert_acknowledged") return "alerts";
    if (t === "cost_update" || t === "budget_update") return "costs";
    if (["service_registered", "service_deregistered", "status_update", "operator_action"].includes(t) ||
        t.startsWith("context_") || t === "summary_created") return "agents";
    return "other";
  }

  // Tree: D3 hierarchy under "PAS Root"; folds (by service id) and the zoom survive every update.
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
    PASHMI.register("tree", {
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

  // Resources: host, capacity bars, holdings by agent, active reservations.
  (function resources() {
    const capRoot = document.getElementById("capacity");
    if (!capRoot) return;
    const labels = { cpu: "CPU", mem_mb: "memory (MB)", gpu: "GPU", gpu_mem_mb: "GPU memory (MB)", disk_gb: "disk (GB)" };
    PASHMI.register("resources", {
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

  // Alerts: history with filters; acknowledge (audited through POST /api/action).
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
    PASHMI.register("alerts", {
      topics: ["alerts", "agents"],
      snapshot: () => getJSON(`/api/alerts?${query()}`).then((b) => {
        body.replaceChildren(...b.alerts.slice().reverse().map(row));
        document.getElementById("alert-count").textContent = `${b.alerts.length} shown`;
        return null;
      }),
      apply: (env) => (env.event_type === "alert" || env.event_type === "operator_action" ? "snapshot" : "applied"),
    });
  })();

  // Costs: by provider, by agent and run, $/min and tokens/min, receipts live.
  (function costs() {
    const summary = document.getElementById("cost-summary");
    if (!summary) return;
    const windowSelect = document.getElementById("window");
    windowSelect.addEventListener("change", () => scheduleSnapshot(0));
    PASHMI.register("costs", {
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

  document.addEventListener("DOMContentLoaded", () => { restartFlushTimer(); snapshot(); });
})();

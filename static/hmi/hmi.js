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
  // What the page modules (dashboard.js, tree.js …, sequencer.js) use; each registers its page before
  // DOMContentLoaded, when the first snapshot is read.
  window.PASHMI = { register: (name, impl) => { pages[name] = impl; }, el, getJSON, post, ago, clock, statusClass,
                    serverNow, noteServerTime, bar, fmt,
                    scheduleSnapshot: (delay) => scheduleSnapshot(delay),
                    renderBanner: (down, openCritical, downCount) => renderBanner(down, openCritical, downCount) };

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
  let replayAgain = false;
  async function replay(after) {
    // Asked again meanwhile (a reconnect): the running replay's answer may predate the outage, so one more
    // follows it from where it ends (dropping the ask left the page behind until some later live event).
    if (replaying) { replayAgain = true; return; }
    replaying = true;
    replayAgain = false;
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
    if (replayAgain) { replay(state.lastSeq ?? 0); return; }  // it releases the held events when done
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

  document.addEventListener("DOMContentLoaded", () => { restartFlushTimer(); snapshot(); });
})();

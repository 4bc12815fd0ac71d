// The supervisors' wallboard: drawn from the JSON snapshot (the one of /api/wallboard) that the server pushes on
// /api/events after each burst of changes; clocks tick locally every second. The stream reconnects by itself
// after a restart of the server, and its first event is the board as it is then.
"use strict";

(() => {
  const L = JSON.parse(document.getElementById("wallboard-labels").textContent);
  const live = document.getElementById("live");
  const RECONNECT_MS = 1000;
  const OLDEST_RED_S = 120; // the common rule: the longest wait tile turns red past two minutes
  const OUTCOME_COLOURS = {
    self_served: "#18753c", to_agent: "#000091", callback_requested: "#b34000", abandoned: "#ce0500", fallback: "#666",
  };
  let board = JSON.parse(document.getElementById("wallboard-snapshot").textContent);
  // From each change (its event's `at`, stamped in its transaction) to the board drawn with it, in ms: the
  // benchmark reads window.wallboardDelays (the last 10,000).
  window.wallboardDelays = [];
  window.wallboardBoards = 0; // boards received
  let fetchedAt = Date.now(); // the clocks count from the snapshot's own time

  const $ = (id) => document.getElementById(id);
  const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
  function duration(s) {
    if (s === null || s === undefined) return "–";
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h) return `${h} h ${String(m).padStart(2, "0")}`;
    return m ? `${m} min ${String(r).padStart(2, "0")}` : `${r} s`;
  }
  const topic = (slug) => L.topics[slug] || slug;
  const elapsed = () => (Date.now() - fetchedAt) / 1000;
  function tile(id, value, level) {
    const el = $(id);
    el.querySelector(".value").textContent = value;
    el.classList.toggle("alert", level === "alert");
    el.classList.toggle("good", level === "good");
  }

  function drawTiles() {
    const lv = board.live, today = board.today, st = board.staffing;
    tile("tile-ivr", lv.calls_in_ivr);
    tile("tile-waiting", lv.waiting, lv.waiting > 0 && lv.agents_by_state.available === 0 ? "alert" : null);
    tile("tile-callbacks", lv.callbacks_pending);
    for (const s of ["available", "ringing", "on_call", "wrap_up", "paused"]) tile(`tile-${s}`, lv.agents_by_state[s]);
    const needed = st.agents_needed;
    tile("tile-staffing", `${needed === null ? "–" : needed} / ${st.agents_logged_in}`,
      needed !== null && st.agents_logged_in < needed ? "alert" : null);
    const a = st.erlang_a; // with the patience measured today: what that many agents would give
    $("tile-staffing").querySelector(".label").textContent = `conseillers nécessaires / connectés (${st.arrivals} appels en 30 min`
      + (a ? ` ; avec ${a.agents} : ${pct(a.service_level)} servis en ${today.target_s} s, ${pct(a.p_abandon)} d'abandons)` : ")");
    const sl = today.service_level;
    tile("tile-sl", pct(sl), sl === null ? null : sl < board.sl_goal ? "alert" : "good");
    $("tile-sl").querySelector(".label").textContent =
      `niveau de service aujourd'hui (${today.answered_within_target} / ${today.answered} en ${today.target_s} s, objectif ${pct(board.sl_goal)})`;
    tile("tile-abandon", pct(today.abandonment_rate));
    tile("tile-self", pct(today.self_service_rate));
    tile("tile-calls", today.calls + today.calls_in_progress);
  }

  function tickClocks() {
    const lv = board.live;
    const oldest = lv.oldest_wait_s === null ? null : lv.oldest_wait_s + elapsed();
    tile("tile-oldest", oldest === null ? "–" : duration(oldest), oldest !== null && oldest > OLDEST_RED_S ? "alert" : null);
    document.querySelectorAll("[data-since]").forEach((el) => {
      el.textContent = duration((Date.now() - Date.parse(el.dataset.since)) / 1000);
    });
    $("board-clock").textContent = new Date().toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit", timeZone: board.timezone });
  }

  function drawBanners() {
    const crisis = $("crisis-banner");
    crisis.hidden = !board.crisis.active;
    crisis.textContent = board.crisis.active
      ? `Mode crise activé${board.crisis.message ? ` : « ${board.crisis.message} »` : ""}` : "";
    const surge = $("surge-banner");
    surge.hidden = board.surges.length === 0;
    surge.textContent = board.surges.map((s) => {
      const where = s.commune ? ` à ${s.commune}` : "";
      const usual = s.usual_per_h < 0.1 ? "presque aucun d'habitude"
        : `d'habitude ${s.usual_per_h.toLocaleString("fr-FR", { maximumFractionDigits: 1 })}`;
      return `Sujet en hausse : ${topic(s.topic)}${where} — ${s.recent_calls} appels en 30 min (${Math.round(s.recent_per_h)} par heure, ${usual})`;
    }).join(" · ");
    $("surge-rule").textContent = board.surge_rule;
  }

  function drawAgents() {
    const rows = board.agents.filter((a) => a.state !== "offline").map((a) => {
      const tr = document.createElement("tr");
      tr.dataset.agentId = a.id;
      tr.className = `state-${a.state}`;
      for (const [text, since] of [[a.name, null], [L.states[a.state], null], ["", a.since], [a.reason || "", null]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (since) td.dataset.since = since;
        tr.appendChild(td);
      }
      tr.dataset.agentLogin = a.login;
      const actions = document.createElement("td");
      actions.className = "supervise";
      if (a.state === "on_call") {
        for (const [mode, label] of SUPERVISE_MODES) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "secondary";
          button.dataset.mode = mode;
          button.textContent = label;
          button.title = `${label} : ${a.name}, sur votre téléphone`;
          actions.appendChild(button);
        }
      }
      tr.appendChild(actions);
      return tr;
    });
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.innerHTML = '<td colspan="5">Aucun conseiller connecté.</td>';
      rows.push(tr);
    }
    $("agents").replaceChildren(...rows);
  }

  // Listening, whispering, joining an agent's call on the supervisor's own phone. One listener on #agents: the
  // rows are drawn again on every event, the buttons keep working.
  const SUPERVISE_MODES = [["listen", "Écouter"], ["whisper", "Chuchoter"], ["barge", "Intervenir"]];
  const SUPERVISE_DONE = {
    listen: "Votre téléphone sonne : décrochez pour écouter l'appel de",
    whisper: "Votre téléphone sonne : décrochez pour parler à",
    barge: "Votre téléphone sonne : décrochez pour rejoindre l'appel de",
  };
  async function supervise(login, name, mode) {
    const status = $("supervise-status");
    status.className = "note";
    status.textContent = "Appel de votre téléphone…";
    try {
      const response = await fetch(`/api/agents/${encodeURIComponent(login)}/supervise`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json", Accept: "application/json",
          "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content,
        },
        body: JSON.stringify({ mode }),
      });
      if (response.status === 401) { window.location.assign("/login"); return; }
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        status.className = "note ok";
        status.textContent = `${SUPERVISE_DONE[mode]} ${name}.`;
      } else {
        status.className = "note error";
        status.textContent = typeof body.detail === "string" ? body.detail : `Impossible (erreur ${response.status}).`;
      }
    } catch (err) {
      status.className = "note error";
      status.textContent = "Le serveur ne répond pas : réessayez.";
    }
  }
  $("agents").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-mode]");
    if (!button) return;
    const row = button.closest("tr");
    supervise(row.dataset.agentLogin, row.cells[0].textContent, button.dataset.mode);
  });

  function drawChart() {
    const minutes = board.per_minute;
    const outcomes = Object.keys(OUTCOME_COLOURS);
    const max = Math.max(1, ...minutes.map((m) => outcomes.reduce((n, o) => n + (m[o] || 0), 0)));
    const W = 900, H = 220, bar = W / minutes.length;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H + 20}`);
    svg.setAttribute("preserveAspectRatio", "none");
    minutes.forEach((m, i) => {
      let y = H;
      for (const o of outcomes) {
        const n = m[o] || 0;
        if (!n) continue;
        const h = (n / max) * H;
        y -= h;
        const r = document.createElementNS(ns, "rect");
        r.setAttribute("x", (i * bar).toFixed(2));
        r.setAttribute("y", y.toFixed(2));
        r.setAttribute("width", Math.max(bar - 0.5, 0.5).toFixed(2));
        r.setAttribute("height", h.toFixed(2));
        r.setAttribute("fill", OUTCOME_COLOURS[o]);
        r.setAttribute("data-outcome", o);
        const title = document.createElementNS(ns, "title");
        title.textContent = `${m.minute.slice(11, 16)} : ${n} ${L.outcomes[o]}`;
        r.appendChild(title);
        svg.appendChild(r);
      }
      if (m.minute.slice(14, 16) === "00") { // an hour mark
        const t = document.createElementNS(ns, "text");
        t.setAttribute("x", (i * bar).toFixed(2));
        t.setAttribute("y", H + 16);
        t.setAttribute("font-size", "14");
        t.textContent = `${m.minute.slice(11, 13)} h`;
        svg.appendChild(t);
      }
    });
    const top = document.createElementNS(ns, "text");
    top.setAttribute("x", 4); top.setAttribute("y", 14); top.setAttribute("font-size", "14");
    top.textContent = `${max} / min`;
    svg.appendChild(top);
    $("chart").replaceChildren(svg);
    $("chart-legend").replaceChildren(...outcomes.map((o) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="swatch" style="background:${OUTCOME_COLOURS[o]}"></span>`;
      li.append(L.outcomes[o]);
      return li;
    }));
  }

  function draw() {
    drawTiles(); drawBanners(); drawAgents(); drawChart(); tickClocks();
  }

  // The server pushes the board itself on this stream (`wallboard` events): at once, 200 ms after each burst of
  // changes, and every 15 s; `events` are the times of the changes it includes.
  function received(event) {
    let data;
    try { data = JSON.parse(event.data); } catch (err) { return; }
    board = data.board; fetchedAt = Date.now(); draw();
    window.wallboardBoards += 1;
    for (const at of data.events) window.wallboardDelays.push(Date.now() - Date.parse(at));
    if (window.wallboardDelays.length > 10000) window.wallboardDelays.splice(0, 5000);
  }

  let source = null;
  function connect() {
    source = new EventSource("/api/events");
    source.onopen = () => { live.textContent = "en direct"; live.className = "live on"; };
    source.onerror = () => {
      live.textContent = "connexion perdue, reconnexion…";
      live.className = "live off";
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, RECONNECT_MS);
    };
    source.addEventListener("wallboard", received);
  }

  $("fullscreen").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else $("wall").requestFullscreen().catch(() => {});
  });
  draw();
  setInterval(tickClocks, 1000);
  connect();
})();

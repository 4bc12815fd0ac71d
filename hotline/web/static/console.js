// The agent console, live: the server renders each part (/console/parts/NAME); the event stream (/api/events)
// says which part changed and this script fetches it again. Waits tick and the wrap-up counts down locally.
// The stream reconnects by itself after a restart of the server, and every part is fetched again on reconnection.
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const live = document.getElementById("live");
  const flash = document.getElementById("flash");
  const RECONNECT_MS = 1000;
  const myId = Number(document.querySelector('meta[name="agent-id"]').content);
  const DEBOUNCE_MS = 200; // a burst of events (a busy hour) costs one fetch per part, still well within 1 s
  const mine = (data) => data.agent_id === myId;
  const onMyScreen = (selector) => document.querySelector(selector) !== null;
  // Which parts an event changes, for this agent: the desk only for what concerns it, so a console does not
  // fetch its desk again for every colleague's move.
  const PARTS_BY_EVENT = {
    "queue.changed": (d) => (d.state === "waiting" ? ["queue"] : ["queue", "me"]),
    "agent.state_changed": (d) => (mine(d) ? ["me"] : []),
    "callback.changed": (d) => (mine(d) ? ["callbacks", "me"] : ["callbacks"]),
    "ticket.created": () => [],
    "ticket.status_changed": (d) => ["callbacks", ...(onMyScreen(`#ticket-panel[data-ticket-id="${d.ticket_id}"]`) ? ["me"] : [])],
    "crisis.changed": () => ["crisis"],
    "call.ended": (d) => (onMyScreen(`#screen-pop[data-call-id="${d.call_id}"]`) ? ["me"] : []),
  };
  const timers = {};
  function soon(name) {
    if (timers[name]) return;
    timers[name] = setTimeout(() => { timers[name] = null; refresh(name); }, DEBOUNCE_MS);
  }
  const inFlight = {};
  const again = {};

  function partElements() {
    return Array.from(document.querySelectorAll("[data-part]"));
  }

  // One fetch per part at a time; a change arriving meanwhile fetches once more afterwards.
  async function refresh(name) {
    if (inFlight[name]) { again[name] = true; return; }
    inFlight[name] = true;
    try {
      const response = await fetch(`/console/parts/${name}`, { headers: { Accept: "text/html" } });
      if (response.status === 401) { window.location.assign("/login"); return; }
      if (response.ok) {
        const target = document.querySelector(`[data-part="${name}"]`);
        if (target) {
          const kept = keepTyping(target);
          target.innerHTML = await response.text();
          kept();
          stamp(target);
        }
      }
    } catch (err) {
      // the server is away: the stream's reconnection fetches everything again
    } finally {
      inFlight[name] = false;
      if (again[name]) { again[name] = false; refresh(name); }
    }
  }

  // A part fetched again must not lose what the agent is typing or has chosen in it (a note, a pause reason):
  // the fields' values, the focus and the caret are put back into the new fields with the same id.
  function keepTyping(root) {
    const fields = Array.from(root.querySelectorAll("textarea[id], input[id]:not([type=hidden]), select[id]"));
    const values = fields.map((f) => [f.id, f.value]);
    const active = document.activeElement && root.contains(document.activeElement) ? document.activeElement : null;
    const focusId = active ? active.id : null;
    const caret = active && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null;
    return () => {
      values.forEach(([id, value]) => {
        const field = document.getElementById(id);
        if (field && root.contains(field) && value !== "") field.value = value;
      });
      const again = focusId ? document.getElementById(focusId) : null;
      if (again && root.contains(again)) {
        again.focus();
        if (caret && "setSelectionRange" in again) {
          try { again.setSelectionRange(caret[0], caret[1]); } catch (err) { /* not a text field */ }
        }
      }
    };
  }

  function refreshAll() {
    partElements().forEach((el) => refresh(el.dataset.part));
  }

  // Times are rendered as seconds at the server's render time; count on from when they arrived.
  function stamp(root) {
    const now = Date.now();
    root.querySelectorAll("[data-waited-s], [data-countdown-s]").forEach((el) => { el.dataset.arrived = now; });
  }

  function duration(seconds) {
    const total = Math.max(0, Math.floor(seconds));
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    const pad = (n) => String(n).padStart(2, "0");
    if (h) return `${h} h ${pad(m)} min`;
    if (m) return `${m} min ${pad(s)} s`;
    return `${s} s`;
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-waited-s]").forEach((el) => {
      el.textContent = duration(Number(el.dataset.waitedS) + (now - Number(el.dataset.arrived)) / 1000);
    });
    document.querySelectorAll("[data-countdown-s]").forEach((el) => {
      el.textContent = duration(Number(el.dataset.countdownS) - (now - Number(el.dataset.arrived)) / 1000);
    });
  }

  function say(message, isError) {
    flash.textContent = message;
    flash.classList.toggle("error", Boolean(isError));
    flash.hidden = !message;
  }

  async function send(method, url, body) {
    const init = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      say("Le serveur ne répond pas : réessayez dans un instant.", true);
      return false;
    }
    if (response.status === 401) { window.location.assign("/login"); return false; }
    if (!response.ok) {
      let detail = `Erreur ${response.status}`;
      try { const data = await response.json(); if (typeof data.detail === "string") detail = data.detail; } catch (err) { /* not JSON */ }
      say(detail, true);
      return false;
    }
    say("", false);
    return true;
  }

  const ACTIONS = {
    state: (b) => {
      const reason = b.dataset.state === "paused" ? document.getElementById("pause-reason").value : null;
      return send("PUT", "/api/agents/me/state", { state: b.dataset.state, reason }).then(() => refresh("me"));
    },
    "wrap-up-end": () => send("POST", "/api/agents/me/wrap-up/end").then(() => refresh("me")),
    take: (b) => send("POST", `/api/queue/${b.dataset.callId}/take`).then((ok) => {
      if (ok) say("Votre téléphone va sonner : décrochez pour parler à l'appelant.", false);
      refresh("queue"); refresh("me");
    }),
    "call-now": (b) => send("POST", `/api/callbacks/${b.dataset.callbackId}/call-now`).then((ok) => {
      if (ok) say("Votre téléphone va sonner, puis celui de l'appelant.", false);
      refresh("callbacks"); refresh("me");
    }),
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !ACTIONS[button.dataset.action]) return;
    event.preventDefault();
    button.disabled = true;
    Promise.resolve(ACTIONS[button.dataset.action](button)).finally(() => { button.disabled = false; });
  });

  // The ticket's forms inside the console are sent without leaving the page; a refusal is said in the flash.
  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-fetch]");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), redirect: "manual",
        headers: { "X-CSRF-Token": csrf, "X-Requested-With": "fetch" },
      });
      if (response.type === "opaqueredirect" || response.ok) {
        form.reset(); // the note is written: its box is empty again
        say(form.dataset.done || "Dossier mis à jour.", false);
      } else {
        say(await response.text(), true);
      }
    } catch (err) {
      say("Le serveur ne répond pas : réessayez dans un instant.", true);
    } finally {
      if (button) button.disabled = false;
      refresh("me");
    }
  });

  let source = null;
  function connect() {
    source = new EventSource("/api/events");
    source.onopen = () => {
      live.textContent = "en direct";
      live.className = "live on";
      refreshAll(); // whatever happened while the stream was away
    };
    source.onerror = () => {
      live.textContent = "connexion perdue, reconnexion…";
      live.className = "live off";
      if (source.readyState === EventSource.CLOSED) { // the server refused: try again ourselves
        setTimeout(connect, RECONNECT_MS);
      }
    };
    Object.entries(PARTS_BY_EVENT).forEach(([kind, partsOf]) => {
      source.addEventListener(kind, (event) => {
        let data = {};
        try { data = JSON.parse(event.data); } catch (err) { /* every event is JSON */ }
        partsOf(data).forEach(soon);
      });
    });
    source.addEventListener("bus.events_dropped", refreshAll);
  }

  stamp(document);
  setInterval(tick, 1000);
  connect();
})();

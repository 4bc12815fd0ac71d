// The supervisor's crisis controls: the typed announcement is heard (POST /api/crisis/preview) before it goes
// live; a recording is uploaded, checked and converted by the server (POST /api/crisis/recording); "Appliquer"
// sends the whole state (PUT /api/crisis), which the next call hears.
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const status = $("crisis-status");
  let recording = null; // the uploaded announcement's name, e.g. recorded/<key>

  async function refusal(response) {
    try { return (await response.json()).detail || response.statusText; } catch (err) { return response.statusText; }
  }
  function say(text, bad) { status.textContent = text; status.className = bad ? "error" : "ok"; }

  function showRecording(name, seconds) {
    recording = name;
    $("crisis-recording").hidden = !name;
    $("crisis-drop-recording").hidden = !name;
    $("crisis-recording-audio").hidden = !name;
    if (name) {
      $("crisis-recording").textContent = seconds
        ? `Enregistrement de ${seconds.toLocaleString("fr-FR")} s prêt : il sera entendu à la place du texte.`
        : "Un enregistrement est en place : il est entendu à la place du texte.";
      $("crisis-recording-audio").src = `/api/crisis/recording/${name}.wav`;
    }
  }

  async function load() {
    const response = await fetch("/api/crisis");
    if (!response.ok) { say(await refusal(response), true); return; }
    const crisis = await response.json();
    const select = $("crisis-pinned");
    for (const entry of crisis.entries) {
      const option = document.createElement("option");
      option.value = entry.id;
      option.textContent = `${entry.crisis ? "[crise] " : ""}${entry.title}`;
      select.appendChild(option);
    }
    $("crisis-active").checked = crisis.active;
    $("crisis-message").value = crisis.message || "";
    select.value = crisis.pinned_faq_id || "";
    $("crisis-overflow").value = crisis.overflow_wait_s === null ? "" : crisis.overflow_wait_s;
    showRecording(crisis.recording, null);
  }

  $("crisis-listen").addEventListener("click", async () => {
    const text = $("crisis-message").value.trim();
    if (!text) { say("Écrivez d'abord l'annonce.", true); return; }
    say("Synthèse de l'annonce…");
    const response = await fetch("/api/crisis/preview", {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text }),
    });
    if (!response.ok) { say(await refusal(response), true); return; }
    const audio = $("crisis-preview");
    audio.src = URL.createObjectURL(await response.blob());
    audio.hidden = false;
    audio.play().catch(() => {}); // a browser may refuse to play before a gesture: the controls stay
    say("Voici l'annonce telle que les appelants l'entendront.");
  });

  $("crisis-upload").addEventListener("click", async () => {
    const file = $("crisis-file").files[0];
    if (!file) { say("Choisissez d'abord un fichier.", true); return; }
    const form = new FormData();
    form.append("file", file);
    say("Envoi et conversion de l'enregistrement…");
    const response = await fetch("/api/crisis/recording", { method: "POST", headers: { "X-CSRF-Token": csrf }, body: form });
    if (!response.ok) { say(await refusal(response), true); return; }
    const body = await response.json();
    showRecording(body.recording, body.seconds);
    say("Enregistrement prêt. Cliquez sur « Appliquer » pour le mettre en service.");
  });

  $("crisis-drop-recording").addEventListener("click", () => {
    showRecording(null, null);
    say("L'enregistrement sera retiré quand vous cliquerez sur « Appliquer ».");
  });

  $("crisis-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const overflow = $("crisis-overflow").value.trim();
    const body = {
      active: $("crisis-active").checked,
      message: $("crisis-message").value.trim() || null,
      recording,
      pinned_faq_id: $("crisis-pinned").value || null,
      overflow_wait_s: overflow === "" ? null : Number(overflow),
    };
    const response = await fetch("/api/crisis", {
      method: "PUT", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    });
    if (!response.ok) {
      const detail = await refusal(response);
      say(typeof detail === "string" ? detail : "Valeurs refusées : vérifiez l'attente (0 à 3600 s).", true);
      return;
    }
    say(body.active ? "Mode crise activé : le prochain appel entendra l'annonce." : "Mode crise désactivé.");
  });

  load();
})();

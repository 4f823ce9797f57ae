// The test-call panel: replays the whole script on every key, shows and (optionally) speaks what the caller hears.
(() => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const log = document.getElementById("tc-log");
  const state = document.getElementById("tc-state");
  const error = document.getElementById("tc-error");
  let tokens = null;
  let heard = 0;

  const speak = (text, lang) => {
    if (!document.getElementById("tc-speak").checked || !("speechSynthesis" in window)) return;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = lang === "en" ? "en-GB" : "sv-SE";
    window.speechSynthesis.speak(utterance);
  };

  const describe = (a) => ({
    say: () => `🔊 ${a.text}`,
    gather: () => `⌨ väntar på ${a.max_digits === 1 ? "en knapp" : "knappar eller tal"} (${a.timeout} s)`,
    transfer: () => `☎ kopplar till ${a.name} (${a.number || a.extension}), ringer ${a.ring_timeout} s`,
    enqueue: () => `⏳ kö ${a.queue}: plats ${a.position}, cirka ${Math.round(a.estimated_wait / 60)} min`,
    bridged: () => `✔ samtalet är kopplat till ${a.party}`,
    callback: () => `↩ uppringning registreras till ${a.number}`,
    hangup: () => `✖ samtalet avslutas (${a.reason})`,
  }[a.action] || (() => `${a.action} ${a.text || ""}`))();

  async function play() {
    error.textContent = "";
    const reply = await fetch("/api/admin/flow/testcall", {
      method: "POST",
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({at: document.getElementById("tc-at").value, flow: document.getElementById("tc-flow").value,
                            tokens}),
    });
    const data = await reply.json();
    if (!reply.ok) { error.textContent = data.error; tokens.pop(); return; }
    log.replaceChildren(...data.actions.map((a) => {
      const item = document.createElement("li");
      item.dataset.action = a.action;
      if (a.prompt) item.dataset.prompt = a.prompt;
      item.textContent = describe(a);
      return item;
    }));
    data.actions.slice(heard).filter((a) => a.action === "say").forEach((a) => speak(a.text, a.lang));
    heard = data.actions.length;
    state.textContent = data.awaiting ? `Samtalet väntar på: ${data.awaiting}` : "Samtalet är slut.";
  }

  document.getElementById("tc-start").addEventListener("click", () => { tokens = []; heard = 0; play(); });
  document.querySelectorAll(".tc-key").forEach((button) => button.addEventListener("click", () => {
    if (tokens === null) tokens = [];
    tokens.push(button.dataset.token);
    play();
  }));
  document.getElementById("tc-say-send").addEventListener("click", () => {
    const words = document.getElementById("tc-say").value.trim();
    if (!words) return;
    if (tokens === null) tokens = [];
    tokens.push(`say:${words}`);
    play();
  });
})();

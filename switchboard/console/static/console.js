// The operator console: a live picture from server-sent events, keyboard-first actions on the call I hold.
(() => {
  "use strict";
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const me = meta("vaxel-me");  // who I am, from the page (no inline script: the CSP allows none)
  const myName = meta("vaxel-name");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const errorBox = $("console-error");
  let snapshot = null;
  let targets = [];
  let selected = -1;
  let heldId = null;

  const {el} = window.vaxelDom;
  const mmss = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  const tag = (cls, text, state) => el("span", {class: `tag ${cls}`, "data-state": state || cls}, text);

  async function post(path, body = {}) {
    errorBox.textContent = "";
    const reply = await fetch(path, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}});
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) { errorBox.textContent = data.error || `Fel ${reply.status}`; return null; }
    render(data);
    return data;
  }

  function render(data) {
    snapshot = data;
    const mine = data.operators.find((o) => o.username === me);
    const state = mine ? mine.state : "offline";
    const myState = $("my-state");
    myState.dataset.state = state;
    myState.textContent = mine ? `${mine.label}${mine.reason ? " – " + mine.reason : ""}` : "Utloggad";

    $("queue").replaceChildren(...data.queue.map((q) => el("li", {"data-call": q.call_id},
      `${q.position}. ${q.caller} · väntat ${mmss(q.waited)} · ${q.menu_choice} `,
      q.returned ? tag("returned", `tillbaka${q.returned_from ? " från " + q.returned_from : ""}`) : "",
      q.channel === "simulator" || q.channel === "demo"
        ? el("button", {type: "button", "data-answer": q.call_id}, "Svara") : "")));
    if (!data.queue.length) $("queue").replaceChildren(el("li", {}, "Ingen väntar."));

    $("ringing").replaceChildren(...data.ringing.map((r) => el("li", {"data-call": r.call_id},
      tag("ringing", "ringer"), ` ${r.caller} → ${r.target} (${r.unit}) · ${r.ringing} s · av ${r.by}`)));
    $("returned").replaceChildren(...data.returned.map((r) => el("li", {"data-call": r.call_id, "data-reason": r.reason},
      tag("returned", `tillbaka (${r.reason_text})`), ` från ${r.target} · ${r.to === "operator" ? "till " + r.operator : "först i kön"} · ${mmss(r.ago)} sedan`)));
    $("operators").replaceChildren(...data.operators.map((o) => el("li", {},
      `${o.username} `, tag("state", o.label, o.state), o.reason ? ` ${o.reason}` : "",
      o.call ? [" · ", o.call.transfer_ringing ? tag("ringing", "kopplar") : (o.call.on_hold ? tag("hold", "parkerat") : tag("talking", "i samtal")), ` ${o.call.caller}`] : "")));
    $("callbacks").replaceChildren(...data.callbacks.map((c) => el("li", {},
      `${c.number || "–"} · ${c.status} · försök ${c.attempts}/${c.max_attempts}${c.position ? " · plats " + c.position : ""}` +
      `${c.unit ? " · för " + c.unit : ""}${c.answered_by === "unit" ? " (enheten svarar)" : ""}${c.subject ? " · " + c.subject : ""}`)));
    if (!data.callbacks.length) $("callbacks").replaceChildren(el("li", {}, "Inga väntande."));
    document.querySelectorAll("[data-answer]").forEach((b) => b.addEventListener("click", () => post(`/api/console/calls/${b.dataset.answer}/answer`)));
    renderCall(mine && mine.call, (mine && mine.to_wrap_up) || []);
  }

  // A wrap-up is given once; choosing another outcome afterwards is an explicit, logged correction.
  async function wrapUp(callId, outcome, done) {
    if (!done) return post(`/api/console/calls/${callId}/wrapup`, {outcome});
    if (done.outcome === outcome) { errorBox.textContent = `Utfallet är redan ”${done.label}”.`; return null; }
    const note = window.prompt(`Rätta utfallet ”${done.label}”? Rättelsen loggas. Orsak:`, "");
    if (note === null) return null;
    return post(`/api/console/calls/${callId}/wrapup`, {outcome, supersedes: done.id, note});
  }

  function renderDue(box, due) {  // calls I answered that ended without a wrap-up: give it now
    const items = due.map((d) => {
      const buttons = $("call-panel").content.querySelector("fieldset.wrapup").cloneNode(true);
      buttons.querySelector("legend").textContent = `${d.caller} · slutade för ${mmss(d.ended)} sedan`;
      buttons.querySelectorAll("[data-wrapup]").forEach((b) => b.addEventListener("click", () => wrapUp(d.call_id, b.dataset.wrapup, null)));
      return el("li", {"data-call": d.call_id}, buttons);
    });
    box.replaceChildren(el("p", {}, "Inget samtal."), ...(items.length ? [el("p", {}, "Ange utfall:"), el("ul", {class: "to-wrap-up"}, ...items)] : []));
  }

  function renderCall(call, due = []) {
    const box = $("my-call");
    if (!call) { heldId = null; renderDue(box, due); return; }
    if (heldId === call.call_id) { updateCall(call); return; }  // keep the search box and its focus
    heldId = call.call_id;
    const panel = $("call-panel").content.firstElementChild.cloneNode(true);
    panel.dataset.call = call.call_id;
    panel.querySelector(".script").textContent =
      `”Välkommen till Sjöbacka kommun, du pratar med ${myName}, hur kan jag hjälpa dig?”`;
    panel.querySelector("[data-act=hold]").addEventListener("click", () => post(`/api/console/calls/${call.call_id}/hold`, {on: !currentCall().on_hold}));
    panel.querySelector("[data-act=queue]").addEventListener("click", () => post(`/api/console/calls/${call.call_id}/queue`));
    panel.querySelector("[data-act=end]").addEventListener("click", () => post(`/api/console/calls/${call.call_id}/end`));
    panel.querySelectorAll("[data-wrapup]").forEach((b) => b.addEventListener("click", () => wrapUp(call.call_id, b.dataset.wrapup, currentCall().wrapup)));
    const form = panel.querySelector("form.message");
    form.addEventListener("submit", (event) => { event.preventDefault(); sendMessage(call.call_id, form); });
    const search = panel.querySelector(".target");
    let timer = null;
    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => findTargets(search.value), 60); });
    search.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") { selected = Math.min(selected + 1, targets.length - 1); drawTargets(); event.preventDefault(); }
      else if (event.key === "ArrowUp") { selected = Math.max(selected - 1, 0); drawTargets(); event.preventDefault(); }
      else if (event.key === "Enter" && selected >= 0) { transfer(targets[selected], event.shiftKey); event.preventDefault(); }
      else if (event.key === "Escape") { search.value = ""; targets = []; selected = -1; drawTargets(); }
    });
    box.replaceChildren(panel);
    updateCall(call);
  }

  const currentCall = () => (snapshot.operators.find((o) => o.username === me) || {}).call || {};

  function updateCall(call) {
    const panel = $("my-call").querySelector(".call");
    const context = [`Ringer från ${call.caller}`, `val: ${call.menu_choice}`];
    if (call.returned_from) context.push(`tillbaka från ${call.returned_from}`);
    context.push(`samtalstid ${mmss(call.talking)}`);
    panel.querySelector(".context").textContent = context.join(" · ");
    panel.querySelector("fieldset.wrapup legend").textContent =
      call.wrapup ? `Utfall: ${call.wrapup.label} (välj ett annat för att rätta)` : "Avsluta med utfall";
    panel.querySelectorAll("[data-wrapup]").forEach((b) => b.setAttribute("aria-pressed", String(Boolean(call.wrapup) && call.wrapup.outcome === b.dataset.wrapup)));
    const ring = panel.querySelector(".ring");
    ring.replaceChildren(call.transfer_ringing ? tag("ringing", "kopplingen ringer…") : "",
      call.on_hold ? tag("hold", "parkerat") : "");
    if (call.transfer_ringing) {  // a consultation (Shift+Enter) is completed or cancelled from here
      for (const [act, label] of [["complete", "Slutför rådfrågan"], ["cancel", "Avbryt rådfrågan"]]) {
        const b = el("button", {type: "button", "data-consult": act}, label);
        b.addEventListener("click", () => post(`/api/console/calls/${call.call_id}/${act}`));
        ring.append(" ", b);
      }
    }
    if (call.transfer_ringing && (call.channel === "simulator" || call.channel === "demo")) {
      for (const [status, label] of [["answered", "svarar"], ["no-answer", "svarar inte"], ["busy", "upptaget"]]) {
        const b = el("button", {type: "button", "data-simulate": status}, `Simulera: ${label}`);
        b.addEventListener("click", () => post(`/api/console/calls/${call.call_id}/simulate`, {status}));
        ring.append(" ", b);
      }
    }
  }

  async function findTargets(query) {
    if (!query.trim()) { targets = []; selected = -1; drawTargets(); return; }
    const reply = await fetch(`/api/directory/search?q=${encodeURIComponent(query)}&limit=8`, {headers: {Accept: "application/json"}});
    if (!reply.ok) return;
    targets = (await reply.json()).results;
    selected = targets.length ? 0 : -1;
    drawTargets();
  }

  function drawTargets() {
    const list = document.querySelector("#my-call .targets");
    if (!list) return;
    list.replaceChildren(...targets.map((t, i) => {
      const item = el("li", {role: "option", "aria-selected": String(i === selected), "data-id": t.id},
        `${t.name} · ${t.unit} · `, el("span", {class: `status status-${t.status}`}, t.status_label),
        t.open_now ? "" : " · utanför telefontid");
      item.addEventListener("click", () => transfer(t, false));
      const note = el("button", {type: "button", "data-message": t.id, title: `Ta ett meddelande till ${t.name}`}, "Meddelande");
      note.addEventListener("click", (event) => { event.stopPropagation(); messageFor(t); });
      item.append(" ", note);
      return item;
    }));
  }

  // "Meddelande taget": a message for the person (or unit) found, the caller's number prefilled and editable.
  function messageFor(target) {
    const form = document.querySelector("#my-call form.message");
    if (!form) return;
    form.hidden = false;
    form.dataset.target = target.id;
    form.querySelector(".message-to").textContent = `${target.name}, ${target.unit}`;
    const number = form.querySelector(".message-number");
    if (!number.value) number.value = currentCall().caller || "";
    form.querySelector(".message-result").textContent = "";
    form.querySelector(".message-subject").focus();
  }

  async function sendMessage(callId, form) {
    errorBox.textContent = "";
    const body = {target: form.dataset.target, number: form.querySelector(".message-number").value,
      subject: form.querySelector(".message-subject").value, message: form.querySelector(".message-text").value};
    const reply = await fetch(`/api/console/calls/${callId}/message`, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}});
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) { errorBox.textContent = data.error || `Fel ${reply.status}`; return; }
    const due = data.due_by ? ` Svar senast ${data.due_by.slice(0, 16).replace("T", " ")}.` : "";
    form.querySelector(".message-result").textContent = `Meddelande ${data.id} sparat för ${data.unit}.${due} ` +
      (data.emailed_to ? `E-post skickad till ${data.emailed_to}.` : `Ingen e-post (${data.email_error}); det står på enhetens lista.`);
    form.querySelector(".message-subject").value = "";
    form.querySelector(".message-text").value = "";
    if (!currentCall().wrapup) await post(`/api/console/calls/${callId}/wrapup`, {outcome: "message_taken"});
  }

  async function transfer(target, attended) {
    let breakThrough = false;
    if (target.status === "closed" || target.status === "absent") {
      breakThrough = window.confirm(`${target.name} är ${target.status_label.toLowerCase()}. Bryta igenom ändå? (loggas)`);
      if (!breakThrough) return;
    }
    await post(`/api/console/calls/${heldId}/transfer`, {target_id: target.id, attended, break_through: breakThrough});
  }

  document.querySelectorAll("#me [data-state]").forEach((b) => b.addEventListener("click", () => {
    const reason = b.dataset.state === "paused" ? (window.prompt("Orsak till paus:", "rast") || "") : "";
    post("/api/console/state", {state: b.dataset.state, reason});
  }));
  document.addEventListener("keydown", (event) => {
    if (event.target.matches("input, textarea")) return;
    if (event.key === "/") { const s = document.querySelector("#my-call .target"); if (s) { s.focus(); event.preventDefault(); } }
    if (/^[1-4]$/.test(event.key) && heldId) { document.querySelectorAll("[data-wrapup]")[Number(event.key) - 1].click(); }
    if (event.key === "a") { const b = document.querySelector("[data-answer]"); if (b) b.click(); }
  });

  const source = new EventSource("/console/stream");
  source.addEventListener("snapshot", (event) => { $("live").textContent = "live"; render(JSON.parse(event.data)); });
  source.onerror = () => { $("live").textContent = "återansluter…"; };
})();

// The operator console: a live picture from server-sent events, keyboard-first actions on the call I hold.
// Every text comes from the page's catalogue (#console-texts, in the user's language); numbers and times are
// formatted with the browser's Intl for that language (sv: "1 234", "10:05").
(() => {
  "use strict";
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const me = meta("vaxel-me");  // who I am, from the page (no inline script: the CSP allows none)
  const myName = meta("vaxel-name");
  const lang = meta("vaxel-lang") === "en" ? "en-GB" : "sv-SE";
  const TEXTS = JSON.parse(document.querySelector('meta[name="vaxel-texts"]').content);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const errorBox = $("console-error");
  const baseTitle = document.title;
  let snapshot = null;
  let targets = [];
  let selected = -1;
  let heldId = null;
  let chosenWrapup = null;  // {callId, outcome, label}: keys 1–4 after the call choose, Enter confirms
  let seenQueue = null;     // call ids in the queue at the last snapshot (null: nothing seen yet)
  let seenReturns = null;   // "call|target|reason|n" keys of transfers that came back
  let audio = null;

  const {el} = window.vaxelDom;
  const t = (key, values = {}) => (TEXTS[key] || key).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
  const num = (n) => new Intl.NumberFormat(lang).format(n);
  const mmss = (s) => s >= 3600 ? `${num(Math.floor(s / 3600))} h ${Math.floor(s / 60) % 60} min`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  const timeZone = document.querySelector('meta[name="vaxel-tz"]').content;  // the service's time, not the browser's
  const clock = (iso) => new Date(iso).toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit", timeZone});
  const dayOf = (iso) => new Date(iso).toLocaleDateString("sv-SE", {timeZone});
  const dayTime = (iso) => {  // "tis 1 dec. 08:00": a date a week ahead keeps its date
    const d = new Date(iso);
    const sameDay = dayOf(iso) === dayOf(snapshot ? snapshot.now : Date.now());
    return sameDay ? clock(iso) : d.toLocaleString(lang, {weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone});
  };
  const badge = (status, text) => el("span", {class: "status", "data-status": status}, text);
  // a list row: its parts separated by spaces, so the row reads (and copies) as words, not "i samtal070…"
  const row = (attrs, ...parts) => el("li", attrs, ...parts.flat().filter((p) => p !== "").flatMap((p, i) => i ? [" ", p] : [p]));

  function showError(text) { errorBox.textContent = text; }

  async function post(path, body = {}) {
    showError("");
    let reply;
    try {
      reply = await fetch(path, {method: "POST", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}});
    } catch (err) { showError(t("no_server")); return null; }
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) { showError(data.error || t("error_status", {status: reply.status})); return null; }
    render(data);
    return data;
  }

  // --- alerts: a new or returned call changes the tab title, flashes, beeps, and notifies a hidden tab ---
  function beep() {
    if (!$("sound").checked) return;
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
      for (const [start, freq] of [[0, 880], [0.25, 660]]) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = freq; gain.gain.value = 0.15;
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + start); osc.stop(audio.currentTime + start + 0.18);
      }
    } catch (err) { /* no audio device: the title and the flash still tell */ }
  }
  function alertOperator(text, paneId) {
    const box = $("alert");
    box.textContent = text;
    box.classList.remove("flash"); void box.offsetWidth; box.classList.add("flash");
    document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
    const pane = $(paneId).closest(".pane");
    pane.classList.add("alerting");
    setTimeout(() => pane.classList.remove("alerting"), 4000);
    beep();
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      new Notification("vaxel", {body: text, tag: "vaxel-console"});
    }
  }
  // the queues I serve (an admin chooses them; the default queue otherwise): only their callers are mine to take
  const myQueues = (data) => (data.served && data.served[me]) || (data.queues.length ? [data.queues[0].id] : []);
  const waitingForMe = (data) => data.queue.filter((q) => myQueues(data).includes(q.queue));

  function watchForAlerts(data) {
    const mineWaiting = waitingForMe(data);
    const queued = new Set(mineWaiting.map((q) => q.call_id));
    const returns = new Set(data.returned.map((r) => `${r.call_id}|${r.target}|${r.reason}|${r.to}`));
    if (seenQueue !== null) {
      const fresh = mineWaiting.find((q) => !seenQueue.has(q.call_id));
      const back = data.returned.find((r) => !seenReturns.has(`${r.call_id}|${r.target}|${r.reason}|${r.to}`));
      if (back) alertOperator(t("alert_returned", {target: back.target, reason: back.reason_text}), "returned");
      else if (fresh) alertOperator(t("alert_new", {caller: fresh.caller}), "queue");
    }
    seenQueue = queued; seenReturns = returns;
    const longest = mineWaiting.length ? Math.max(...mineWaiting.map((q) => q.waited)) : 0;
    document.title = mineWaiting.length ? `(${num(mineWaiting.length)}) ${t("title_waiting", {wait: mmss(longest)})} – ${baseTitle}` : baseTitle;
    if (!mineWaiting.length && !data.returned.length) $("alert").textContent = "";
  }

  function count(id, n, extra = "") { $(id).textContent = `(${num(n)})${extra}`; }

  function render(data) {
    snapshot = data;
    const mine = data.operators.find((o) => o.username === me);
    const state = mine ? mine.state : "offline";
    const myState = $("my-state");
    myState.dataset.status = state;
    myState.textContent = `${t("state_" + state)}${mine && mine.reason ? " – " + mine.reason : ""}`;

    const waiting = waitingForMe(data);
    const served = data.queues.filter((q) => myQueues(data).includes(q.id));
    const several = served.length > 1;
    const longest = waiting.length ? Math.max(...waiting.map((q) => q.waited)) : 0;
    count("queue-count", waiting.length, waiting.length ? ` · ${t("longest", {wait: mmss(longest)})}` : "");
    $("queues-served").replaceChildren(...served.map((q) => el("li", {"data-queue": q.id},
      el("strong", {}, q.name), " ", el("span", {class: "count"}, `(${num(q.count)})`),
      q.count ? el("span", {class: "muted"}, ` · ${t("longest", {wait: mmss(q.longest)})}`) : "")));
    $("queue").replaceChildren(...waiting.map((q) => row({"data-call": q.call_id, "data-queue": q.queue},
      el("span", {class: "pos"}, `${num(q.position)}.`), several ? badge("queue", q.queue_name) : "",
      el("span", {class: "num"}, q.caller),
      el("span", {class: "muted"}, `${t("waited", {wait: mmss(q.waited)})} · ${q.menu_choice}`),
      q.bounces.length ? badge("returned", t("returned_from", {target: q.bounces[q.bounces.length - 1].target})) : "",
      q.bounces.length > 1 ? el("span", {class: "muted"}, t("bounced_times", {n: num(q.bounces.length)})) : "",
      q.channel === "simulator" || q.channel === "demo"
        ? el("button", {type: "button", "data-answer": q.call_id}, el("kbd", {}, "A"), " ", t("answer")) : "")));
    $("queue-empty").hidden = waiting.length > 0;

    count("ringing-count", data.ringing.length);
    $("ringing").replaceChildren(...data.ringing.map((r) => row({"data-call": r.call_id},
      badge("ringing", t("ringing")), el("span", {class: "num"}, r.caller), "→", el("strong", {}, r.target),
      el("span", {class: "muted"}, `${r.unit}${r.extension ? " · " + t("ext", {ext: r.extension}) : ""} · ${mmss(r.ringing)} · ${t("by", {who: r.by})}`))));
    count("returned-count", data.returned.length);
    $("returned").replaceChildren(...data.returned.map((r) => row({"data-call": r.call_id, "data-reason": r.reason},
      badge("returned", t("back_reason", {reason: r.reason_text})),
      el("span", {}, t("from", {target: r.target})),
      el("span", {class: "muted"}, `${r.to === "operator" ? t("to_operator", {who: r.operator}) : t("first_in_queue")} · ${t("ago", {time: mmss(r.ago)})}`))));
    count("operators-count", data.operators.filter((o) => o.state !== "offline").length);
    $("operators").replaceChildren(...data.operators.map((o) => row({"data-operator": o.username},
      el("strong", {}, o.username), badge(o.state, t("state_" + o.state)), o.reason ? el("span", {class: "muted"}, o.reason) : "",
      el("span", {class: "muted"}, mmss(o.since)),
      o.call ? [o.call.transfer_ringing ? badge("ringing", t("transferring")) : (o.call.on_hold ? badge("hold", t("on_hold")) : badge("talking", t("in_call"))),
        el("span", {class: "num"}, o.call.caller)] : "")));
    count("callbacks-count", data.callbacks.length);
    $("callbacks").replaceChildren(...data.callbacks.map((c) => row({"data-callback": c.id},
      el("span", {class: "num"}, c.number || "–"), badge(c.status, c.status_text),
      el("span", {class: "muted"}, [t("attempts", {n: num(c.attempts), max: num(c.max_attempts)}),
        c.position ? t("place", {n: num(c.position)}) : "", c.unit ? t("for_unit", {unit: c.unit}) : "",
        c.answered_by === "unit" ? t("unit_answers") : "", c.subject || ""].filter(Boolean).join(" · ")))));
    $("callbacks-empty").hidden = data.callbacks.length > 0;
    $("notices").replaceChildren(...(data.notices || []).map((n) => row({"data-kind": n.kind, "data-active": String(n.active)},
      badge(n.kind === "crisis" ? "crisis" : "closed", n.kind === "crisis" ? t("crisis") : t("closure")), " ",
      el("strong", {}, n.active ? t("notice_now", {until: dayTime(n.ends)}) : t("notice_later", {from: dayTime(n.starts), until: dayTime(n.ends)})),
      " ", n.message)));
    document.querySelectorAll("[data-answer]").forEach((b) => b.addEventListener("click", () => answer(b.dataset.answer)));
    watchForAlerts(data);
    renderCall(mine && mine.call, (mine && mine.to_wrap_up) || []);
  }

  async function answer(callId) {
    const data = await post(`/api/console/calls/${callId}/answer`);
    if (data) { const search = document.querySelector("#my-call .target"); if (search) search.focus(); }
  }

  // A wrap-up is given once; choosing another outcome afterwards is an explicit, logged correction.
  async function wrapUp(callId, outcome, done) {
    if (!done) return post(`/api/console/calls/${callId}/wrapup`, {outcome});
    if (done.outcome === outcome) { showError(t("already_outcome", {label: done.label})); return null; }
    const note = window.prompt(t("correct_prompt", {label: done.label}), "");
    if (note === null) return null;
    return post(`/api/console/calls/${callId}/wrapup`, {outcome, supersedes: done.id, note});
  }

  function wrapupButtons(legend, onPick) {
    const set = $("call-panel").content.querySelector("fieldset.wrapup").cloneNode(true);
    set.querySelector("legend").textContent = legend;
    set.querySelectorAll("[data-wrapup]").forEach((b) => b.addEventListener("click", () => onPick(b.dataset.wrapup, b.textContent.replace(/^\s*\d\s*/, ""))));
    return set;
  }

  // Calls I handed over (ended, or transferred and answered) without a wrap-up: give it now. Keys 1–4 choose
  // for the first of them, Enter confirms, Esc cancels — never while a call is in my hands.
  function renderDue(box, due) {
    if (chosenWrapup && !due.some((d) => d.call_id === chosenWrapup.callId)) chosenWrapup = null;
    const items = due.map((d, i) => {
      const how = d.transferred_to ? t("handed_to", {target: d.transferred_to, time: mmss(d.ended)}) : t("ended_ago", {time: mmss(d.ended)});
      const set = wrapupButtons(`${d.caller} · ${how}`, (outcome, label) => choose(d.call_id, outcome, label));
      if (i === 0) set.dataset.keys = "1";
      const item = el("li", {"data-call": d.call_id}, set);
      if (chosenWrapup && chosenWrapup.callId === d.call_id) {
        set.querySelector(`[data-wrapup=${chosenWrapup.outcome}]`).classList.add("chosen");
        const ok = el("button", {type: "button", "data-confirm": "1"}, el("kbd", {}, "Enter"), " ", t("save"));
        const no = el("button", {type: "button"}, el("kbd", {}, "Esc"), " ", t("undo"));
        ok.addEventListener("click", confirmWrapup);
        no.addEventListener("click", () => { chosenWrapup = null; renderDue(box, due); });
        item.append(el("p", {class: "confirm", role: "alert"}, t("confirm_outcome", {label: chosenWrapup.label, caller: d.caller}), " ", ok, " ", no));
      }
      return item;
    });
    box.replaceChildren(el("p", {class: "empty"}, t("no_call")),
      ...(items.length ? [el("h3", {}, t("give_outcome")), el("p", {class: "hint"}, t("outcome_keys")), el("ul", {class: "to-wrap-up"}, ...items)] : []));
  }
  function choose(callId, outcome, label) {
    chosenWrapup = {callId, outcome, label};
    renderCall(null, myDue());
    const ok = document.querySelector("#my-call [data-confirm]");
    if (ok) ok.focus();
  }
  async function confirmWrapup() {
    if (!chosenWrapup) return;
    const {callId, outcome} = chosenWrapup;
    chosenWrapup = null;
    await post(`/api/console/calls/${callId}/wrapup`, {outcome});
  }
  const myself = () => (snapshot && snapshot.operators.find((o) => o.username === me)) || {};
  const myDue = () => myself().to_wrap_up || [];
  const currentCall = () => myself().call || {};

  function renderCall(call, due = []) {
    const box = $("my-call");
    if (!call) { heldId = null; renderDue(box, due); return; }
    chosenWrapup = null;
    if (heldId === call.call_id) { updateCall(call); return; }  // keep the search box and its focus
    heldId = call.call_id;
    const panel = $("call-panel").content.firstElementChild.cloneNode(true);
    panel.dataset.call = call.call_id;
    panel.querySelector(".script").textContent = t("script", {name: myName, municipality: meta("vaxel-municipality")});
    panel.querySelector("[data-act=hold]").addEventListener("click", () => post(`/api/console/calls/${call.call_id}/hold`, {on: !currentCall().on_hold}));
    panel.querySelector("[data-act=queue]").addEventListener("click", () => post(`/api/console/calls/${call.call_id}/queue`));
    const end = panel.querySelector("[data-act=end]");
    if (call.channel === "simulator" || call.channel === "demo") end.addEventListener("click", () => post(`/api/console/calls/${call.call_id}/end`));
    else end.remove();
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
    targets = []; selected = -1;
    updateCall(call);
    search.focus();  // answered: the next thing an operator does is find whom to connect
  }

  function updateCall(call) {
    const panel = $("my-call").querySelector(".call");
    const context = [t("calling_from", {caller: call.caller}), call.menu_choice, t("talk_time", {time: mmss(call.talking)})];
    panel.querySelector(".context").textContent = context.join(" · ");
    panel.querySelector(".bounces").replaceChildren(...(call.bounces || []).map((b) => el("li", {"data-reason": b.reason},
      t("bounce", {target: b.target, reason: b.reason_text, time: mmss(b.ago)}))));
    panel.querySelector("fieldset.wrapup legend").textContent =
      call.wrapup ? t("outcome_given", {label: call.wrapup.label}) : t("outcome_during");
    panel.querySelectorAll("[data-wrapup]").forEach((b) => b.setAttribute("aria-pressed", String(Boolean(call.wrapup) && call.wrapup.outcome === b.dataset.wrapup)));
    const ring = panel.querySelector(".ring");
    const tr = call.transfer;
    ring.replaceChildren(
      tr ? badge("ringing", t(tr.attended ? "consult_ringing" : "transfer_ringing",
        {target: tr.target, unit: tr.unit, time: mmss(tr.ringing), ext: tr.extension || "–"})) : "",
      call.on_hold ? badge("hold", t("on_hold")) : "");
    ring.dataset.target = tr ? tr.target : "";
    if (tr && tr.attended) {  // a consultation (Shift+Enter) is completed or cancelled from here; a blind one is not
      for (const [act, key, label] of [["complete", "F", t("complete")], ["cancel", "Esc", t("cancel")]]) {
        const b = el("button", {type: "button", "data-consult": act}, el("kbd", {}, key), " ", label);
        b.addEventListener("click", () => post(`/api/console/calls/${call.call_id}/${act}`));
        ring.append(b);
      }
    }
    if (tr && (call.channel === "simulator" || call.channel === "demo")) {
      for (const [status, label] of [["answered", t("sim_answered")], ["no-answer", t("sim_no_answer")], ["busy", t("sim_busy")]]) {
        const b = el("button", {type: "button", "data-simulate": status}, t("simulate", {what: label}));
        b.addEventListener("click", () => post(`/api/console/calls/${call.call_id}/simulate`, {status}));
        ring.append(b);
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

  function availability(tgt) {  // why the person can or cannot take the call now, with dates that keep their date
    const parts = [];
    if (tgt.status_reason) parts.push(tgt.status_reason);
    if (tgt.status_until) parts.push(t("until", {when: dayTime(tgt.status_until)}));
    if (tgt.forward_to) parts.push(`→ ${tgt.forward_to}`);
    return parts.join(" · ");
  }

  function drawTargets() {
    const list = document.querySelector("#my-call .targets");
    if (!list) return;
    list.replaceChildren(...targets.map((tgt, i) => {
      const hours = tgt.open_now ? badge("open", tgt.closes ? t("open_until", {time: dayTime(tgt.closes)}) : t("open_now"))
        : badge("closed", tgt.opens ? t("opens", {when: dayTime(tgt.opens)}) : t("closed_now"));
      const item = el("li", {role: "option", "aria-selected": String(i === selected), "data-id": tgt.id},
        el("span", {class: "who"}, tgt.name, tgt.extension ? el("span", {class: "muted"}, ` · ${t("ext", {ext: tgt.extension})}`) : ""),
        el("span", {class: "side"}, el("span", {class: "status", "data-status": tgt.status}, tgt.status_label),
          tgt.status === "closed" || tgt.status === "absent" ? "" : hours),
        el("span", {class: "where"}, [tgt.title, tgt.unit, availability(tgt), tgt.matched_by ? t("matched", {why: TEXTS["match_" + tgt.matched_by] || tgt.matched_by}) : ""].filter(Boolean).join(" · ")));
      item.addEventListener("click", () => transfer(tgt, false));
      const note = el("button", {type: "button", "data-message": tgt.id, title: t("message_to", {name: tgt.name})}, t("message"));
      note.addEventListener("click", (event) => { event.stopPropagation(); messageFor(tgt); });
      item.querySelector(".side").append(note);
      if (tgt.suggestion) {  // away: a free colleague (same keyword, or the unit's function) who can take it now
        const instead = el("button", {type: "button", class: "suggestion", "data-suggestion": tgt.suggestion.id,
          title: t("colleague_instead", {name: tgt.name})}, t("free_colleague_named", {name: tgt.suggestion.name}));
        instead.addEventListener("click", (event) => { event.stopPropagation(); transfer(tgt.suggestion, false); });
        item.querySelector(".side").append(instead);
      }
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
    showError("");
    const body = {target: form.dataset.target, number: form.querySelector(".message-number").value,
      subject: form.querySelector(".message-subject").value, message: form.querySelector(".message-text").value};
    const reply = await fetch(`/api/console/calls/${callId}/message`, {method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf}});
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) { showError(data.error || t("error_status", {status: reply.status})); return; }
    const due = data.due_by ? " " + t("answer_by", {when: dayTime(data.due_by)}) : "";
    form.querySelector(".message-result").textContent = t("message_saved", {id: data.id, unit: data.unit}) + due + " " +
      (data.emailed_to ? t("emailed", {to: data.emailed_to}) : t("not_emailed", {why: data.email_error}));
    form.querySelector(".message-subject").value = "";
    form.querySelector(".message-text").value = "";
    if (!currentCall().wrapup) await post(`/api/console/calls/${callId}/wrapup`, {outcome: "message_taken"});
  }

  async function transfer(target, attended) {
    let breakThrough = false;
    if (target.status === "closed" || target.status === "absent") {
      breakThrough = window.confirm(t("break_through", {name: target.name, status: target.status_label.toLowerCase()}));
      if (!breakThrough) return;
    }
    await post(`/api/console/calls/${heldId}/transfer`, {target_id: target.id, attended, break_through: breakThrough});
  }

  // --- my state: ready, paused with a reason from the menu, out of the queue ---
  const pauseMenu = $("pause-menu");
  const other = $("pause-other");
  function openPauseMenu() {
    pauseMenu.hidden = false; other.hidden = true; other.value = "";
    pauseMenu.querySelector("button").focus();
  }
  function closePauseMenu() { pauseMenu.hidden = true; }
  function pause(reason) { closePauseMenu(); return post("/api/console/state", {state: "paused", reason}); }
  pauseMenu.querySelectorAll("[data-reason]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.other) { other.hidden = false; other.focus(); return; }
    pause(b.dataset.reason);
  }));
  other.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && other.value.trim()) { pause(other.value.trim()); event.preventDefault(); }
    if (event.key === "Escape") closePauseMenu();
  });
  document.querySelectorAll("#me > [data-state]").forEach((b) => b.addEventListener("click", () => {
    if (b.dataset.state === "paused") { openPauseMenu(); return; }
    if ("Notification" in window && Notification.permission === "default") Notification.requestPermission();
    audio = audio || (window.AudioContext ? new AudioContext() : null);  // a click may start the sound
    post("/api/console/state", {state: b.dataset.state, reason: ""});
  }));

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    if (!pauseMenu.hidden) {
      const items = [...pauseMenu.querySelectorAll("[data-reason]")];
      if (event.key === "Escape") { closePauseMenu(); event.preventDefault(); return; }
      if (event.target === other) return;
      const n = Number(event.key);
      if (n >= 1 && n <= items.length) { items[n - 1].click(); event.preventDefault(); }
      return;
    }
    if (event.target.matches("input, textarea, select")) return;
    const key = event.key.toLowerCase();
    const call = currentCall();
    if (event.key === "/") { const s = document.querySelector("#my-call .target"); if (s) { s.focus(); event.preventDefault(); } return; }
    if (key === "r") { document.querySelector("#me [data-state=ready]").click(); return; }
    if (key === "p") { openPauseMenu(); event.preventDefault(); return; }
    if (key === "a" && !heldId) { const b = document.querySelector("[data-answer]"); if (b) b.click(); return; }
    if (heldId) {
      if (key === "h") document.querySelector("#my-call [data-act=hold]").click();
      else if (key === "k") document.querySelector("#my-call [data-act=queue]").click();
      else if (key === "f" && call.transfer && call.transfer.attended) document.querySelector("#my-call [data-consult=complete]").click();
      else if (event.key === "Escape" && call.transfer && call.transfer.attended) document.querySelector("#my-call [data-consult=cancel]").click();
      else if (/^[1-4]$/.test(event.key)) showError(t("keys_after_call"));
      return;
    }
    // no call in my hands: 1–4 choose the outcome of the call I last handed over, Enter saves, Esc cancels
    const first = document.querySelector("#my-call fieldset.wrapup[data-keys]");
    if (/^[1-4]$/.test(event.key) && first) { first.querySelectorAll("[data-wrapup]")[Number(event.key) - 1].click(); event.preventDefault(); }
    else if (event.key === "Enter" && chosenWrapup && event.target.tagName !== "BUTTON") { confirmWrapup(); event.preventDefault(); }
    else if (event.key === "Escape" && chosenWrapup) { chosenWrapup = null; renderCall(null, myDue()); }
  });

  // --- the live stream; a lost server is said loudly and the stale picture greyed out ---
  let lostTimer = null;
  function lost() {
    $("offline-banner").hidden = false;
    document.body.classList.add("stale");
    const live = $("live"); live.dataset.status = "failed"; live.textContent = t("offline");
    document.title = `${t("offline_title")} – ${baseTitle}`;
  }
  function connect() {
    const source = new EventSource("/console/stream");
    source.addEventListener("snapshot", (event) => {
      clearTimeout(lostTimer); lostTimer = null;
      $("offline-banner").hidden = true;
      document.body.classList.remove("stale");
      const live = $("live"); live.dataset.status = "ready"; live.textContent = t("live");
      render(JSON.parse(event.data));
    });
    source.onerror = () => {
      const live = $("live"); live.dataset.status = "pending"; live.textContent = t("reconnecting");
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 2000); }
      if (!lostTimer) lostTimer = setTimeout(lost, 2500);  // a reload's blip is not an outage
    };
  }
  connect();
})();

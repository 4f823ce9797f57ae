// The operator's directory: search while typing, move with the keyboard, open with Enter, clear with Esc.
(() => {
  "use strict";
  const input = document.getElementById("q");
  const list = document.getElementById("results");
  const summary = document.getElementById("summary");
  const detail = document.getElementById("detail");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let results = [];
  let selected = -1;
  let timer = null;
  let sequence = 0;

  const {el} = window.vaxelDom;
  const time = (iso) => iso ? new Date(iso).toLocaleString("sv-SE", {weekday: "short", hour: "2-digit", minute: "2-digit"}) : "";
  const badge = (r) => el("span", {class: `status status-${r.status}`, "data-status": r.status}, r.status_label);
  const hours = (r) => r.open_now
    ? el("span", {class: "open"}, `Öppet nu${r.closes ? " till " + time(r.closes).split(" ").pop() : ""}`)
    : el("span", {class: "closed"}, `Stängt – öppnar ${time(r.opens)}`);

  async function runSearch() {
    const query = input.value.trim();
    const mine = ++sequence;
    if (!query) { results = []; selected = -1; render(); return; }
    const reply = await fetch(`/api/directory/search?q=${encodeURIComponent(query)}&limit=20`,
                              {headers: {Accept: "application/json"}});
    if (mine !== sequence) return;  // a newer keystroke's answer wins
    if (!reply.ok) { summary.textContent = "Sökningen misslyckades."; return; }
    results = (await reply.json()).results;
    selected = results.length ? 0 : -1;
    render();
  }

  function render() {
    list.replaceChildren(...results.map((r, i) => {
      const item = el("li", {role: "option", id: `hit-${i}`, "aria-selected": String(i === selected), "data-id": r.id},
        el("div", {}, el("span", {class: "who"}, r.name), " ", badge(r)),
        el("div", {class: "meta"}, [r.title, r.unit].filter(Boolean).join(" · "), " · ", r.extension ? `ankn. ${r.extension}` : ""),
        el("div", {class: "meta"}, hours(r), r.colleagues.length ? ` · ${r.colleagues.length} kollega(or) lediga` : ""),
        r.on_duty ? el("div", {class: "meta on-duty"}, onDuty(r.on_duty)) : "");
      item.addEventListener("click", () => { selected = i; render(); open(r.id); });
      return item;
    }));
    input.setAttribute("aria-activedescendant", selected >= 0 ? `hit-${selected}` : "");
    summary.textContent = input.value.trim() ? `${results.length} träffar` : "";
    if (selected >= 0) document.getElementById(`hit-${selected}`).scrollIntoView({block: "nearest"});
  }

  function onDuty(person) {
    // who takes the function's calls now by its rota; when they are not free the function's own number is rung
    const free = ["available", "busy"].includes(person.status);
    return `I tjänst: ${person.name}${person.extension ? ` (ankn. ${person.extension})` : ""}` +
      (free ? "" : " – inte på plats, funktionens eget nummer rings");
  }

  async function open(id) {
    const reply = await fetch(`/api/directory/entries/${encodeURIComponent(id)}`, {headers: {Accept: "application/json"}});
    if (reply.ok) showDetail(await reply.json());
  }

  function showDetail(r) {
    const rows = [
      ["Status", badge(r), r.status_reason ? ` (${r.status_reason})` : "", r.status_until ? ` till ${time(r.status_until)}` : "",
       r.forward_to ? ` → ${r.display.forward_to}` : "", r.status_set_by ? ` – satt av ${r.status_set_by}` : ""],
      ...(r.on_duty ? [["I tjänst", onDuty(r.on_duty)]] : []),
      ["Titel", r.title], ["Enhet", r.unit_path.join(" › ")], ["Anknytning", r.extension || "–"],
      ["Direkt", r.display.phone || (r.phone === null ? "dolt nummer" : "–")], ["Mobil", r.display.mobile || "–"],
      ["E-post", r.email || "–"], ["Telefontid", r.hours_text, " – ", hours(r)],
      ["Sökord", r.keywords.join(", ")], ["Anteckning", r.notes || "–"],
    ];
    const colleagues = r.colleagues.length
      ? el("ul", {}, ...r.colleagues.map(c => el("li", {}, `${c.name} (${c.title}) ankn. ${c.extension || "–"} `,
          el("span", {class: "status status-available"}, "Ledig"))))
      : el("p", {}, "Ingen annan på enheten är ledig just nu.");
    const closed = r.status === "closed";
    const toggle = el("button", {type: "button", id: "toggle-closed"}, closed ? "Öppna anknytningen" : "Stäng anknytningen");
    toggle.addEventListener("click", () => closed
      ? setStatus(r.id, {status: "available"})
      : setStatus(r.id, {status: "closed", reason: window.prompt("Orsak (t.ex. sjuk):", "") || ""}));
    const form = document.getElementById("status-form").content.firstElementChild.cloneNode(true);
    form.status.value = ["available", "absent", "forwarded", "closed"].includes(r.status) ? r.status : "available";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      setStatus(r.id, {status: form.status.value, reason: form.reason.value, until: form.until.value || null,
                       forward_to: form.forward_to.value || null});
    });
    detail.replaceChildren(
      el("h2", {}, r.name, r.kind === "function" ? " (funktion)" : ""),
      el("dl", {}, ...rows.flatMap(([label, ...value]) => [el("dt", {}, label), el("dd", {}, ...value)])),
      el("h3", {}, "Lediga kollegor på enheten"), colleagues,
      el("p", {class: "actions"}, toggle), form, el("p", {id: "detail-error", role: "alert", class: "closed"}));
    detail.hidden = false;
  }

  async function setStatus(id, body) {
    const reply = await fetch(`/api/directory/entries/${encodeURIComponent(id)}/status`, {
      method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)});
    const data = await reply.json();
    if (!reply.ok) { document.getElementById("detail-error").textContent = data.error; return; }
    showDetail(data);
    await runSearch();
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 60); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && results.length) { selected = Math.min(selected + 1, results.length - 1); render(); event.preventDefault(); }
    else if (event.key === "ArrowUp" && results.length) { selected = Math.max(selected - 1, 0); render(); event.preventDefault(); }
    else if (event.key === "Enter" && selected >= 0) { open(results[selected].id); event.preventDefault(); }
    else if (event.key === "Escape") { input.value = ""; results = []; selected = -1; detail.hidden = true; render(); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.activeElement !== input) { detail.hidden = true; input.focus(); }
  });
  input.focus();
})();

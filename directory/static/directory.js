// The operator's directory: search while typing, move with the keyboard, open with Enter, clear with Esc.
// One compact line per hit; why it matched; dates that keep their date; numbers as people read them.
(() => {
  "use strict";
  const input = document.getElementById("q");
  const list = document.getElementById("results");
  const summary = document.getElementById("summary");
  const detail = document.getElementById("detail");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lang = document.querySelector('meta[name="vaxel-lang"]').content === "en" ? "en-GB" : "sv-SE";
  const TEXTS = JSON.parse(document.querySelector('meta[name="vaxel-texts"]').content);
  let results = [];
  let selected = -1;
  let shownId = null;  // the entry open in the detail: the highlight follows it when the list re-sorts
  let timer = null;
  let sequence = 0;
  let today = null;  // the service's day (from its answers), not the browser's

  const {el} = window.vaxelDom;
  const t = (key, values = {}) => (TEXTS[key] || key).replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
  const timeZone = document.querySelector('meta[name="vaxel-tz"]').content;  // the service's time, not the browser's
  const clock = (iso) => new Date(iso).toLocaleTimeString(lang, {hour: "2-digit", minute: "2-digit", timeZone});
  const dayOf = (iso) => new Date(iso).toLocaleDateString("sv-SE", {timeZone});
  const when = (iso) => {  // today: "16:00"; another day: "tis 1 dec. 08:00" — a week ahead keeps its date
    if (!iso) return "";
    const d = new Date(iso);
    return dayOf(iso) === today ? clock(iso)
      : d.toLocaleString(lang, {weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone});
  };
  const badge = (r) => el("span", {class: "status presence", "data-status": r.status}, t(`status_${r.status}`) || r.status_label);
  const unreachable = (r) => r.status === "closed" || r.status === "absent";
  // phone hours say whether the line is open; when the person is closed or absent, that wins (no green beside it)
  const hours = (r) => unreachable(r) ? el("span", {class: "meta"}, r.open_now ? t("open_now") : t("closed_now"))
    : r.open_now ? el("span", {class: "status", "data-status": "open"}, r.closes ? t("open_until", {time: when(r.closes)}) : t("open_now"))
      : el("span", {class: "status", "data-status": "closed"}, r.opens ? t("opens", {when: when(r.opens)}) : t("closed_now"));
  const why = (r) => r.matched_by ? t("matched", {why: TEXTS[`match_${r.matched_by}`] || r.matched_by}) : "";
  const absence = (r) => [r.status_reason, r.status_until ? t("until", {when: when(r.status_until)}) : "",
    r.forward_to ? `→ ${r.display.forward_to || r.forward_to}` : ""].filter(Boolean).join(" ");

  async function runSearch() {
    const query = input.value.trim();
    const mine = ++sequence;
    if (!query) { results = []; selected = -1; render(); return; }
    const reply = await fetch(`/api/directory/search?q=${encodeURIComponent(query)}&limit=30`,
                              {headers: {Accept: "application/json"}});
    if (mine !== sequence) return;  // a newer keystroke's answer wins
    if (!reply.ok) { summary.textContent = t("search_failed"); return; }
    const data = await reply.json();
    today = dayOf(data.now);
    results = data.results;
    const open = shownId === null ? -1 : results.findIndex((r) => r.id === shownId);
    selected = open >= 0 ? open : (results.length ? 0 : -1);
    render();
  }

  function render() {
    list.replaceChildren(...results.map((r, i) => {
      const item = el("li", {role: "option", id: `hit-${i}`, "aria-selected": String(i === selected), "data-id": r.id,
                             "data-open": String(r.id === shownId)},
        el("span", {class: "who", title: r.name}, r.name),
        el("span", {class: "ext"}, r.extension || "–"),
        el("span", {}, badge(r), " ", unreachable(r) ? el("span", {class: "meta"}, absence(r)) : hours(r)),
        el("span", {class: "meta", title: [r.title, r.unit, why(r)].join(" · ")},
          [r.title, r.unit, r.on_duty ? onDuty(r.on_duty) : "", why(r), r.colleagues.length === 1 ? t("free_colleague") : r.colleagues.length ? t("free_colleagues", {n: r.colleagues.length}) : ""].filter(Boolean).join(" · ")));
      item.addEventListener("click", () => { selected = i; render(); open(r.id); });
      return item;
    }));
    input.setAttribute("aria-activedescendant", selected >= 0 ? `hit-${selected}` : "");
    summary.textContent = !input.value.trim() ? "" : results.length === 1 ? t("one_hit")
      : results.length ? t("hits", {n: results.length}) : t("no_hits");
    if (selected >= 0) document.getElementById(`hit-${selected}`).scrollIntoView({block: "nearest"});
  }

  function onDuty(person) {
    // who takes the function's calls now by its rota; when they are not free the function's own number is rung
    const free = ["available", "busy"].includes(person.status);
    return t("on_duty", {name: person.name}) + (person.extension ? ` (${t("ext", {ext: person.extension})})` : "") +
      (free ? "" : ` – ${t("on_duty_away")}`);
  }

  async function open(id) {
    const reply = await fetch(`/api/directory/entries/${encodeURIComponent(id)}`, {headers: {Accept: "application/json"}});
    if (reply.ok) showDetail(await reply.json());
  }

  function showDetail(r, message = "") {
    shownId = r.id;
    const rows = [
      [t("status"), badge(r), absence(r) ? ` ${absence(r)}` : "", r.status_set_by ? ` – ${t("set_by", {who: r.status_set_by})}` : ""],
      ...(r.on_duty ? [[t("on_duty_label"), onDuty(r.on_duty)]] : []),
      [t("title"), r.title], [t("unit"), r.unit_path.join(" › ")], [t("extension"), r.extension || "–"],
      [t("direct"), r.display.phone || (r.phone === null ? t("hidden") : "–")], [t("mobile"), r.display.mobile || "–"],
      [t("email"), r.email || "–"], [t("hours"), r.hours_text, " ", hours(r)],
      [t("keywords"), r.keywords.join(", ")], [t("note"), r.notes || "–"],
    ];
    const colleagues = r.colleagues.length
      ? el("ul", {}, ...r.colleagues.map(c => el("li", {}, `${c.name} (${c.title}) ${t("ext", {ext: c.extension || "–"})} `,
          el("span", {class: "status", "data-status": "available"}, t("free")))))
      : el("p", {}, t("nobody_free"));
    const closed = r.status === "closed";
    const toggle = el("button", {type: "button", id: "toggle-closed"}, closed ? t("open_line") : t("close_line"));
    toggle.addEventListener("click", () => {
      if (closed) { setStatus(r.id, {status: "available"}); return; }
      const reason = window.prompt(t("close_reason"), "");
      if (reason !== null) setStatus(r.id, {status: "closed", reason});
    });
    const form = document.getElementById("status-form").content.firstElementChild.cloneNode(true);
    form.status.value = ["available", "absent", "forwarded", "closed"].includes(r.status) ? r.status : "available";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      setStatus(r.id, {status: form.status.value, reason: form.reason.value, until: form.until.value || null,
                       forward_to: form.forward_to.value || null});
    });
    detail.replaceChildren(  // errors and confirmations at the top, where the eye is, not below the fold
      el("h2", {}, r.name, r.kind === "function" ? ` ${t("function")}` : ""),
      el("p", {id: "detail-error", role: "alert"}), el("p", {id: "detail-saved", role: "status", class: "hint"}, message),
      el("dl", {}, ...rows.flatMap(([label, ...value]) => [el("dt", {}, label), el("dd", {}, ...value)])),
      el("p", {class: "actions"}, toggle), form,
      el("h3", {}, t("free_heading")), colleagues);
    detail.hidden = false;
    detail.scrollTop = 0;
    render();
  }

  async function setStatus(id, body) {
    const reply = await fetch(`/api/directory/entries/${encodeURIComponent(id)}/status`, {
      method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)});
    const data = await reply.json().catch(() => ({}));
    if (!reply.ok) { document.getElementById("detail-error").textContent = data.error || reply.statusText; return; }
    showDetail(data, t("saved", {name: data.name}));
    await runSearch();
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(runSearch, 60); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && results.length) { selected = Math.min(selected + 1, results.length - 1); render(); event.preventDefault(); }
    else if (event.key === "ArrowUp" && results.length) { selected = Math.max(selected - 1, 0); render(); event.preventDefault(); }
    else if (event.key === "Enter" && selected >= 0) { open(results[selected].id); event.preventDefault(); }
    else if (event.key === "Escape") { input.value = ""; results = []; selected = -1; shownId = null; detail.hidden = true; render(); }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && document.activeElement !== input) { detail.hidden = true; shownId = null; input.focus(); }
  });
  input.focus();
})();

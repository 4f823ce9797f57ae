// Lists that change on their own (callbacks, the unit's requests): fetch the page again every
// data-refresh seconds and swap in the new list — but never while someone is typing a note in it.
(() => {
  "use strict";
  const box = document.getElementById("live-list");
  if (!box) return;
  const seconds = Number(box.dataset.refresh || 15);
  const busy = () => box.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")
    || [...box.querySelectorAll("input[name=note]")].some((i) => i.value);
  async function refresh() {
    if (busy()) return;
    try {
      const reply = await fetch(window.location.href, {headers: {Accept: "text/html"}, cache: "no-store"});
      if (!reply.ok) return;
      const fresh = new DOMParser().parseFromString(await reply.text(), "text/html").getElementById("live-list");
      if (fresh && !busy()) { box.replaceChildren(...fresh.childNodes); box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1); }
    } catch (err) { /* the server is away for a moment: try again at the next tick */ }
  }
  setInterval(refresh, seconds * 1000);
})();

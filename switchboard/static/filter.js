// A search box over a long table (data-filters="<table id>"): rows that do not contain every word are hidden.
(() => {
  "use strict";
  document.querySelectorAll("input[data-filters]").forEach((box) => {
    const rows = [...document.getElementById(box.dataset.filters).tBodies[0].rows];
    box.addEventListener("input", () => {
      const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const row of rows) row.hidden = !words.every((w) => row.textContent.toLowerCase().includes(w));
    });
  });
})();

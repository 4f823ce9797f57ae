// Forms whose button carries data-confirm (publish, roll back, delete, end now) ask first: a slip of the
// mouse must not change what every caller hears. No inline handlers: the CSP allows none.
(() => {
  "use strict";
  document.addEventListener("submit", (event) => {
    const button = event.submitter || event.target.querySelector("[data-confirm]");
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
})();

// The execution page: its live part is replaced on every change (htmx + synchronise.js); keep
// the attempts the reader opened open, and the ones they closed closed, across those swaps.
(function () {
  "use strict";

  const chosen = new Map();  // <details> id → open?

  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (details.tagName === "DETAILS" && details.id && details.closest("#execution-live")) chosen.set(details.id, details.open);
  }, true);

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id !== "execution-live") return;
    for (const [id, open] of chosen) {
      const details = document.getElementById(id);
      if (details) details.open = open;
    }
  });
})();

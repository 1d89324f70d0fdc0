// Small progressive enhancements of the server-rendered pages. Every page works without them.
(function () {
  "use strict";

  // <button data-copy="#element-id">: copy the element's value (or text) to the clipboard.
  async function copy(button) {
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const text = "value" in source ? source.value : source.textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // No clipboard API (e.g. a plain-http origin): select the text and copy the old way.
      if (source.select) source.select();
      else window.getSelection().selectAllChildren(source);
      document.execCommand("copy");
    }
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1600);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (button) {
      event.preventDefault();
      copy(button);
    }
  });

  // <form data-confirm="Really?">: ask before submitting a destructive action.
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset && event.target.dataset.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // Signed-in pages keep a realtime socket open; the navbar says when it is lost.
  document.addEventListener("DOMContentLoaded", () => {
    const indicator = document.getElementById("connection-lost");
    if (!window.Synchronise || !document.body.classList.contains("signed-in")) return;
    window.Synchronise.Connection.Lost(() => { if (indicator) indicator.hidden = false; });
    window.Synchronise.Connection.Connected(() => { if (indicator) indicator.hidden = true; });
    window.Synchronise.init();
  });

  // A page answering a POST that showed a secret once: point the address bar at the
  // page's GET URL, so reloading asks for the ordinary page instead of re-posting.
  document.addEventListener("DOMContentLoaded", () => {
    const marker = document.querySelector("[data-replace-url]");
    if (marker) window.history.replaceState(null, "", marker.dataset.replaceUrl);
  });
})();

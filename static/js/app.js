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

  // "I have saved it" on a one-time key banner: drop the banner and stop carrying that key on
  // with the page's forms (accounts/partials/pending_keys.html).
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-dismiss-reveal]");
    if (!button) return;
    const id = button.dataset.dismissReveal;
    for (const input of document.querySelectorAll(`input[data-pending-for="${CSS.escape(id)}"]`)) input.remove();
    const banner = button.closest("[data-reveal]");
    const next = banner && (banner.nextElementSibling || banner.previousElementSibling);
    if (banner) banner.remove();
    const focusable = next && next.querySelector("input, button");
    (focusable || document.getElementById("main")).focus();
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

  // Dates: the server prints every <time data-when> in the zone named by the "tz" cookie
  // (accounts/timezones.py). Tell it the browser's zone; on a page rendered before it knew
  // (the first visit), rewrite those dates here in the same "8 Dec 2026, 14:05" format.
  const WHEN_OPTIONS = { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };

  function formatWhen(date, seconds, zone) {
    const options = Object.assign({ timeZone: zone }, WHEN_OPTIONS, seconds ? { second: "2-digit" } : {});
    const parts = {};
    for (const part of new Intl.DateTimeFormat("en-GB", options).formatToParts(date)) parts[part.type] = part.value;
    return `${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute}` + (seconds ? `:${parts.second}` : "");
  }

  function rewriteDates(root, zone) {
    for (const element of root.querySelectorAll("time[data-when][datetime]")) {
      const date = new Date(element.getAttribute("datetime"));
      if (isNaN(date)) continue;
      element.textContent = formatWhen(date, element.hasAttribute("data-seconds"), zone);
      element.title = `${formatWhen(date, true, zone)} (${zone})`;
    }
  }

  // For scripts that print dates themselves (static/workflows/triggers.js): the same format,
  // in the browser's zone unless told another one.
  window.SynchroniseDates = { format: (iso, seconds, zone) => formatWhen(new Date(iso), seconds, zone || browserZone()) };

  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (error) { return "UTC"; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const zone = browserZone();
    // IANA names ("America/Argentina/Buenos_Aires", "Etc/GMT+3") are cookie-safe as they are;
    // the server reads the cookie raw, so it is not URL-encoded.
    if (!/^[A-Za-z0-9_+\-\/]+$/.test(zone)) return;
    const cookie = document.cookie.split("; ").find((item) => item.startsWith("tz="));
    if (cookie && cookie.slice(3) === zone) return;
    document.cookie = `tz=${zone}; path=/; max-age=31536000; SameSite=Lax`;
    rewriteDates(document, zone);
  });

  // A page answering a POST that showed a secret once: point the address bar at the
  // page's GET URL, so reloading asks for the ordinary page instead of re-posting.
  document.addEventListener("DOMContentLoaded", () => {
    const marker = document.querySelector("[data-replace-url]");
    if (marker) window.history.replaceState(null, "", marker.dataset.replaceUrl);
  });
})();

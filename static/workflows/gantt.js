// The execution page's timeline (workflows/partials/execution_gantt.html): a bar's details —
// its <title>, with the attempt's inputs, outputs and error — in a popover on hover and on
// keyboard focus (a native SVG tooltip never shows on focus), and a click on a bar opens the
// attempt it links to. Delegated, because the live fragment is replaced on every change.
(function () {
  "use strict";

  let tip = null;
  let owner = null;

  function popover() {
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "gantt-tip";
      tip.className = "gantt-tip";
      tip.setAttribute("role", "tooltip");
      tip.hidden = true;
      document.body.appendChild(tip);
    }
    return tip;
  }

  function textOf(bar) {
    // Moved out of <title> on first use, so the browser's own tooltip does not double ours.
    const title = bar.querySelector("title");
    if (title) {
      bar.dataset.tip = title.textContent;
      title.remove();
    }
    return bar.dataset.tip || "";
  }

  function show(bar) {
    const box = popover();
    box.textContent = textOf(bar);
    box.hidden = false;
    owner = bar;
    bar.setAttribute("aria-describedby", box.id);
    const rect = bar.getBoundingClientRect();
    const width = Math.min(420, document.documentElement.clientWidth - 16);
    box.style.maxWidth = width + "px";
    const left = Math.max(8, Math.min(rect.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - width - 8));
    box.style.left = left + "px";
    box.style.top = (rect.bottom + window.scrollY + 6) + "px";
  }

  function hide() {
    if (tip) tip.hidden = true;
    if (owner) owner.removeAttribute("aria-describedby");
    owner = null;
  }

  const barOf = (event) => event.target instanceof Element ? event.target.closest(".gantt-bar") : null;

  document.addEventListener("mouseover", (event) => { const bar = barOf(event); if (bar) show(bar); });
  document.addEventListener("mouseout", (event) => { if (barOf(event)) hide(); });
  document.addEventListener("focusin", (event) => { const bar = barOf(event); if (bar) show(bar); });
  document.addEventListener("focusout", (event) => { if (barOf(event)) hide(); });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") hide(); });
  document.addEventListener("htmx:beforeSwap", hide);

  document.addEventListener("click", (event) => {
    const bar = barOf(event);
    if (!bar) return;
    const attempt = document.getElementById((bar.getAttribute("href") || "").replace(/^#/, ""));
    if (!attempt) return;
    // An earlier attempt sits inside the step's closed "earlier attempts" list: open both.
    for (let node = attempt; node; node = node.parentElement ? node.parentElement.closest("details") : null) node.open = true;
  });
})();

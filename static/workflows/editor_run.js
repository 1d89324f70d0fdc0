// The workflow editor's run panel: runs the saved draft with the typed inputs, then follows the
// execution through a server-rendered fragment that the realtime layer refreshes
// (getWorkflowExecution). After each refresh the steps' status and duration go to the canvas's
// cards (a running step counts its time until the server says how long it took), and the
// fragment itself lists each step's log lines. Mixed into the Alpine editor (editor.js).
(function (root) {
  "use strict";

  const TICK_MS = 250;

  function editorMethods(config, post) {
    let started = {};  // running step → when it started (ms since the epoch), from the fragment
    let ticker = null;
    return {
      stepStatus: {},
      stepDurations: {},
      runValues: {},
      running: false,
      runError: "",
      badFields: [],

      runBody() {
        const body = {};
        for (const spec of this.savedInputs) {
          const value = this.runValues[spec.name];
          if (spec.type === "bool") { if (value !== undefined) body[spec.name] = !!value; continue; }
          if (value === undefined || value === "") continue;  // left out: the server says 102 if required
          if (spec.type === "json" || spec.type === "list") {
            try { body[spec.name] = JSON.parse(value); } catch (error) { body[spec.name] = value; }
          } else {
            body[spec.name] = value;  // the server coerces "42" to 42 and names what does not fit (101)
          }
        }
        return body;
      },

      async run() {
        if (this.canEdit && this.dirty() && !(await this.save())) {
          this.runError = `Save the draft first: ${this.saveError}`;
          return;
        }
        this.running = true;
        this.runError = "";
        this.badFields = [];
        this.stepStatus = {};
        this.stepDurations = {};
        const answer = await post(config.runUrl, this.runBody());
        if (answer.status !== 202) {
          this.running = false;
          const data = answer.data || {};
          this.runError = data.code ? `${data.code}: ${data.message}` : `The run did not start (HTTP ${answer.status}).`;
          if (data.code === 101) this.badFields = (data.incorrect || []).map((item) => item.name);
          if (data.code === 102) this.badFields = data.missing || [];
          return;
        }
        this.follow(answer.data);
      },

      // A running step's card counts its time until the server says how long it took.
      tick() {
        clearTimeout(ticker);
        const ids = Object.keys(started);
        if (!ids.length) return;
        const durations = { ...this.stepDurations };
        for (const id of ids) durations[id] = Math.max(0, Date.now() - started[id]);
        this.stepDurations = durations;
        ticker = setTimeout(() => this.tick(), TICK_MS);
      },

      // Show the execution's progress fragment and fetch it again whenever the execution changes.
      follow(started) {
        const holder = this.$refs.progress;
        const previous = holder.firstElementChild;
        if (previous && previous.__synchronise) previous.__synchronise.abort();
        const fragment = document.createElement("div");
        fragment.dataset.synchroniseSubscribe = "getWorkflowExecution";
        fragment.dataset.synchroniseParams = JSON.stringify({ id: started.id });
        fragment.setAttribute("hx-get", started.progress_url);
        fragment.setAttribute("hx-trigger", "synchronise:refresh");
        fragment.setAttribute("hx-swap", "innerHTML");
        fragment.addEventListener("htmx:afterSwap", () => this.readProgress(fragment));
        holder.replaceChildren(fragment);
        window.htmx.process(fragment);
        if (window.Synchronise) window.Synchronise.subscribeFragments(holder);
        window.htmx.ajax("GET", started.progress_url, { source: fragment, target: fragment, swap: "innerHTML" });
      },

      readProgress(fragment) {
        const summary = fragment.querySelector("[data-execution-status]");
        if (!summary) return;
        const statuses = {};
        const durations = {};
        started = {};
        fragment.querySelectorAll("[data-step-status]").forEach((node) => {
          statuses[node.dataset.step] = node.dataset.stepStatus;
          if (node.dataset.durationMs) durations[node.dataset.step] = Number(node.dataset.durationMs);
          else if (node.dataset.startedAt) started[node.dataset.step] = Date.parse(node.dataset.startedAt);
        });
        this.stepStatus = statuses;
        this.stepDurations = durations;
        this.tick();
        if (summary.dataset.finished === "true") {
          this.running = false;
          started = {};
          if (fragment.__synchronise) fragment.__synchronise.abort();
        }
      },
    };
  }

  root.WorkflowRun = { editorMethods };
})(window);

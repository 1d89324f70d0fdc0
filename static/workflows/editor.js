// The workflow editor (Editor tab): inputs bar, the steps' canvas (the @xyflow island, wired by
// canvas.js), the step inspector with type-aware binding pickers, outputs, auto-save, undo and
// publishing; the run panel is editor_run.js.
//
// The page's script owns the draft while it is open and posts the whole definition to
// /workflows/<id>/definition/ after each pause in editing; the answer brings the problems, each
// step's interface and the binding candidates (computed by the server with the same rules as
// validation). A run is followed through a server-rendered fragment that the realtime layer
// refreshes (getWorkflowExecution); the cards take their colours from it.
(function () {
  "use strict";

  const AUTOSAVE_MS = 1000;
  const HISTORY = 50;  // drafts kept for Ctrl/Cmd+Z
  const TYPING_MS = 1000;  // changes closer together than this (typing, dragging) undo as one
  const LITERAL = "__literal__";
  const B = window.WorkflowBindings;
  let nextKey = 1;

  function csrfToken() {
    const input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url, body) {
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  function errorText(answer) {
    const data = answer.data;
    if (answer.status === 0) return "The server could not be reached.";
    if (answer.status === 403) return "You may not change this workflow.";
    if (!data || !data.errors) return `The server answered ${answer.status}.`;
    return Object.entries(data.errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`).join("; ");
  }

  function inputRow(spec) {
    return { key: nextKey++, name: spec.name || "", type: spec.type || "text", subtype: spec.subtype || "",
      optional: !!spec.optional, description: spec.description || "" };
  }

  function inputSpec(row) {
    const spec = { name: row.name.trim(), type: row.type };
    if (row.subtype) spec.subtype = row.subtype;
    if (row.optional) spec.optional = true;
    if (row.description) spec.description = row.description;
    return spec;
  }

  function outputRow(spec) {
    return { ...inputRow(spec), type: spec.type || "", value: spec.value === undefined ? "" : spec.value };
  }

  function outputSpec(row) {
    const spec = { name: row.name.trim(), value: row.value === undefined ? "" : row.value };
    if (row.type) spec.type = row.type;
    if (row.type && row.subtype) spec.subtype = row.subtype;
    if (row.optional) spec.optional = true;
    if (row.description) spec.description = row.description;
    return spec;
  }

  function normaliseStep(step) {
    return {
      id: step.id,
      component: step.component,
      version: step.version == null ? null : step.version,
      inputs: { ...(step.inputs || {}) },
      after: [...(step.after || [])],
      run_if: step.run_if || "",
      for_each: step.for_each || "",
      parallelism: step.parallelism || 10,
      retry: step.retry ? { ...step.retry } : null,
      timeout: step.timeout == null ? null : step.timeout,
      on_error: step.on_error || "fail",
      position: step.position || {},
    };
  }

  function stepSpec(step) {
    const out = normaliseStep(step);
    out.parallelism = Number(out.parallelism) || 10;
    out.timeout = out.timeout === "" || out.timeout == null ? null : Number(out.timeout);
    return out;
  }

  function editor() {
    const config = JSON.parse(document.getElementById("workflow-config").textContent);
    const definition = config.state.definition || {};
    let timer = null;
    let saving = null;  // the Promise of the save in flight
    const history = [];  // earlier drafts (JSON), newest last; outside Alpine: nothing draws them
    let current = "";  // the draft as of the last change (JSON)
    let lastChange = 0;
    let lastWasTyping = false;

    const state = {
      canEdit: config.canEdit,
      types: config.types,
      typeNames: Object.keys(config.types),
      catalog: config.catalog,
      inputs: (definition.inputs || []).map(inputRow),
      steps: (definition.steps || []).map(normaliseStep),
      outputs: (definition.outputs || []).map(outputRow),
      problems: config.state.problems || [],
      interfaces: config.state.interfaces || {},
      candidates: config.state.candidates || { steps: {}, outputs: {} },
      conditions: config.state.conditions || {},
      savedInputs: definition.inputs || [],
      version: 0,
      savedVersion: 0,
      saving: false,
      saveStatus: "",
      saveError: "",
      selectedId: null,
      idError: "",
      catalogOpen: false,
      catalogQuery: "",
      literalOpen: {},
      literalDrafts: {},
      undoDepth: 0,  // how many drafts Undo can go back (the history itself stays outside Alpine)
      changelog: "",
      publishing: false,
      publishNote: "",
      publishOk: false,
      publishProblems: [],

      init() {
        window.workflowEditor = this;  // for tests and the console
        current = JSON.stringify(this.definition());
        this.$nextTick(() => this.mountFlow());
        window.addEventListener("beforeunload", (event) => {
          if (this.canEdit && this.dirty()) event.preventDefault();
        });
      },

      // --- the draft -------------------------------------------------------------------------

      describe(spec) { return B.describe(spec); },
      defaultSubtype(type) { return ({ text: "text", number: "float" })[type] || ""; },
      dirty() { return this.version !== this.savedVersion; },

      // Without "defaults": those belong to the Settings tab, and the server keeps them.
      definition() {
        return {
          inputs: this.inputs.map(inputSpec),
          steps: this.steps.map(stepSpec),
          outputs: this.outputs.map(outputSpec),
        };
      },

      changed(options) {
        if (!this.canEdit) return;
        this.remember(options);
        this.version += 1;
        this.saveStatus = "Unsaved changes";
        clearTimeout(timer);
        // Half-typed rows would only be refused: wait until every input and output has a name.
        const complete = [...this.inputs, ...this.outputs].every((row) => row.name.trim());
        if (complete) timer = setTimeout(() => this.save(), options && options.now ? 0 : AUTOSAVE_MS);
      },

      // Keep the draft as it was before this change, once per burst of typing or dragging.
      remember(options) {
        const now = JSON.stringify(this.definition());
        if (now === current || (options && options.undoing)) { current = now; return; }
        // Only typing (or a drag's moves) right after more of the same joins the change before it.
        const typing = !(options && options.now);
        const burst = typing && lastWasTyping && Date.now() - lastChange < TYPING_MS;
        lastWasTyping = typing;
        if (!burst) {
          history.push(current);
          if (history.length > HISTORY) history.shift();
          this.undoDepth = history.length;
        }
        current = now;
        lastChange = Date.now();
      },

      canUndo() { return this.canEdit && this.undoDepth > 0; },

      undo() {
        if (!this.canEdit) return;
        if (!history.length) { this.say("Nothing to undo."); return; }
        const before = JSON.parse(history.pop());
        this.undoDepth = history.length;
        this.inputs = (before.inputs || []).map(inputRow);
        this.steps = (before.steps || []).map(normaliseStep);
        this.outputs = (before.outputs || []).map(outputRow);
        this.literalOpen = {};
        this.literalDrafts = {};
        if (!this.steps.some((s) => s.id === this.selectedId)) this.selectedId = null;
        lastChange = 0;
        lastWasTyping = false;
        this.say("Undone.");
        this.changed({ now: true, undoing: true });
      },

      async save() {
        clearTimeout(timer);
        if (saving) {
          await saving;  // one save at a time; then save what changed meanwhile
          if (!this.dirty()) return true;
        }
        saving = this.send();
        try { return await saving; } finally { saving = null; }
      },

      async send() {
        const sent = this.version;
        this.saving = true;
        this.saveStatus = "Saving…";
        const answer = await post(config.saveUrl, { definition: this.definition() });
        this.saving = false;
        if (!answer.ok) {
          this.saveStatus = "Not saved";
          this.saveError = errorText(answer);
          return false;
        }
        this.saveError = "";
        this.savedVersion = sent;
        this.apply(answer.data);
        // Changes made meanwhile have their own save scheduled.
        this.saveStatus = this.dirty() ? "Unsaved changes" : "Saved";
        return true;
      },

      apply(state) {
        this.problems = state.problems || [];
        this.interfaces = state.interfaces || {};
        this.candidates = state.candidates || { steps: {}, outputs: {} };
        this.conditions = state.conditions || {};
        this.savedInputs = (state.definition && state.definition.inputs) || [];
      },

      // --- inputs and outputs ----------------------------------------------------------------

      addInput() { this.inputs.push(inputRow({ type: "text", subtype: "text" })); this.changed(); },
      removeInput(index) { this.inputs.splice(index, 1); this.changed(); },
      addOutput() { this.outputs.push(outputRow({})); this.changed(); },
      removeOutput(index) { this.outputs.splice(index, 1); this.changed(); },

      outputCandidates(row) { return (this.candidates.outputs || {})[row.name.trim()] || []; },

      outputMode(row) {
        if (this.literalOpen[`output:${row.key}`]) return "literal";
        if (row.value === "" || row.value == null) return "unset";
        if (typeof row.value === "string" && this.outputCandidates(row).some((o) => o.value === row.value)) return "picked";
        return "literal";
      },

      pickOutput(row, choice) {
        const key = `output:${row.key}`;
        this.literalOpen[key] = choice === LITERAL;
        delete this.literalDrafts[key];
        if (choice !== LITERAL) {
          row.value = choice;
          this.changed();
        }
      },

      outputText(row) {
        const key = `output:${row.key}`;
        return key in this.literalDrafts ? this.literalDrafts[key] : B.literalText(row.value);
      },

      setOutputText(row, text) {
        const key = `output:${row.key}`;
        this.literalDrafts[key] = text;
        this.literalOpen[key] = true;
        row.value = B.literalValue(text, { type: row.type || "json" });
        this.changed();
      },

      // --- steps -----------------------------------------------------------------------------

      get selected() { return this.steps.find((s) => s.id === this.selectedId) || null; },

      select(id) {
        this.selectedId = id;
        this.idError = "";
        if (window.innerWidth < 1100) {
          this.$nextTick(() => {
            const panel = document.querySelector("[data-testid=inspector]");
            if (panel) panel.scrollIntoView({ block: "start", behavior: "smooth" });
          });
        }
      },

      toggleCatalog() {
        this.catalogOpen = !this.catalogOpen;
        if (this.catalogOpen) this.$nextTick(() => this.$refs.catalogSearch && this.$refs.catalogSearch.focus());
      },

      filteredCatalog() {
        const words = this.catalogQuery.toLowerCase().split(/\s+/).filter(Boolean);
        return this.catalog.filter((entry) => {
          const text = `${entry.name} ${entry.description} ${(entry.tags || []).join(" ")}`.toLowerCase();
          return words.every((word) => text.includes(word));
        });
      },

      catalogEntry(step) { return this.catalog.find((entry) => entry.id === step.component) || null; },

      // From the catalog: a click puts the card in view, a drop on the canvas where it was dropped.
      async addStep(entry, position) {
        if (!entry.latest && entry.connector) entry = await this.install(entry);
        else if (!entry.latest && entry.listing) entry = await this.install(entry, { fork: true });
        if (!entry || !entry.latest) return;
        const id = B.stepId(entry.name, new Set(this.steps.map((s) => s.id)));
        this.steps.push(normaliseStep({ id, component: entry.id, position: position || this.freePosition() }));
        this.catalogOpen = false;
        this.catalogQuery = "";
        this.select(id);
        this.changed({ now: true });
      },

      async install(entry, { fork = false } = {}) {
        // An official connector becomes a published component of the project on first use; a
        // marketplace component is forked into the project the same way.
        const url = fork ? config.forkUrl.replace("__id__", String(entry.listing))
          : config.installUrl.replace("__name__", encodeURIComponent(entry.connector));
        const answer = await post(url, { project: config.projectId });
        if (!answer.ok || !answer.data) {
          this.saveError = answer.status === 403 ? "You may not add components to this project." : errorText(answer);
          return null;
        }
        const c = answer.data;
        const installed = { id: c.id, name: c.name, description: c.description, kind: c.kind, connector: c.connector,
          versions: [c.latest_version], latest: c.latest_version, inputs: c.inputs, outputs: c.outputs };
        this.catalog = this.catalog.filter((other) => other !== entry && other.id !== c.id).concat([installed]);
        return installed;
      },

      removeStep(id) {
        this.steps = this.steps.filter((s) => s.id !== id);
        for (const step of this.steps) {
          step.after = step.after.filter((other) => other !== id);
          if (step.on_error === id) step.on_error = "fail";
        }
        delete this.stepStatus[id];
        delete this.stepDurations[id];
        if (this.selectedId === id) this.selectedId = null;
        this.changed({ now: true });
      },

      renameStep(step, value) {
        const from = step.id;
        const to = value.trim();
        if (to === from) { this.idError = ""; return; }
        if (!B.validStepId(to)) { this.idError = "Lower-case letters, digits, - and _, starting with a letter."; return; }
        if (this.steps.some((s) => s.id === to)) { this.idError = `There is already a step called ${to}.`; return; }
        this.idError = "";
        for (const other of this.steps) {
          other.inputs = B.renameIn(other.inputs, from, to);
          other.run_if = B.renameIn(other.run_if, from, to);
          other.for_each = B.renameIn(other.for_each, from, to);
          other.after = other.after.map((id) => (id === from ? to : id));
          if (other.on_error === from) other.on_error = to;
        }
        for (const row of this.outputs) row.value = B.renameIn(row.value, from, to);
        // The interface and candidates follow the id until the save brings fresh ones.
        this.interfaces = { ...this.interfaces, [to]: this.interfaces[from] };
        this.candidates.steps = { ...this.candidates.steps, [to]: this.candidates.steps[from] };
        step.id = to;
        this.selectedId = to;
        this.changed({ now: true });
      },

      interfaceOf(step) {
        if (step.id in this.interfaces) return this.interfaces[step.id];
        const entry = this.catalogEntry(step);  // not saved yet: the catalog knows the latest version
        return entry ? { name: entry.name, inputs: entry.inputs, outputs: entry.outputs, published: !!entry.latest } : null;
      },

      componentName(step) {
        const found = this.interfaceOf(step) || this.catalogEntry(step);
        return found ? found.name : `component ${step.component} (not in this project)`;
      },

      latestOf(step) { const entry = this.catalogEntry(step); return entry ? entry.latest : null; },
      versionsOf(step) { const entry = this.catalogEntry(step); return entry ? entry.versions : []; },

      componentLabel(step) {
        const latest = this.latestOf(step);
        const version = step.version ? `v${step.version}` : latest ? `latest (v${latest})` : "unpublished";
        return `${this.componentName(step)} · ${version}`;
      },

      setVersion(step, value) {
        step.version = value === "" ? null : Number(value);
        this.changed({ now: true });
      },

      stepInputs(step) { const found = this.interfaceOf(step); return found ? found.inputs : []; },

      extraInputs(step) {
        const known = new Set(this.stepInputs(step).map((spec) => spec.name));
        return Object.keys(step.inputs).filter((name) => !known.has(name));
      },

      unbind(step, name) { delete step.inputs[name]; this.changed(); },

      stepTags(step) {
        const tags = [];
        if (step.for_each) tags.push("for each");
        if (step.run_if) tags.push("conditional");
        if (step.retry && Number(step.retry.attempts) > 1) tags.push(`retry ×${step.retry.attempts}`);
        if (step.timeout) tags.push(`timeout ${step.timeout}s`);
        if (step.on_error === "continue") tags.push("continues on error");
        else if (step.on_error && step.on_error !== "fail") tags.push(`errors → ${step.on_error}`);
        return tags;
      },

      toggleAfter(step, other, on) {
        step.after = on ? [...new Set([...step.after, other])] : step.after.filter((id) => id !== other);
        this.changed({ now: true });
      },

      setNumber(step, field, text) {
        step[field] = text === "" ? null : Number(text);
        this.changed();
      },

      toggleRetry(step, on) {
        step.retry = on ? { attempts: 3, backoff: 1, max_delay: 60 } : null;
        this.changed();
      },

      setRetry(step, field, text) {
        const retry = { ...(step.retry || {}) };
        if (text === "" || Number.isNaN(Number(text))) delete retry[field];
        else retry[field] = Number(text);
        step.retry = retry;
        this.changed();
      },

      // --- bindings --------------------------------------------------------------------------

      candidatesFor(stepId, name) {
        const forStep = (this.candidates.steps || {})[stepId];
        return (forStep && forStep[name]) || [];
      },

      bindingMode(step, spec) {
        const value = step.inputs[spec.name];
        if (this.literalOpen[`${step.id}:${spec.name}`]) return "literal";
        if (value === undefined || value === null || value === "") return "unset";
        if (typeof value === "string" && this.candidatesFor(step.id, spec.name).some((o) => o.value === value)) return "picked";
        return "literal";
      },

      pick(step, spec, choice) {
        const key = `${step.id}:${spec.name}`;
        this.literalOpen[key] = choice === LITERAL;
        delete this.literalDrafts[key];
        if (choice === LITERAL) return;  // the text field opens with the current binding
        if (choice === "") delete step.inputs[spec.name];
        else step.inputs[spec.name] = choice;
        this.changed({ now: true });
      },

      literalText(step, spec) {
        const key = `${step.id}:${spec.name}`;
        return key in this.literalDrafts ? this.literalDrafts[key] : B.literalText(step.inputs[spec.name]);
      },

      setLiteral(step, spec, text) {
        const key = `${step.id}:${spec.name}`;
        this.literalDrafts[key] = text;
        this.literalOpen[key] = true;
        if (text === "") delete step.inputs[spec.name];
        else step.inputs[spec.name] = B.literalValue(text, spec);
        this.changed();
      },

      literalPlaceholder(spec) {
        if (spec.type === "secret") return "{{ secrets.NAME }}";
        if (spec.type === "json" || spec.type === "list") return 'JSON, e.g. {"a": 1}, or {{ expression }}';
        return "a value, or {{ expression }}";
      },

      // --- problems --------------------------------------------------------------------------

      problemsOf(stepId) { return this.problems.filter((p) => p.step === stepId); },
      fieldProblems(stepId, field) { return this.problems.filter((p) => p.step === stepId && p.field === field); },

      otherProblems(stepId) {
        const step = this.steps.find((s) => s.id === stepId);
        const shown = new Set(["component", "version", "after", "run_if", "for_each", "on_error"]);
        if (step) for (const spec of this.stepInputs(step)) shown.add(`inputs.${spec.name}`);
        return this.problemsOf(stepId).filter((p) => !shown.has(p.field));
      },

      // --- publishing ------------------------------------------------------------------------

      async publish() {
        if (this.dirty() && !(await this.save())) return;
        this.publishing = true;
        const answer = await post(config.publishUrl, { changelog: this.changelog });
        this.publishing = false;
        this.publishOk = answer.ok;
        if (answer.ok) {
          this.publishNote = `Published v${answer.data.number}.`;
          this.publishProblems = [];
          this.changelog = "";
          const list = document.getElementById("version-list");
          if (window.htmx && list) window.htmx.trigger(list, "synchronise:refresh");
          return;
        }
        const problems = (answer.data && answer.data.problems) || [];
        this.publishProblems = problems;
        if (problems.length) {
          this.problems = problems;
          this.publishNote = "Not published: the draft has problems.";
        } else {
          this.publishNote = errorText(answer);
        }
      },
    };
    // The canvas's methods (canvas.js) and the run panel's (editor_run.js), copied as descriptors
    // so no getter runs early.
    Object.defineProperties(state, Object.getOwnPropertyDescriptors(window.WorkflowCanvas.editorMethods()));
    Object.defineProperties(state, Object.getOwnPropertyDescriptors(window.WorkflowRun.editorMethods(config, post)));
    return state;
  }

  document.addEventListener("alpine:init", () => window.Alpine.data("workflowEditor", editor));
})();

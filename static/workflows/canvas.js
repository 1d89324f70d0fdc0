// The editor's side of the workflow canvas. The canvas itself is the @xyflow/react island
// (static/vendor/xyflow/flow.min.js, source in static/workflows/flow/src/): this file turns the
// draft into its cards and edges, and turns what the user does on it (move, connect, drop a
// component, delete, undo) into changes of the draft. Mixed into the Alpine editor (editor.js).
//
// Binding texts always come from the server's candidates (editor_data.py, and the for_each /
// run_if candidates of views/editor.py), never built here: the server knows how an id is written.
(function (root) {
  "use strict";

  // steps.<id>.output.<name>, steps["<id>"].output.<name>, or a step without an output name.
  const REFERENCE = /steps\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_-]*)|\[\s*["']([^"']+)["']\s*\])(?:\s*\.\s*output\s*\.\s*([A-Za-z_][A-Za-z0-9_]*))?/g;
  const MIME = "application/x-synchronise-component";
  const FIELD_LABELS = { for_each: "for each", run_if: "run if" };

  function references(value) {
    const found = [];
    for (const text of root.WorkflowBindings.strings(value)) {
      for (const match of text.matchAll(REFERENCE)) found.push({ step: match[1] || match[2], output: match[3] || null });
    }
    return found;
  }

  // [{id, source, sourceHandle, target, targetHandle, kind}]: one edge per binding, from the output
  // handle it reads to the input handle it feeds; "after" from "then"; error routes from "on error".
  function edges(steps, interfaceOf) {
    const byId = Object.fromEntries(steps.map((s) => [s.id, s]));
    const seen = new Set();
    const found = [];
    const outputs = (id) => ((interfaceOf(byId[id]) || {}).outputs || []).map((spec) => spec.name);
    const add = (source, sourceHandle, target, targetHandle, kind) => {
      if (source === target || !byId[source] || !byId[target]) return;
      const id = `${kind}:${source}:${sourceHandle}>${target}:${targetHandle}`;
      if (seen.has(id)) return;
      seen.add(id);
      found.push({ id, source, sourceHandle, target, targetHandle, kind });
    };
    const from = (ref) => (ref.output && outputs(ref.step).includes(ref.output) ? `out:${ref.output}` : "then");
    for (const step of steps) {
      const inputs = ((interfaceOf(step) || {}).inputs || []).map((spec) => spec.name);
      for (const [name, value] of Object.entries(step.inputs || {})) {
        for (const ref of references(value)) add(ref.step, from(ref), step.id, inputs.includes(name) ? `in:${name}` : "after", "data");
      }
      for (const ref of references(step.for_each)) add(ref.step, from(ref), step.id, "for_each", "for_each");
      for (const ref of references(step.run_if)) add(ref.step, from(ref), step.id, "run_if", "run_if");
      for (const id of step.after || []) add(id, "then", step.id, "after", "after");
      if (step.on_error && !["fail", "continue"].includes(step.on_error)) add(step.id, "error", step.on_error, "after", "error");
    }
    return found;
  }

  function catalogKey(entry) {
    if (entry.id != null) return `component:${entry.id}`;
    if (entry.connector) return `connector:${entry.connector}`;
    return `listing:${entry.listing}`;
  }

  // The candidate that reads output ``output`` of step ``source`` (any of its outputs when null).
  function fromStep(candidates, source, output) {
    return candidates.filter((c) => c.group === `Step ${source}` && (!output || c.label.startsWith(`${source}.${output} (`)));
  }

  // Methods mixed into the editor; ``flow`` (the island's handle) stays out of Alpine's proxies.
  function editorMethods() {
    let flow = null;
    return {
      picker: null,  // {title, choices: [{kind, name, value, label}]} while the typed picker is open
      flowMessage: "",
      flowMessageError: false,

      mountFlow() {
        const element = this.$refs.flow;
        if (!element || !root.SynchroniseFlow) return;
        flow = root.SynchroniseFlow.mount(element, {
          onSelect: (id) => { if (id) this.select(id); else this.selectedId = null; },
          onMove: (id, position) => this.moveStep(id, position),
          onLayout: (positions) => this.placeSteps(positions),
          onConnect: (connection) => this.connect(connection),
          onDropComponent: (key, position) => this.dropComponent(key, position),
          onDelete: (id) => this.removeStep(id),
          onUndo: () => this.undo(),
        });
        this.syncFlow();  // x-effect ran before the island existed
      },

      // Called by x-effect: reading the draft here makes Alpine call it again after any change.
      syncFlow() {
        const state = {
          canEdit: this.canEdit,
          selectedId: this.selectedId,
          nodes: this.steps.map((step) => ({ id: step.id, position: this.positionOf(step), data: this.nodeData(step) })),
          edges: edges(this.steps, (step) => this.interfaceOf(step)),
        };
        if (flow) flow.update(JSON.parse(JSON.stringify(state)));  // plain data, not Alpine proxies
      },

      positionOf(step) {
        const at = step.position || {};
        return Number.isFinite(at.x) && Number.isFinite(at.y) ? { x: at.x, y: at.y } : null;
      },

      nodeData(step) {
        const bound = new Set(Object.keys(step.inputs));
        const port = (spec) => ({ name: spec.name, type: this.describe(spec), bound: bound.has(spec.name) });
        const found = this.interfaceOf(step);
        return {
          component: this.componentLabel(step),
          tags: this.stepTags(step),
          problems: this.problemsOf(step.id).length,
          status: this.stepStatus[step.id] || "",
          durationMs: this.stepDurations[step.id] == null ? null : this.stepDurations[step.id],
          inputs: found ? found.inputs.map(port) : [],
          outputs: found ? found.outputs.map(port) : [],
          after: step.after.length > 0,
          runIf: !!step.run_if,
          forEach: !!step.for_each,
        };
      },

      fitView() { if (flow) flow.fitView(); },
      autoLayout() { if (flow) flow.layout(); },
      freePosition() { return flow ? flow.freePosition() : { x: 0, y: 0 }; },

      moveStep(id, position) {
        const step = this.steps.find((s) => s.id === id);
        if (!step || !this.canEdit) return;
        if (step.position && step.position.x === position.x && step.position.y === position.y) return;
        step.position = position;
        this.changed();
      },

      placeSteps(positions) {
        if (!this.canEdit) return;
        for (const step of this.steps) if (positions[step.id]) step.position = positions[step.id];
        this.changed({ now: true });
      },

      dragComponent(event, entry) {
        event.dataTransfer.setData(MIME, catalogKey(entry));
        event.dataTransfer.effectAllowed = "copy";
      },

      dropComponent(key, position) {
        const entry = this.catalog.find((e) => catalogKey(e) === key);
        if (entry) this.addStep(entry, position);
      },

      say(message, error) { this.flowMessage = message; this.flowMessageError = !!error; },

      // A handle dropped on a handle (targetHandle set) or on a card's body (null).
      connect({ source, sourceHandle, target, targetHandle }) {
        if (!this.canEdit) return;
        const from = this.steps.find((s) => s.id === source);
        const to = this.steps.find((s) => s.id === target);
        if (!from || !to || from === to) return;
        this.picker = null;
        const output = sourceHandle && sourceHandle.startsWith("out:") ? sourceHandle.slice(4) : null;
        if (sourceHandle === "error") {
          from.on_error = to.id;
          this.say(`${to.id} now handles the errors of ${from.id}.`);
          this.changed({ now: true });
          return;
        }
        if (targetHandle === "after" || (sourceHandle === "then" && targetHandle)) {
          this.toggleAfter(to, from.id, true);
          this.say(`${to.id} now runs after ${from.id}.`);
          return;
        }
        if (targetHandle && targetHandle.startsWith("in:")) {
          this.bindInput(from, output, to, targetHandle.slice(3));
          return;
        }
        const choices = this.choicesFor(from, output, to, targetHandle);
        if (!choices.length) {
          const what = output ? `${from.id}.${output}` : `no output of ${from.id}`;
          const where = targetHandle ? FIELD_LABELS[targetHandle] : "an input";
          this.say(output ? `${what} fits no ${where} of ${to.id}.` : `${what} fits ${where} of ${to.id}.`, true);
          return;
        }
        const title = targetHandle ? `${to.id} · ${FIELD_LABELS[targetHandle]}` : `Connect ${from.id} to ${to.id}`;
        this.picker = { title, choices };
        this.$nextTick(() => { const first = document.querySelector("[data-testid=flow-picker] button"); if (first) first.focus(); });
      },

      bindInput(from, output, to, name) {
        const spec = this.stepInputs(to).find((s) => s.name === name);
        if (!spec) return;
        const all = this.candidatesFor(to.id, name);
        const fits = output ? fromStep(all, from.id, output) : [];
        if (fits.length) {
          this.pick(to, spec, fits[0].value);
          this.say(`${to.id}.${name} reads ${fits[0].label}.`);
          return;
        }
        const outSpec = output && ((this.interfaceOf(from) || {}).outputs || []).find((s) => s.name === output);
        const loop = this.downstream(to.id).has(from.id);
        this.say(loop ? `${to.id} cannot read ${from.id}: ${from.id} runs after it.`
          : `${from.id}.${output || "?"}${outSpec ? ` (${this.describe(outSpec)})` : ""} does not fit ${to.id}.${name} (${this.describe(spec)}).`, true);
      },

      // The steps that read ``id``, directly or not (a step downstream may not feed it).
      downstream(id) {
        const found = new Set();
        const all = edges(this.steps, (step) => this.interfaceOf(step));
        let frontier = [id];
        while (frontier.length) {
          const next = [];
          for (const edge of all) {
            if (frontier.includes(edge.source) && edge.kind !== "error" && !found.has(edge.target)) { found.add(edge.target); next.push(edge.target); }
          }
          frontier = next;
        }
        return found;
      },

      // What a drop on a body (field null) or on the "each" / "if" target may set, typed by the server.
      choicesFor(from, output, to, field) {
        const choices = [];
        if (!field) {
          for (const spec of this.stepInputs(to)) {
            for (const c of fromStep(this.candidatesFor(to.id, spec.name), from.id, output)) {
              choices.push({ kind: "input", name: spec.name, value: c.value, label: `${spec.name} (${this.describe(spec)}) ← ${c.label}` });
            }
          }
        }
        const conditions = (this.conditions || {})[to.id] || {};
        for (const kind of field ? [field] : ["for_each", "run_if"]) {
          for (const c of fromStep(conditions[kind] || [], from.id, output)) {
            choices.push({ kind, name: kind, value: c.value, label: `${FIELD_LABELS[kind]} ← ${c.label}` });
          }
        }
        if (!field && !output) choices.push({ kind: "after", name: "after", value: from.id, label: `runs after ${from.id}` });
        return choices.map((choice) => ({ ...choice, target: to.id }));
      },

      choose(choice) {
        const to = this.steps.find((s) => s.id === choice.target);
        this.picker = null;
        if (!to) return;
        if (choice.kind === "input") {
          const spec = this.stepInputs(to).find((s) => s.name === choice.name);
          if (spec) this.pick(to, spec, choice.value);
        } else if (choice.kind === "after") {
          this.toggleAfter(to, choice.value, true);
        } else {
          to[choice.kind] = choice.value;
          this.changed({ now: true });
        }
        this.say(`${to.id}: ${choice.label}.`);
      },
    };
  }

  root.WorkflowCanvas = { edges, references, catalogKey, editorMethods };
})(window);

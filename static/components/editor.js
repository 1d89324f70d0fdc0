// The component editor (Code tab): interface rows, CodeMirror, auto-save through the REST API,
// syntax errors in the gutter, the run panel and publishing. The page works read-only without it.
(function () {
  "use strict";

  const AUTOSAVE_MS = 1200;
  let nextKey = 1;

  function csrfToken() {
    const input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function api(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    return { ok: response.ok, status: response.status, data };
  }

  function errorText(data) {
    return fieldErrors(data).map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; ");
  }

  // An error answer as [{field, message}], one per message: DRF's {field: [messages]}, or a
  // {code, message, fields|errors: {field: [messages]}} body.
  function fieldErrors(data) {
    if (!data || typeof data !== "object") return [{ field: "", message: "the server did not answer" }];
    const nested = [data.fields, data.errors].find((v) => v && typeof v === "object" && !Array.isArray(v));
    const source = nested || data;
    const found = [];
    for (const [field, messages] of Object.entries(source)) {
      if (!nested && ["code", "message", "detail"].includes(field)) continue;
      for (const message of Array.isArray(messages) ? messages : [messages]) {
        found.push({ field: field === "non_field_errors" ? "" : field, message: typeof message === "string" ? message : JSON.stringify(message) });
      }
    }
    if (!found.length) found.push({ field: "", message: String(data.message || data.detail || "the change was refused") });
    return found;
  }

  function row(spec) {
    return {
      key: nextKey++,
      name: spec.name || "",
      type: spec.type || "text",
      subtype: spec.subtype || "",
      optional: !!spec.optional,
      description: spec.description || "",
      default: defaultText(spec),
    };
  }

  // An input's default as typed text; the server coerces it to the input's type ("42" → 42) or
  // names the problem. A secret's default shows as the credential's name, which it also takes.
  function defaultText(spec) {
    const value = spec.default;
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") return JSON.stringify(value);
    const credential = spec.type === "secret" && value.match(/^\{\{\s*secrets\.([A-Z][A-Z0-9_]*)\s*\}\}$/);
    return credential ? credential[1] : value;
  }

  function spec(row) {
    const out = { name: row.name.trim(), type: row.type };
    if (row.subtype) out.subtype = row.subtype;
    if (row.optional) out.optional = true;
    if (row.description) out.description = row.description;
    if (row.default !== "") out.default = row.default;
    return out;
  }

  function editor() {
    const config = JSON.parse(document.getElementById("editor-config").textContent);
    let view = null;  // the CodeMirror view: kept out of Alpine's reactive proxies
    let timer = null;
    let edits = 0;  // changes made; a save clears "dirty" only if none came in while it ran

    const state = {
      types: config.types,
      typeNames: Object.keys(config.types),
      inputs: config.inputs.map(row),
      outputs: config.outputs.map(row),
      savedInputs: config.inputs,
      http: config.http,
      saveStatus: "",
      saveErrors: [],
      httpProblems: [],
      dirty: false,
      saving: false,
      syntaxError: config.syntaxError,
      runValues: {},
      running: false,
      result: null,
      badFields: [],
      changelog: "",
      publishing: false,
      publishNote: "",
      publishOk: false,

      init() {
        this.guardUnsaved();
        if (!this.$refs.code) return;
        const CM = window.SynchroniseCodeMirror;
        const extensions = [
          CM.basicSetup, CM.python(), CM.lintGutter(), CM.keymap.of([CM.indentWithTab]),
          CM.EditorView.updateListener.of((update) => { if (update.docChanged) this.changed(); }),
        ];
        if (!config.canEdit) extensions.push(CM.EditorState.readOnly.of(true), CM.EditorView.editable.of(false));
        view = new CM.EditorView({ doc: config.code, extensions, parent: this.$refs.code });
        window.componentCodeView = view;  // for tests and the console
        this.markSyntax(this.syntaxError);
      },

      // Leaving with changes that are not saved asks first, as the workflow editor does.
      guardUnsaved() {
        window.addEventListener("beforeunload", (event) => {
          if (!config.canEdit || !(this.dirty || this.saving)) return;
          event.preventDefault();
          event.returnValue = "";  // older browsers show the dialog only with a returnValue
        });
      },

      describe(s) { return s.subtype ? `${s.type}/${s.subtype}` : s.type; },
      defaultSubtype(type) { return ({ text: "text", number: "float" })[type] || ""; },
      addRow(side) { this[side].push(row({ type: "text", subtype: "text" })); this.changed(); },
      removeRow(side, index) { this[side].splice(index, 1); this.changed(); },

      changed() {
        if (!config.canEdit) return;
        this.dirty = true;
        edits += 1;
        this.saveStatus = "Unsaved changes";
        clearTimeout(timer);
        // Half-typed rows would only be refused: wait until every row has a name.
        const complete = [...this.inputs, ...this.outputs].every((r) => r.name.trim());
        if (complete) timer = setTimeout(() => this.save(), AUTOSAVE_MS);
      },

      body() {
        const body = { inputs: this.inputs.map(spec), outputs: this.outputs.map(spec) };
        if (config.kind === "http") {
          if (this.httpProblems.length) return { invalid: `${this.httpProblems[0].path}: ${this.httpProblems[0].message}` };
          try { body.http = JSON.parse(this.http || "{}"); } catch (error) { return { invalid: `not valid JSON: ${error.message}` }; }
        } else if (view) {
          body.code = view.state.doc.toString();
        }
        return body;
      },

      async save() {
        clearTimeout(timer);
        const body = this.body();
        if (body.invalid) {
          this.saveErrors = [{ field: "http", message: body.invalid }];
          this.saveStatus = "Not saved";
          return false;
        }
        const saving = edits;
        this.saving = true;
        this.saveStatus = "Saving…";
        const answer = await api("PATCH", config.apiUrl, body);
        this.saving = false;
        if (!answer.ok) {
          this.saveStatus = "Not saved";
          this.saveErrors = fieldErrors(answer.data);
          return false;
        }
        this.saveErrors = [];
        this.dirty = edits !== saving;
        this.saveStatus = this.dirty ? "Unsaved changes" : "Saved";
        this.savedInputs = answer.data.inputs;
        if (config.kind === "code") {
          const syntax = await api("GET", config.syntaxUrl);
          this.syntaxError = syntax.ok ? syntax.data.error : null;
          this.markSyntax(this.syntaxError);
        }
        return true;
      },

      markSyntax(error) {
        if (!view) return;
        const CM = window.SynchroniseCodeMirror;
        const diagnostics = [];
        if (error) {
          const doc = view.state.doc;
          const line = doc.line(Math.min(Math.max(error.line, 1), doc.lines));
          const from = Math.min(line.from + Math.max(error.col - 1, 0), line.to);
          diagnostics.push({ from, to: Math.max(from, line.to), severity: "error", message: error.message });
        }
        view.dispatch(CM.setDiagnostics(view.state, diagnostics));
      },

      runBody(specs) {
        const body = {};
        for (const s of specs || this.savedInputs) {
          const value = this.runValues[s.name];
          if (s.type === "bool") { if (value !== undefined) body[s.name] = !!value; continue; }
          if (value === undefined || value === "") continue;  // left out: the server says 102 if required
          if (s.type === "json" || s.type === "list") {
            try { body[s.name] = JSON.parse(value); } catch (error) { body[s.name] = value; }
          } else {
            body[s.name] = value;  // the server coerces "42" to 42 and names what does not fit (101)
          }
        }
        return body;
      },

      async run() {
        if (this.saveStatus === "Unsaved changes" && !(await this.save())) return;
        this.running = true;
        this.badFields = [];
        // Started asynchronously, then followed live over the socket: log lines appear as they are written.
        const answer = await api("POST", `${config.runUrl}&async=1`, this.runBody());
        const data = answer.data || {};
        if (answer.status === 202 && data.id && window.Synchronise) {
          this.result = data;
          const finished = ["succeeded", "failed", "cancelled", "timed_out"];
          const follow = window.Synchronise.Cloud.run("getExecution", { id: data.id, realtime: true }, {
            success: (execution) => {
              this.result = execution;
              if (finished.includes(execution.status)) {
                this.running = false;
                follow.abort();
                this.highlight(execution.error);
              }
            },
          });
          return;
        }
        this.running = false;
        if (data.execution) {
          this.result = { ...data.execution, error: data.execution.error || { code: data.code, message: data.message } };
        } else if (data.status && data.id) {
          this.result = data;
        } else {
          this.result = { status: "failed", outputs: {}, logs: [], error: { code: data.code || answer.status, message: data.message || errorText(data) } };
        }
        this.highlight(data.execution ? data.execution.error || data : data);
      },

      highlight(error) {
        if (error && error.code === 101) this.badFields = (error.incorrect || []).map((i) => i.name);
        if (error && error.code === 102) this.badFields = error.missing || [];
      },

      // "http" errors each start with the spec field they are about ("url: …"): shown that way.
      errorLabel(error) {
        if (error.field !== "http") return error.field;
        const split = window.SynchroniseHttpForm ? window.SynchroniseHttpForm.splitMessage(error.message) : null;
        return split && split.path ? split.path : "http";
      },
      errorMessage(error) {
        if (error.field !== "http" || !window.SynchroniseHttpForm) return error.message;
        return window.SynchroniseHttpForm.splitMessage(error.message).message;
      },

      async publish() {
        if (this.saveStatus === "Unsaved changes" && !(await this.save())) return;
        this.publishing = true;
        const answer = await api("POST", `${config.apiUrl}publish/`, { changelog: this.changelog });
        this.publishing = false;
        this.publishOk = answer.ok;
        if (answer.ok) {
          this.publishNote = `Published v${answer.data.number}.`;
          this.changelog = "";
          const list = document.getElementById("version-list");
          if (window.htmx && list) window.htmx.trigger(list, "synchronise:refresh");
        } else {
          const problems = fieldErrors(answer.data);
          if (problems.length > 1 || problems[0].field) {
            // Several problems (or one with a field): listed by field above, not run together here.
            this.saveErrors = problems;
            this.publishNote = "Not published: see the problems listed under Interface.";
          } else {
            this.publishNote = problems[0].message;
          }
        }
      },
    };
    if (config.kind === "http" && window.SynchroniseHttpForm) {
      // Getters included: a spread would freeze them into values.
      Object.defineProperties(state, Object.getOwnPropertyDescriptors(window.SynchroniseHttpForm.mixin(config, api, row)));
    }
    return state;
  }

  document.addEventListener("alpine:init", () => window.Alpine.data("componentEditor", editor));
})();

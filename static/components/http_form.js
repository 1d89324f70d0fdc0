// The HTTP component's form: the same JSON spec the Advanced (JSON) tab shows, edited as fields.
// The form is the working copy; every change writes the JSON text (what is saved), and a valid
// JSON edit reads back into the form. Parts of a spec the form has no field for (pagination,
// signing, error mapping…) are kept as they are. Loaded before editor.js, which mixes this in.
(function () {
  "use strict";

  const BODY_TYPES = ["none", "json", "form", "multipart", "raw"];
  const AUTH_TYPES = ["none", "bearer", "basic", "header", "query"];
  const FORM_KEYS = ["method", "url", "query", "headers", "body", "outputs", "auth"];
  const REFERENCE = /^\{\{\s*secrets\.([A-Z][A-Z0-9_]*)\s*\}\}$/;
  const CREDENTIAL_NAME = /^[A-Z][A-Z0-9_]*$/;
  // The spec's top-level fields: a server message starts with one, then its path ("headers.X Y: …").
  const SPEC_FIELD = /^((?:method|url|query|headers|body|outputs|auth|paginate|sign|error_message|ok_when|fail_when|retry_after|error_statuses)(?:\.[^:]*)?): (.*)$/s;
  let nextKey = 1;

  function templated(value) { return typeof value === "string" && value.indexOf("{{") >= 0; }
  function pair(name, value) { return { key: nextKey++, name: name || "", value: value == null ? "" : String(value) }; }
  function pairs(object) { return Object.entries(object || {}).map(([name, value]) => pair(name, value)); }
  function object(rows) {
    const out = {};
    for (const row of rows) if (row.name.trim()) out[row.name.trim()] = row.value;
    return out;
  }
  // A credential as the form shows it: its name when the template is just {{ secrets.NAME }}.
  function credentialText(template) {
    const match = typeof template === "string" && template.trim().match(REFERENCE);
    return match ? match[1] : (template || "");
  }
  function credentialTemplate(text) {
    const value = (text || "").trim();
    return CREDENTIAL_NAME.test(value) ? `{{ secrets.${value} }}` : value;
  }

  // What of a spec the form cannot show (then only the JSON tab edits it).
  function unsupported(spec) {
    const found = [];
    if (templated(spec.method)) found.push("a method chosen by a template");
    for (const part of ["query", "headers"]) {
      if (spec[part] != null && (typeof spec[part] !== "object" || Array.isArray(spec[part]))) found.push(`${part} as one template`);
      else if (spec[part] && Object.values(spec[part]).some((v) => typeof v !== "string")) found.push(`${part} values that are not text`);
    }
    const body = spec.body;
    if (body && (templated(body.type) || !BODY_TYPES.includes(body.type))) found.push(`a body of type ${body.type}`);
    if (body && ["form", "multipart"].includes(body.type) && (typeof body.value !== "object" || body.value === null || Array.isArray(body.value))) {
      found.push("form fields given as one template");
    }
    const auth = spec.auth;
    if (auth && (templated(auth.type) || !AUTH_TYPES.includes(auth.type))) found.push("an authentication type chosen by a template");
    return found;
  }

  function fromSpec(spec, oauth2Names) {
    const body = spec.body || null;
    const auth = spec.auth || null;
    const rest = {};
    for (const [key, value] of Object.entries(spec)) if (!FORM_KEYS.includes(key)) rest[key] = value;
    let authType = auth ? auth.type : "none";
    if (authType === "bearer" && oauth2Names.includes(credentialText(auth.credential))) authType = "oauth2";
    return {
      method: (spec.method || "GET").toUpperCase(),
      url: spec.url || "",
      query: pairs(spec.query),
      headers: pairs(spec.headers),
      bodyType: body ? body.type : "none",
      bodyJson: body && body.type === "json" ? JSON.stringify(body.value === undefined ? null : body.value, null, 2) : "",
      bodyFields: body && ["form", "multipart"].includes(body.type) ? pairs(body.value) : [],
      bodyRaw: body && body.type === "raw" ? String(body.value || "") : "",
      contentType: body && body.type === "raw" ? body.content_type || "" : "",
      authType,
      authCredential: auth ? credentialText(auth.credential) : "",
      authUsername: auth ? auth.username || "" : "",
      authName: auth ? auth.name || "" : "",
      outputs: pairs(spec.outputs).map((row) => ({ key: row.key, name: row.name, path: row.value })),
      rest,
    };
  }

  // The spec of the form: {spec} or {problem: {path, message}} (a JSON body that does not parse).
  function toSpec(form) {
    const spec = { method: form.method, url: form.url.trim(), query: object(form.query), headers: object(form.headers) };
    if (form.bodyType === "json") {
      let value;
      try { value = JSON.parse(form.bodyJson.trim() === "" ? "null" : form.bodyJson); } catch (error) {
        return { problem: { path: "body.value", message: `not valid JSON: ${error.message}` } };
      }
      spec.body = { type: "json", value };
    } else if (form.bodyType === "form" || form.bodyType === "multipart") {
      spec.body = { type: form.bodyType, value: object(form.bodyFields) };
    } else if (form.bodyType === "raw") {
      spec.body = { type: "raw", value: form.bodyRaw };
      if (form.contentType.trim()) spec.body.content_type = form.contentType.trim();
    } else {
      spec.body = null;
    }
    const outputs = {};
    for (const row of form.outputs) if (row.name.trim()) outputs[row.name.trim()] = row.path.trim();
    spec.outputs = outputs;
    Object.assign(spec, form.rest);
    if (form.authType === "none") {
      spec.auth = null;
    } else {
      // An OAuth2 connection is a credential holding an access token: sent as a bearer token.
      const auth = { type: form.authType === "oauth2" ? "bearer" : form.authType, credential: credentialTemplate(form.authCredential) };
      if (form.authType === "basic" && form.authUsername.trim()) auth.username = form.authUsername.trim();
      if ((form.authType === "header" || form.authType === "query") && form.authName.trim()) auth.name = form.authName.trim();
      spec.auth = auth;
    }
    return { spec };
  }

  // "url: an http:// URL" → {path: "url", message: "an http:// URL"}.
  function splitMessage(text) {
    const match = String(text).match(SPEC_FIELD);
    return match ? { path: match[1], message: match[2] } : { path: "", message: String(text) };
  }

  // Leaf paths of a JSON answer, for the output mapping's suggestions.
  function leafPaths(value, prefix, found) {
    if (found.length >= 60) return found;
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) {
        if (/^[^.\s]+$/.test(key)) leafPaths(inner, `${prefix}.${key}`, found);
      }
      if (prefix !== "body") return found;
    } else if (Array.isArray(value) && value.length && typeof value[0] === "object") {
      found.push(prefix);
      leafPaths(value[0], `${prefix}.0`, found);
      return found;
    }
    found.push(prefix);
    return found;
  }

  // Alpine state and methods merged into the component editor (``this`` is the editor).
  // ``newRow(spec)``: an interface row as the editor makes them (its keys stay unique).
  function mixin(config, api, newRow) {
    const credentials = config.credentials || [];
    const oauth2Names = credentials.filter((c) => c.kind === "oauth2").map((c) => c.name);
    let parsed = {};
    try { parsed = JSON.parse(config.http || "{}"); } catch (error) { parsed = {}; }
    const problems = unsupported(parsed);
    return {
      httpTab: problems.length ? "json" : "form",
      httpForm: fromSpec(parsed, oauth2Names),
      formUnsupported: problems,
      jsonProblem: "",
      credentialNames: credentials.map((c) => c.name),
      credentialsUrl: config.credentialsUrl,
      oauth2Names,
      methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
      curlOpen: false,
      curlCommand: "",
      curlBusy: false,
      curlError: "",
      curlNotes: [],
      curlCredentials: [],
      testing: false,
      testResult: null,
      pathHints: ["status", "body", "headers.Content-Type"],
      completion: { target: null, items: [], active: 0, start: 0 },

      // --- form ↔ JSON ----------------------------------------------------------------------
      formChanged() {
        const built = toSpec(this.httpForm);
        this.httpProblems = built.problem ? [built.problem] : [];
        if (built.spec) this.http = JSON.stringify(built.spec, null, 2);
        this.changed();
      },
      jsonChanged() {
        let spec;
        try { spec = JSON.parse(this.http || "{}"); } catch (error) {
          this.jsonProblem = `Not valid JSON yet (${error.message}): the form keeps its last state.`;
          this.changed();
          return;
        }
        this.jsonProblem = "";
        if (spec && typeof spec === "object" && !Array.isArray(spec)) {
          this.formUnsupported = unsupported(spec);
          if (!this.formUnsupported.length) this.httpForm = fromSpec(spec, this.oauth2Names);
        }
        this.changed();
      },
      showTab(tab) {
        if (tab === "form" && this.formUnsupported.length) return;
        if (tab === "json" && !this.jsonProblem) {
          const built = toSpec(this.httpForm);
          if (built.spec && !this.formUnsupported.length) this.http = JSON.stringify(built.spec, null, 2);
        }
        this.httpTab = tab;
      },
      addPair(list) { this.httpForm[list].push(list === "outputs" ? { key: nextKey++, name: "", path: "" } : pair()); this.formChanged(); },
      removePair(list, index) { this.httpForm[list].splice(index, 1); this.formChanged(); },
      // A mapping to an output the interface does not declare yet declares it (type json).
      outputNamed(row) {
        const name = row.name.trim();
        if (name && !this.outputs.some((o) => o.name.trim() === name)) {
          this.outputs.push(newRow({ name, type: "json", optional: true }));
        }
        this.formChanged();
      },
      errorsFor(path) {
        return this.httpErrors.filter((e) => e.path === path || e.path.startsWith(`${path}.`)).map((e) =>
          (e.path === path ? e.message : `${e.path.slice(path.length + 1)}: ${e.message}`));
      },
      get httpErrors() {
        return [...(this.httpProblems || []), ...this.saveErrors.filter((e) => e.field === "http").map((e) => splitMessage(e.message))];
      },
      credentialMissing() {
        const name = (this.httpForm.authCredential || "").trim();
        return this.httpForm.authType !== "none" && CREDENTIAL_NAME.test(name) && !this.credentialNames.includes(name);
      },

      // --- {{ }} completion -----------------------------------------------------------------
      suggestions() {
        const names = this.inputs.map((r) => r.name.trim()).filter(Boolean).map((n) => `inputs.${n}`);
        return [...names, ...this.credentialNames.map((n) => `secrets.${n}`)];
      },
      complete(event) {
        const el = event.target;
        const caret = el.selectionStart || 0;
        const before = el.value.slice(0, caret);
        const open = before.lastIndexOf("{{");
        if (open < 0 || before.indexOf("}}", open) >= 0) { this.closeCompletion(); return; }
        const typed = before.slice(open + 2).trimStart();
        if (!/^[\w.]*$/.test(typed)) { this.closeCompletion(); return; }
        const items = this.suggestions().filter((s) => s.toLowerCase().startsWith(typed.toLowerCase()));
        this.completion = { target: el.id, items, active: 0, start: open };
      },
      completionKey(event) {
        const c = this.completion;
        if (c.target !== event.target.id || !c.items.length) return;
        if (event.key === "ArrowDown") { c.active = (c.active + 1) % c.items.length; event.preventDefault(); }
        else if (event.key === "ArrowUp") { c.active = (c.active + c.items.length - 1) % c.items.length; event.preventDefault(); }
        else if (event.key === "Enter" || event.key === "Tab") { this.pick(c.items[c.active]); event.preventDefault(); }
        else if (event.key === "Escape") { this.closeCompletion(); }
      },
      pick(item) {
        const el = document.getElementById(this.completion.target);
        if (!el) return;
        const caret = el.selectionStart || el.value.length;
        const after = el.value.slice(caret).replace(/^[\w.]*\s*(\}\})?/, "");
        const inserted = `{{ ${item} }}`;
        el.value = el.value.slice(0, this.completion.start) + inserted + after;
        const position = this.completion.start + inserted.length;
        el.setSelectionRange(position, position);
        this.closeCompletion();
        el.dispatchEvent(new Event("input", { bubbles: true }));  // x-model and formChanged follow
        el.focus();
      },
      closeCompletion() { this.completion = { target: null, items: [], active: 0, start: 0 }; },

      // --- import from cURL -----------------------------------------------------------------
      async importCurl() {
        this.curlBusy = true;
        this.curlError = "";
        const answer = await api("POST", config.curlUrl, { command: this.curlCommand });
        this.curlBusy = false;
        if (!answer.ok) { this.curlError = (answer.data && answer.data.message) || `the server answered ${answer.status}`; return; }
        const imported = answer.data.spec;
        const outputs = this.httpForm.outputs;  // what the answer maps to stays: a curl command says nothing of it
        this.httpForm = fromSpec(imported, this.oauth2Names);
        if (outputs.length) this.httpForm.outputs = outputs;
        this.formUnsupported = [];
        this.curlNotes = answer.data.notes;
        this.curlCredentials = answer.data.credentials;
        this.curlOpen = false;
        this.httpTab = "form";
        this.formChanged();
      },

      // --- send test request ----------------------------------------------------------------
      get panelInputs() {
        return this.inputs.filter((r) => r.name.trim()).map((r) => ({ name: r.name.trim(), type: r.type, subtype: r.subtype, optional: r.optional, description: r.description }));
      },
      async sendTest() {
        if (this.httpTab === "form") this.formChanged();
        const body = this.body();
        if (body.invalid) { this.saveErrors = [{ field: "http", message: body.invalid }]; return; }
        this.testing = true;
        this.badFields = [];
        const answer = await api("POST", config.testUrl, { ...body, values: this.runBody(this.panelInputs) });
        this.testing = false;
        const data = answer.data || {};
        if (answer.ok) {
          this.testResult = data;
          this.saveErrors = this.saveErrors.filter((e) => e.field !== "http");
          let parsedBody = null;
          try { parsedBody = JSON.parse(data.body); } catch (error) { parsedBody = null; }
          this.testResult.pretty = parsedBody === null ? (data.body || "") : JSON.stringify(parsedBody, null, 2);
          const paths = leafPaths(parsedBody, "body", []);
          this.pathHints = ["status", "body", ...paths.filter((p) => p !== "body"), ...Object.keys(data.headers || {}).map((h) => `headers.${h}`)];
          return;
        }
        const fields = data.errors || data.fields;  // {code, message, errors: {field: [messages]}}
        if (fields && typeof fields === "object") {
          this.saveErrors = Object.entries(fields).flatMap(([field, messages]) =>
            (Array.isArray(messages) ? messages : [messages]).map((message) => ({ field, message: String(message) })));
        }
        this.highlight(data);
        this.testResult = { ok: false, status: null, headers: {}, pretty: "", outputs: {}, logs: [], error: { code: data.code || answer.status, message: data.message || "the request could not be sent" } };
      },
    };
  }

  window.SynchroniseHttpForm = { mixin, fromSpec, toSpec, unsupported, splitMessage };
})();

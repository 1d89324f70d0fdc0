// Pure helpers of the workflow editor: step ids, rewriting references on rename, literals.
// The server is the judge of every binding (Workflow.problems); these only draw and edit.
(function (root) {
  "use strict";

  const STEP_ID = /^[a-z][a-z0-9_-]{0,62}$/;
  const LITERAL_JSON_TYPES = ["json", "list"];

  function strings(value) {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (value && typeof value === "object") return Object.values(value).flatMap(strings);
    return [];
  }

  // A new step id from a component name, unique among ``taken``: an identifier ("Fetch IP" →
  // fetch_ip, a second one fetch_ip_2), so the dotted steps.<id>.output.<name> is plain Jinja.
  // Ids with "-" (older drafts, imports) stay valid: the expressions read them too.
  function stepId(name, taken) {
    let base = String(name || "step").toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^[^a-z]+/, "").replace(/_+$/, "");
    base = (base || "step").slice(0, 40).replace(/_+$/, "");
    let id = base;
    for (let n = 2; taken.has(id); n += 1) id = `${base}_${n}`;
    return id;
  }

  // How an expression names a step (as the server's pickers write it).
  function stepPath(id) {
    return /^[a-z_][a-z0-9_]*$/.test(id) ? `steps.${id}` : `steps["${id}"]`;
  }

  function validStepId(id) {
    return STEP_ID.test(id);
  }

  // Rewrite references to step ``from`` as ``to`` in one binding value (strings, lists, objects).
  function renameIn(value, from, to) {
    const pattern = new RegExp(`(steps\\s*\\.\\s*)${from}(?![a-z0-9_-])|(steps\\s*\\[\\s*["'])${from}(["'])`, "g");
    if (typeof value === "string") {
      return value.replace(pattern, (all, dot, bracket, quote) => (dot ? dot + to : bracket + to + quote));
    }
    if (Array.isArray(value)) return value.map((item) => renameIn(item, from, to));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renameIn(item, from, to)]));
    }
    return value;
  }

  // What a typed text field means for an input of ``spec``: JSON for json and list inputs
  // (when it parses), the text itself otherwise; the server coerces "42" to 42 and says what does not fit.
  function literalValue(text, spec) {
    if (text.includes("{{") || !LITERAL_JSON_TYPES.includes(spec && spec.type)) return text;
    try { return JSON.parse(text); } catch (error) { return text; }
  }

  function literalText(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function describe(spec) {
    return spec.subtype ? `${spec.type}/${spec.subtype}` : spec.type;
  }

  root.WorkflowBindings = { stepId, stepPath, validStepId, renameIn, literalValue, literalText, describe, strings };
})(window);

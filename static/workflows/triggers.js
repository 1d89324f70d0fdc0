// The Triggers tab: the webhook and the schedule, read and changed through the workflows API
// (/api/v1/workflows/<id>/webhook, …/webhook/rotate, …/schedule) with the session. The webhook's
// URL is shown once, in the answer that created or rotated it; only its prefix afterwards.
(function () {
  "use strict";

  const PREVIEW_MS = 400;

  function csrfToken() {
    const input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function call(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    if (response.status !== 204) { try { data = await response.json(); } catch (error) { data = null; } }
    return { ok: response.ok, status: response.status, data };
  }

  function errorText(answer) {
    if (answer.status === 0) return "The server could not be reached.";
    const data = answer.data;
    if (!data || typeof data !== "object") return `The server answered ${answer.status}.`;
    if (data.message) return String(data.message);  // the API's errors: {code, message, …} (docs/errors.md)
    const errors = data.errors || data;
    return Object.entries(errors).map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`).join("; ");
  }

  const SPEC_FIELDS = ["cron", "timezone"];

  // {field: [messages]} of a 400, from the API's {code, message, errors} (or a bare field map).
  function fieldErrors(answer) {
    const data = answer.data;
    if (answer.status !== 400 || !data || typeof data !== "object") return null;
    const errors = data.errors && typeof data.errors === "object" ? data.errors : data;
    const names = Object.keys(errors).filter((name) => Array.isArray(errors[name]));
    if (!names.length) return null;
    return Object.fromEntries(names.map((name) => [name, errors[name]]));
  }

  function triggers() {
    const config = JSON.parse(document.getElementById("triggers-config").textContent);
    let previewTimer = null;
    const example = Object.fromEntries(config.inputs.map((spec) => [spec.name, spec.type === "number" ? 1 : ""]));

    return {
      config,
      hookBase: config.hookBase,
      allMethods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
      loaded: false,
      webhook: null,
      secret: null,
      hook: { methods: ["POST"], respond: "sync", timeout_seconds: 30, signature_credential: "", signature_header: "X-Signature-256" },
      webhookError: "",
      webhookNote: "",
      schedule: null,
      plan: { cron: "0 9 * * 1-5", timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
        inputs: JSON.stringify(example, null, 2), enabled: true },
      description: "",
      upcoming: [],
      previewError: "",
      scheduleError: "",
      scheduleNote: "",

      // The page carries the webhook and schedule as the API would answer them (null: none yet),
      // so nothing is fetched that would answer 404.
      init() {
        if (config.webhook) this.showWebhook(config.webhook);
        if (config.schedule) this.showSchedule(config.schedule);
        this.loaded = true;
        if (!config.schedule) this.preview();
      },

      when(iso) { return iso ? window.SynchroniseDates.format(iso) : ""; },

      // A next run as the schedule sees it: in its own time zone, whatever the browser's.
      inZone(iso, zone) {
        try {
          const weekday = new Intl.DateTimeFormat("en-GB", { timeZone: zone || "UTC", weekday: "short" }).format(new Date(iso));
          return `${weekday} ${window.SynchroniseDates.format(iso, false, zone || "UTC")} (${zone || "UTC"})`;
        } catch (error) {
          return iso;
        }
      },

      showWebhook(data) {
        this.webhook = data;
        const { methods, respond, timeout_seconds, signature_credential, signature_header } = data;
        this.hook = { methods, respond, timeout_seconds, signature_credential, signature_header };
        if (data.url) this.secret = { url: data.url, token: data.token };
      },

      async saveWebhook() {
        this.webhookError = "";
        this.webhookNote = "";
        const answer = await call("PUT", config.webhookUrl, { enabled: true, ...this.hook });
        if (!answer.ok) { this.webhookError = errorText(answer); return; }
        this.showWebhook(answer.data);
        this.webhookNote = answer.status === 201 ? "Webhook enabled." : "Saved.";
      },

      async rotate() {
        if (!window.confirm("Give the webhook a new URL? The current one stops working at once.")) return;
        const answer = await call("POST", config.rotateUrl);
        if (!answer.ok) { this.webhookError = errorText(answer); return; }
        this.showWebhook(answer.data);
        this.webhookNote = "New token set.";
      },

      async disable() {
        const answer = await call("DELETE", config.webhookUrl);
        if (!answer.ok) { this.webhookError = errorText(answer); return; }
        this.secret = null;
        const again = await call("GET", config.webhookUrl);
        if (again.ok) this.showWebhook(again.data);
        this.webhookNote = "Disabled: its URL answers 404 until you enable it again.";
      },

      showSchedule(data) {
        this.schedule = data;
        this.plan = { cron: data.cron, timezone: data.timezone, inputs: JSON.stringify(data.inputs || {}, null, 2), enabled: data.enabled };
        this.description = data.description;
        this.upcoming = (data.next_runs || []).map((iso) => this.inZone(iso, data.timezone));
        this.previewError = "";
      },

      preview() {
        clearTimeout(previewTimer);
        previewTimer = setTimeout(async () => {
          const query = new URLSearchParams({ cron: this.plan.cron, timezone: this.plan.timezone || "UTC" });
          const answer = await call("GET", `${config.previewUrl}?${query}`);
          if (!answer.ok) { this.previewError = errorText(answer); this.upcoming = []; return; }
          this.previewError = "";
          this.description = answer.data.description;
          this.upcoming = answer.data.next_runs.map((iso) => this.inZone(iso, this.plan.timezone));
        }, PREVIEW_MS);
      },

      async saveSchedule() {
        this.scheduleError = "";
        this.scheduleNote = "";
        let inputs;
        try { inputs = JSON.parse(this.plan.inputs || "{}"); } catch (error) { this.scheduleError = `inputs: ${error.message}`; return; }
        const body = { cron: this.plan.cron, timezone: this.plan.timezone || "UTC", inputs, enabled: this.plan.enabled };
        const answer = await call("PUT", config.scheduleUrl, body);
        if (!answer.ok) { this.showScheduleErrors(answer); return; }
        this.showSchedule(answer.data);
        this.scheduleNote = "Schedule saved.";
      },

      // A refused cron or time zone is said once, where the preview of the next runs is (the
      // preview has usually said it already); only the other problems go to the alert below.
      showScheduleErrors(answer) {
        const fields = fieldErrors(answer);
        if (!fields) { this.scheduleError = errorText(answer); return; }
        const text = (names) => names.map((name) => `${name}: ${[].concat(fields[name]).join(" ")}`).join("; ");
        const spec = Object.keys(fields).filter((name) => SPEC_FIELDS.includes(name));
        const others = Object.keys(fields).filter((name) => !SPEC_FIELDS.includes(name));
        if (spec.length) { clearTimeout(previewTimer); this.previewError = text(spec); this.upcoming = []; }
        this.scheduleError = text(others);
      },

      async clearSchedule() {
        const answer = await call("DELETE", config.scheduleUrl);
        if (!answer.ok) { this.scheduleError = errorText(answer); return; }
        this.schedule = null;
        this.scheduleNote = "Schedule deleted.";
        this.preview();
      },
    };
  }

  document.addEventListener("alpine:init", () => window.Alpine.data("workflowTriggers", triggers));
})();

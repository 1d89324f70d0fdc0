/*!
 * synchronise.js — the browser client of Synchronise (no build step, no dependencies).
 * Also served at /js/1.0.js and /js/1.0.min.js: it keeps the original product's 1.0.js surface
 * (docs/browser-client.md), so pages written for that library run unchanged.
 *
 *   <script src="https://your-platform/js/1.0.js"></script>   (the platform is where it was loaded from)
 *   Synchronise.init(publishableKey?, {url?})
 *   const call = Synchronise.Cloud.run("getProject", {id: 7, realtime: true, cacheFirst: true}, {
 *     success(data) {}, error(err) {}, always() {}, progress(progress, message) {}, log(line) {}
 *   });
 *   call.abort(); call.setRealtime(false); call.isRealtime(); call.run(); call.hasFinished() …
 *   Synchronise.Component.run(id, inputs, {success(outputs), error({code, message, …}), always(), log(line)})
 *   Synchronise.Workflow.run(id, inputs, {…, progress({currentStep, totalSteps, percentage,
 *                                          step, steps, status, name}, {type, status, id}) {}})
 *   Synchronise.User.current() / login(email, password) / logout()   (Promises; callbacks too)
 *   Synchronise.Connection.Lost(cb) / Connected(cb)
 *
 * Server-rendered fragments refresh without page-specific code: an element with
 *   data-synchronise-subscribe="getProject" data-synchronise-params='{"id": 7}'
 * is subscribed on load, and receives a `synchronise:refresh` DOM event whenever that call's
 * data changes — e.g. `hx-get="…" hx-trigger="synchronise:refresh"` with htmx.
 * Every change also fires `synchronise:update` on `document` (detail: {function, params}).
 */
(function (root) {
  "use strict";

  const CONTROL = ["realtime", "skip_execution", "cacheFirst"];
  const STORE = "synchronise.cache.v1"; // localStorage: cacheFirst answers of publishable-key calls
  const STORE_ENTRIES = 50;
  const STORE_ENTRY_CHARS = 100000;
  const cache = new Map();
  const handles = new Map(); // request_id → Call
  const lostCallbacks = [];
  const connectedCallbacks = [];
  let socket = null;
  let publishableKey = null;
  let baseUrl = scriptOrigin();
  let counter = 0;
  let attempts = 0;
  let connected = false;
  let everConnected = false;
  let pingTimer = null;
  let reconnectTimer = null;
  const outbox = [];

  // The platform is where this file was loaded from: a customer's page includes
  // <script src="https://platform/js/1.0.js"> and calls init(pk) with nothing else, as with the
  // original library (whose host was fixed). On the platform's own pages this is their origin.
  function scriptOrigin() {
    const script = root.document && root.document.currentScript;
    if (!script || !script.src) return null;
    try {
      const origin = new URL(script.src, root.location.href).origin;
      return origin === root.location.origin ? null : origin;
    } catch (e) {
      return null;
    }
  }

  function socketUrl() {
    const origin = baseUrl || root.location.origin;
    const url = new URL("/ws/", origin);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (publishableKey) url.searchParams.set("key", publishableKey);
    return url.toString();
  }

  function connect() {
    if (socket && (socket.readyState === 0 || socket.readyState === 1)) return;
    socket = new WebSocket(socketUrl());
    socket.onopen = function () {
      const wasLost = everConnected && !connected;
      connected = true;
      everConnected = true;
      attempts = 0;
      while (outbox.length) socket.send(outbox.shift());
      // Resubscribe everything: data may have changed while we were away, so run again.
      if (wasLost) handles.forEach(function (call) { if (call.realtime) call.run(); });
      connectedCallbacks.forEach(function (cb) { safely(cb); });
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { send({type: "ping"}); }, 25000);
    };
    socket.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "cloud.result") onResult(message);
      else if (message.type === "cloud.data_update") onDataUpdate(message);
    };
    socket.onclose = function (event) {
      clearInterval(pingTimer);
      if (connected || !everConnected) lostCallbacks.forEach(function (cb) { safely(cb, event); });
      connected = false;
      scheduleReconnect();
    };
    socket.onerror = function () { /* onclose follows */ };
  }

  function scheduleReconnect() {
    clearTimeout(reconnectTimer);
    const delay = Math.min(10000, 500 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
    attempts += 1;
    reconnectTimer = setTimeout(connect, delay);
  }

  function send(message) {
    const text = JSON.stringify(message);
    if (socket && socket.readyState === 1) socket.send(text);
    else if (message.type !== "ping") outbox.push(text);
    if (!socket) connect();
  }

  function safely(fn) {
    const args = Array.prototype.slice.call(arguments, 1);
    try { fn.apply(null, args); } catch (e) { if (root.console) root.console.error(e); }
  }

  function withoutControl(params) {
    const clean = Object.assign({}, params || {});
    CONTROL.forEach(function (k) { delete clean[k]; });
    return clean;
  }

  function cacheKey(name, params) {
    const keys = Object.keys(params).filter(function (k) { return CONTROL.indexOf(k) < 0; }).sort();
    return name + JSON.stringify(keys.map(function (k) { return [k, params[k]]; }));
  }

  // --- cacheFirst ---------------------------------------------------------------------------
  //
  // The last answer of a call, kept in memory; with a publishable key also in localStorage (as
  // the original did), so a reloaded page answers at once. Only public data is asked with a
  // publishable key, so nothing private is written to disk; a session's answers stay in memory
  // and are forgotten at login and logout.

  function storage() {
    try { return root.localStorage || null; } catch (e) { return null; }
  }

  function storeScope() {
    return (baseUrl || root.location.origin) + " " + publishableKey + " ";
  }

  function readStore() {
    const store = storage();
    if (!store) return {};
    try { return JSON.parse(store.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }

  function cached(key) {
    key = storeScope() + key;
    if (cache.has(key)) return {data: cache.get(key)};
    if (!publishableKey) return null;
    const entry = readStore()[key];
    return entry ? {data: entry.data} : null;
  }

  function remember(key, data, persist) {
    key = storeScope() + key;
    cache.set(key, data);
    const store = storage();
    if (!persist || !publishableKey || !store) return;
    try {
      const text = JSON.stringify(data);
      if (text === undefined || text.length > STORE_ENTRY_CHARS) return;
      const entries = readStore();
      entries[key] = {data: data, at: Date.now()};
      const keys = Object.keys(entries).sort(function (a, b) { return entries[b].at - entries[a].at; });
      keys.slice(STORE_ENTRIES).forEach(function (k) { delete entries[k]; });
      store.setItem(STORE, JSON.stringify(entries));
    } catch (e) { /* full or disabled: the memory copy serves this page */ }
  }

  function forget() {
    cache.clear();
    const store = storage();
    if (store) { try { store.removeItem(STORE); } catch (e) { /* disabled */ } }
  }

  // The original's answer from the cache: `always()` first, then `success(cached)`; the server's
  // answer follows with `success` and `always` again.
  function answerFromCache(key, callbacks) {
    const hit = cached(key);
    if (!hit || !callbacks.success) return false;
    if (callbacks.always) safely(callbacks.always);
    safely(callbacks.success, hit.data);
    return true;
  }

  // --- What a call tells the page (the original's "identity" object) -------------------------

  function progressOf(currentStep, totalSteps) {
    const total = totalSteps > 0 ? totalSteps : 1;
    return {percentage: Math.round((currentStep / total) * 100), totalSteps: total, currentStep: currentStep};
  }

  // The state methods and timing figures of a handle, as the original's returned object had them.
  function Tracked() {}
  Tracked.prototype.reset = function () {
    this.started = true;
    this.succeeded = false;
    this.failed = false;
    this.aborted = false;
    this.finished = false;
    this.sentAt = Date.now();
  };
  Tracked.prototype.isRealtime = function () { return Boolean(this.realtime); };
  Tracked.prototype.hasStarted = function () { return Boolean(this.started); };
  Tracked.prototype.hasSucceeded = function () { return Boolean(this.succeeded); };
  Tracked.prototype.hasFailed = function () { return Boolean(this.failed); };
  Tracked.prototype.hasAborted = function () { return Boolean(this.aborted); };
  Tracked.prototype.hasFinished = function () { return Boolean(this.finished); };
  Tracked.prototype.settle = function (ok, executionMs) {
    this.running = false;
    this.finished = true;
    this.succeeded = ok;
    this.failed = !ok;
    this.amountOfCalls += 1;
    const total = Date.now() - (this.sentAt || Date.now());
    const execution = typeof executionMs === "number" ? executionMs : total;
    const timing = {
      measurement: "milliseconds", executionTime: execution, communicationTime: Math.max(0, total - execution),
    };
    this.executions.push(timing);
    const all = this.executions;
    const cost = function (t) { return t.executionTime + t.communicationTime; };
    this.allRequests = all;
    this.firstRequest = all[0];
    this.lastRequest = timing;
    this.longestRequest = all.reduce(function (a, b) { return cost(b) > cost(a) ? b : a; });
    this.shortestRequest = all.reduce(function (a, b) { return cost(b) < cost(a) ? b : a; });
    this.averageRequestTime = all.reduce(function (sum, t) { return sum + cost(t); }, 0) / all.length;
  };

  function initTracked(handle) {
    handle.started = false;
    handle.succeeded = false;
    handle.failed = false;
    handle.aborted = false;
    handle.finished = false;
    handle.running = false;
    handle.amountOfCalls = 0;
    handle.progress = progressOf(0, 1);
    handle.executions = [];
    handle.data = undefined;
    handle.error = null;
  }

  // --- Cloud.run -----------------------------------------------------------------------------

  // An error callback's argument: the server's error object itself ({code, message, …details},
  // docs/errors.md) with the HTTP-like `status` beside it.
  function errorFrom(status, body, fallback) {
    const error = Object.assign({}, body && typeof body === "object" ? body : {});
    if (error.message === undefined) error.message = typeof body === "string" && body ? body : fallback || "the call failed";
    error.status = status;
    return error;
  }

  function onResult(message) {
    const call = handles.get(String(message.request_id));
    if (!call) return;
    const data = message.data;
    if (message.status === 100) {
      const line = data && typeof data === "object" && "message" in data ? data.message : data;
      return call.callbacks.log && safely(call.callbacks.log, line);
    }
    if (message.status === 206) {
      const p = data && typeof data === "object" ? data : {};
      call.progress = Object.assign(progressOf(p.step, p.steps), {step: p.step, steps: p.steps});
      return call.callbacks.progress && safely(call.callbacks.progress, call.progress, p.message);
    }
    call.running = false;
    if (message.status === 204) return; // subscribed without running
    if (message.status >= 200 && message.status < 300) {
      call.settle(true, message.execution_ms);
      call.data = data;
      call.error = null;
      remember(cacheKey(call.name, call.params), data, call.cacheFirst);
      if (call.callbacks.success) safely(call.callbacks.success, data);
    } else {
      call.settle(false, message.execution_ms);
      const body = Object.assign({}, message);
      ["type", "request_id", "status", "execution_ms"].forEach(function (k) { delete body[k]; });
      call.error = errorFrom(message.status, body);
      if (call.callbacks.error) safely(call.callbacks.error, call.error);
    }
    if (call.callbacks.always) safely(call.callbacks.always);
    if (!call.realtime) handles.delete(call.requestId);
  }

  function onDataUpdate(message) {
    const call = handles.get(String(message.request_id));
    if (!call) return;
    if (root.document) {
      root.document.dispatchEvent(new CustomEvent("synchronise:update", {
        detail: {function: call.name, params: call.params, request_id: call.requestId},
      }));
    }
    if (call.onUpdate) call.onUpdate();
    else call.run();
  }

  function Call(name, params, callbacks) {
    initTracked(this);
    this.name = name;
    this.params = Object.assign({}, params || {});
    this.callbacks = callbacks || {};
    const realtime = this.params.realtime;
    this.realtime = Boolean(realtime);
    this.ignore = realtime && realtime.ignore ? [].concat(realtime.ignore) : null;
    this.cacheFirst = Boolean(this.params.cacheFirst);
    this.skipExecution = Boolean(this.params.skip_execution);
    this.params = withoutControl(this.params);
    this.requestId = "r" + (++counter);
    this.onUpdate = null;
  }
  Call.prototype = Object.create(Tracked.prototype);
  Call.prototype.constructor = Call;

  Call.prototype.run = function () {
    handles.set(this.requestId, this);
    if (this.cacheFirst && this.amountOfCalls === 0) answerFromCache(cacheKey(this.name, this.params), this.callbacks);
    this.reset();
    this.running = !this.skipExecution;
    const message = {type: "cloud.run", function: this.name, params: this.params, request_id: this.requestId};
    if (this.realtime) message.realtime = this.ignore ? {ignore: this.ignore} : true;
    if (this.skipExecution) message.skip_execution = true;
    this.skipExecution = false; // later runs (after an update) fetch the data
    send(message);
    return this;
  };

  Call.prototype.setRealtime = function (on) {
    if (!on && this.realtime) {
      send({type: "cloud.unsubscribe", request_id: this.requestId});
      if (!this.running) handles.delete(this.requestId);
    }
    const wasOff = !this.realtime;
    this.realtime = Boolean(on);
    if (on && wasOff) {
      this.skipExecution = true;
      this.run();
    }
    return this;
  };

  Call.prototype.abort = function () {
    if (this.realtime) send({type: "cloud.unsubscribe", request_id: this.requestId});
    this.realtime = false;
    this.running = false;
    this.aborted = true;
    handles.delete(this.requestId);
    return this;
  };

  function cloudRun(name, params, callbacks) {
    return new Call(name, params, callbacks).run();
  }

  function promised(name, params) {
    return new Promise(function (resolve, reject) {
      cloudRun(name, params || {}, {success: resolve, error: reject});
    });
  }

  function csrfToken() {
    const match = root.document && root.document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function postForm(path, fields) {
    const body = new URLSearchParams(fields);
    return fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded"},
      body: body,
    });
  }

  // --- Running components and workflows -------------------------------------------------------

  // --- Running components and workflows -------------------------------------------------------
  //
  // Start with the REST API (`?async=1`), then follow the execution: over the socket with a
  // realtime call (the server pings it on every step), re-asked on a timer as a backstop — a
  // publishable-key socket is not among the recipients of those pings, so for it the timer is
  // what follows the run. Components with a publishable key are followed over HTTP, and so is
  // everything while the socket is not open (refused, or blocked by the network).

  const FINISHED = ["succeeded", "failed", "cancelled", "timed_out"];
  const FOLLOW_MS_KEY = 400;
  const FOLLOW_MS_SESSION = 3000;
  const STEP_STATUS = {succeeded: "success", skipped: "skipped"}; // the original's words; else "error"

  function apiUrl(path) {
    return baseUrl ? new URL(path, baseUrl).toString() : path;
  }

  function apiFetch(method, path, body) {
    const headers = {"Accept": "application/json"};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (publishableKey) headers["x-synchronise-public-key"] = publishableKey;
    else headers["X-CSRFToken"] = csrfToken();
    return fetch(apiUrl(path), {
      method: method,
      headers: headers,
      credentials: publishableKey ? "omit" : "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.text().then(function (text) {
        let data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = {message: text}; }
        return {ok: response.ok, status: response.status, data: data};
      });
    }, function (failure) {
      return {ok: false, status: 0, data: {code: "network", message: String(failure && failure.message || failure)}};
    });
  }

  function RunHandle(start) {
    initTracked(this);
    this.executionId = null;
    this.realtime = false;
    this.start = start;
  }
  RunHandle.prototype = Object.create(Tracked.prototype);
  RunHandle.prototype.constructor = RunHandle;
  RunHandle.prototype.abort = function () { if (this.stop) this.stop(true); return this; };
  RunHandle.prototype.run = function () { this.start(this); return this; }; // runs it again
  RunHandle.prototype.setRealtime = function () { return this; }; // a run is not a subscription

  // Start `path`, then follow the execution through `source(id)`: {cloud: name} — over the socket,
  // or, while it is not open, the same function's HTTP face — or {http: path} (GET).
  // `follower()` makes an `update(data, handle)` that sees every state; the callbacks get the end:
  // `success(outputs)` or `error({code, message, …})`, then `always()`.
  function startAndFollow(kind, id, params, callbacks, source, follower) {
    callbacks = callbacks || {};
    const inputs = withoutControl(params);
    const key = cacheKey("run:" + kind + ":" + id, inputs);
    const useCache = Boolean(params && params.cacheFirst);

    function start(handle) {
      const update = follower(); // fresh per run: `run()` again starts over
      let done = false;
      let timer = null;
      let call = null;
      handle.reset();
      handle.running = true;
      handle.stop = function (aborted) {
        done = true;
        clearTimeout(timer);
        if (call) call.abort();
        if (aborted) { handle.aborted = true; handle.running = false; }
      };

      function end(ok, value, executionMs) {
        if (done) return;
        handle.stop(false);
        handle.settle(ok, executionMs);
        if (ok) {
          handle.data = value;
          remember(key, value, useCache);
          if (callbacks.success) safely(callbacks.success, value);
        } else {
          handle.error = value;
          if (callbacks.error) safely(callbacks.error, value);
        }
        if (callbacks.always) safely(callbacks.always);
      }
      function refused(status, body) { end(false, errorFrom(status, body)); }
      function receive(data) {
        if (done || !data) return;
        update(data, handle);
        if (FINISHED.indexOf(data.status) >= 0) {
          if (data.status === "succeeded") return end(true, data.outputs, data.duration_ms);
          const error = errorFrom(data.status, data.error || {}, data.status);
          error.execution_id = data.id;
          return end(false, error, data.duration_ms);
        }
        clearTimeout(timer);
        timer = setTimeout(again, publishableKey ? FOLLOW_MS_KEY : FOLLOW_MS_SESSION);
      }
      function again() {
        if (done) return;
        if (call && connected) call.run();
        else poll();
      }
      function poll() {
        const follow = source(handle.executionId);
        const asked = follow.http
          ? apiFetch("GET", follow.http)
          : apiFetch("POST", "/api/v1/cloud/" + follow.cloud, {id: handle.executionId});
        asked.then(function (answer) {
          if (answer.ok) receive(answer.data);
          else refused(answer.status, answer.data);
        });
      }

      // The original's ids were strings; ours are numbers. Anything else names no run of ours.
      if (!/^\d+$/.test(String(id))) {
        setTimeout(function () { refused(404, {code: 104, message: "unknown " + kind + " " + id}); }, 0);
        return;
      }
      apiFetch("POST", "/api/v1/" + kind + "s/" + encodeURIComponent(id) + "/run?async=1", inputs).then(function (answer) {
        if (done) return;
        if (!answer.ok || !answer.data || answer.data.id === undefined) return refused(answer.status, answer.data);
        handle.executionId = answer.data.id;
        const follow = source(answer.data.id);
        if (follow.cloud) {
          call = cloudRun(follow.cloud, {id: answer.data.id, realtime: true}, {
            success: receive,
            error: function (error) { end(false, error); },
          });
        }
        if (!call || !connected) poll();
      });
    }

    const handle = new RunHandle(start);
    if (useCache) answerFromCache(key, callbacks);
    start(handle);
    return handle;
  }

  function runWorkflow(id, params, callbacks) {
    callbacks = callbacks || {};
    return startAndFollow("workflow", id, params, callbacks, function () { return {cloud: "getWorkflowExecution"}; }, function () {
      return workflowFollower(callbacks);
    });
  }

  function workflowFollower(callbacks) {
    const settled = {};
    const seenLines = {};
    let settledCount = 0;
    return function update(execution, handle) {
      const steps = execution.steps || [];
      steps.forEach(function (step) {
        if (!step.settled || settled[step.id]) return;
        settled[step.id] = true;
        settledCount += 1;
        // The original's two arguments: {percentage, totalSteps, currentStep} (with our step's
        // name and status beside them) and a message about the component that just ran.
        handle.progress = Object.assign(progressOf(settledCount, steps.length), {
          step: settledCount, steps: steps.length, status: step.status, name: step.id,
        });
        const message = {type: "component", status: STEP_STATUS[step.status] || "error", id: step.id};
        if (callbacks.progress) safely(callbacks.progress, handle.progress, message);
      });
      (execution.step_runs || []).forEach(function (row) {
        const lines = row.logs || [];
        const where = {step: row.step, item: row.item, attempt: row.attempt};
        for (let i = seenLines[row.id] || 0; i < lines.length; i++) {
          if (callbacks.log) safely(callbacks.log, lines[i], where);
        }
        seenLines[row.id] = Math.max(seenLines[row.id] || 0, lines.length);
      });
    };
  }

  function runComponent(id, params, callbacks) {
    callbacks = callbacks || {};
    function follower() {
      let seen = 0;
      return function update(execution) {
        const lines = execution.logs || [];
        for (; seen < lines.length; seen++) if (callbacks.log) safely(callbacks.log, lines[seen]);
      };
    }
    return startAndFollow(
      "component", id, params, callbacks,
      function (executionId) {
        // getExecution serves members; a publishable key reads the runs it started over HTTP.
        return publishableKey ? {http: "/api/v1/executions/" + executionId + "/"} : {cloud: "getExecution"};
      },
      follower
    );
  }

  function reconnectAsNewUser() {
    forget(); // the previous person's answers are not the next one's
    reconnect();
  }

  function reconnect() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    connected = false;
    handles.forEach(function (call) { if (call.realtime) call.run(); });
    connect();
  }

  function subscribeFragments(scope) {
    const nodes = (scope || root.document).querySelectorAll("[data-synchronise-subscribe]");
    nodes.forEach(function (node) {
      if (node.__synchronise) return;
      let params = {};
      try { params = JSON.parse(node.getAttribute("data-synchronise-params") || "{}"); } catch (e) { return; }
      const call = new Call(node.getAttribute("data-synchronise-subscribe"), params, {});
      call.realtime = true;
      call.skipExecution = true;
      call.onUpdate = function () { node.dispatchEvent(new CustomEvent("synchronise:refresh", {bubbles: true})); };
      node.__synchronise = call;
      call.run();
    });
  }

  // Promises, as in this client from the start; the original's {success, error, always} work too.
  function login(email, password, callbacks) {
    const signedIn = postForm("/accounts/login/", {login: email, password: password}).then(function (response) {
      if (!response.ok || response.url.indexOf("/accounts/login/") >= 0) throw errorFrom(400, {code: "login_failed", message: "login failed"});
      reconnectAsNewUser();
      return promised("sessionUser");
    });
    return withCallbacks(signedIn, callbacks);
  }

  function logout(callbacks) {
    return withCallbacks(postForm("/accounts/logout/", {}).then(function () { reconnectAsNewUser(); }), callbacks);
  }

  function withCallbacks(promise, callbacks) {
    if (!callbacks) return promise;
    return promise.then(function (data) {
      if (callbacks.success) safely(callbacks.success, data);
      if (callbacks.always) safely(callbacks.always);
      return data;
    }, function (error) {
      if (callbacks.error) safely(callbacks.error, error);
      if (callbacks.always) safely(callbacks.always);
      throw error;
    });
  }

  const Synchronise = {
    init: function (key, options) {
      const before = socketUrl();
      publishableKey = key || null;
      if (options && options.url) baseUrl = options.url;
      if (socket && socketUrl() !== before) reconnect(); // another key: another socket
      else connect();
      return Synchronise;
    },
    Cloud: {run: cloudRun},
    Workflow: {run: runWorkflow},
    Component: {run: runComponent},
    User: {
      current: function (callbacks) { return withCallbacks(promised("sessionUser"), callbacks); },
      login: login,
      logIn: login,
      logout: logout,
      logOut: logout,
    },
    Connection: {
      Lost: function (cb) { lostCallbacks.push(cb); },
      Connected: function (cb) { connectedCallbacks.push(cb); if (connected) safely(cb); },
      get connected() { return connected; },
    },
    subscribeFragments: subscribeFragments,
  };

  root.Synchronise = Synchronise;
  if (root.document) {
    const start = function () {
      if (root.document.querySelector("[data-synchronise-subscribe]")) { connect(); subscribeFragments(); }
      root.document.addEventListener("htmx:afterSettle", function (event) { subscribeFragments(event.target); });
    };
    if (root.document.readyState === "loading") root.document.addEventListener("DOMContentLoaded", start);
    else start();
  }
})(typeof window !== "undefined" ? window : globalThis);

/*!
 * synchronise.js — the browser client of Synchronise (no build step, no dependencies).
 *
 *   Synchronise.init(publishableKey?, {url?})
 *   const call = Synchronise.Cloud.run("getProject", {id: 7, realtime: true}, {
 *     success(data) {}, error(err) {}, always() {}, progress(p) {}, log(line) {}
 *   });
 *   call.abort(); call.setRealtime(false); call.run(); call.running; call.data; call.error
 *   Synchronise.Workflow.run(id, inputs, {success(outputs) {}, error(err) {}, always() {},
 *                                          progress({step, steps, status, name}) {}, log(line) {}})
 *   Synchronise.Component.run(id, inputs, {success, error, always, log})   (both return {abort()})
 *   Synchronise.User.current() / login(email, password) / logout()   (Promises)
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
  const cache = new Map();
  const handles = new Map(); // request_id → Call
  const lostCallbacks = [];
  const connectedCallbacks = [];
  let socket = null;
  let publishableKey = null;
  let baseUrl = null;
  let counter = 0;
  let attempts = 0;
  let connected = false;
  let everConnected = false;
  let pingTimer = null;
  let reconnectTimer = null;
  const outbox = [];

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
    socket.onclose = function () {
      clearInterval(pingTimer);
      if (connected || !everConnected) lostCallbacks.forEach(function (cb) { safely(cb); });
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

  function safely(fn, arg) {
    try { fn(arg); } catch (e) { if (root.console) root.console.error(e); }
  }

  function cacheKey(name, params) {
    const keys = Object.keys(params).filter(function (k) { return CONTROL.indexOf(k) < 0; }).sort();
    return name + JSON.stringify(keys.map(function (k) { return [k, params[k]]; }));
  }

  function onResult(message) {
    const call = handles.get(String(message.request_id));
    if (!call) return;
    if (message.status === 100) return call.callbacks.log && safely(call.callbacks.log, message.data);
    if (message.status === 206) return call.callbacks.progress && safely(call.callbacks.progress, message.data);
    call.running = false;
    if (message.status === 204) return; // subscribed without running
    if (message.status >= 200 && message.status < 300) {
      call.data = message.data;
      call.error = null;
      cache.set(cacheKey(call.name, call.params), message.data);
      if (call.callbacks.success) safely(call.callbacks.success, message.data);
    } else {
      call.error = {status: message.status, code: message.code, message: message.message, details: message};
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
    this.name = name;
    this.params = Object.assign({}, params || {});
    this.callbacks = callbacks || {};
    const realtime = this.params.realtime;
    this.realtime = Boolean(realtime);
    this.ignore = realtime && realtime.ignore ? realtime.ignore : null;
    this.cacheFirst = Boolean(this.params.cacheFirst);
    this.skipExecution = Boolean(this.params.skip_execution);
    CONTROL.forEach(function (k) { delete this.params[k]; }, this);
    this.requestId = "r" + (++counter);
    this.running = false;
    this.data = undefined;
    this.error = null;
    this.onUpdate = null;
  }

  Call.prototype.run = function () {
    handles.set(this.requestId, this);
    if (this.cacheFirst && this.data === undefined) {
      const cached = cache.get(cacheKey(this.name, this.params));
      if (cached !== undefined && this.callbacks.success) safely(this.callbacks.success, cached);
    }
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
  //
  // Start with the REST API (`?async=1`), then follow the execution: over the socket with a
  // realtime call (the server pings it on every step), re-asked on a timer as a backstop — a
  // publishable-key socket is not among the recipients of those pings, so for it the timer is
  // what follows the run. Components with a publishable key are followed over HTTP, and so is
  // everything while the socket is not open (refused, or blocked by the network).

  const FINISHED = ["succeeded", "failed", "cancelled", "timed_out"];
  const FOLLOW_MS_KEY = 400;
  const FOLLOW_MS_SESSION = 3000;

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

  function runError(status, data) {
    data = data || {};
    return {
      status: status, code: data.code, message: data.message || data.detail || "the run failed",
      step: data.step, details: data,
    };
  }

  // Start `path`, then follow the execution through `source(id)`: {cloud: name} — over the socket,
  // or, while it is not open, the same function's HTTP face — or {http: path} (GET).
  // `update(data)` sees every state; the callbacks get the end.
  function startAndFollow(path, params, callbacks, source, update) {
    callbacks = callbacks || {};
    let done = false;
    let timer = null;
    let call = null;
    const handle = {executionId: null, abort: function () { stop(); return handle; }};

    function stop() {
      done = true;
      clearTimeout(timer);
      if (call) call.abort();
    }
    function end(fn, arg) {
      if (done) return;
      stop();
      if (fn) safely(fn, arg);
      if (callbacks.always) safely(callbacks.always);
    }
    function receive(data) {
      if (done || !data) return;
      update(data);
      if (FINISHED.indexOf(data.status) >= 0) {
        if (data.status === "succeeded") return end(callbacks.success, data.outputs);
        const error = data.error || {};
        return end(callbacks.error, {
          status: data.status, code: error.code, message: error.message || data.status, step: error.step,
          execution_id: data.id, details: error,
        });
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
        else end(callbacks.error, runError(answer.status, answer.data));
      });
    }

    apiFetch("POST", path, params || {}).then(function (answer) {
      if (done) return;
      if (!answer.ok || !answer.data || answer.data.id === undefined) {
        return end(callbacks.error, runError(answer.status, answer.data));
      }
      handle.executionId = answer.data.id;
      const follow = source(answer.data.id);
      if (follow.cloud) {
        call = cloudRun(follow.cloud, {id: answer.data.id, realtime: true}, {
          success: receive,
          error: function (error) { end(callbacks.error, error); },
        });
      }
      if (!call || !connected) poll();
    });
    return handle;
  }

  function runWorkflow(id, params, callbacks) {
    callbacks = callbacks || {};
    const settled = {};
    const seenLines = {};
    let settledCount = 0;
    function update(execution) {
      const steps = execution.steps || [];
      steps.forEach(function (step) {
        if (!step.settled || settled[step.id]) return;
        settled[step.id] = true;
        settledCount += 1;
        if (callbacks.progress) {
          safely(callbacks.progress, {step: settledCount, steps: steps.length, status: step.status, name: step.id});
        }
      });
      (execution.step_runs || []).forEach(function (row) {
        const lines = row.logs || [];
        const where = {step: row.step, item: row.item, attempt: row.attempt};
        for (let i = seenLines[row.id] || 0; i < lines.length; i++) {
          const line = lines[i];
          if (callbacks.log) safely(function () { callbacks.log(line, where); });
        }
        seenLines[row.id] = Math.max(seenLines[row.id] || 0, lines.length);
      });
    }
    return startAndFollow(
      "/api/v1/workflows/" + encodeURIComponent(id) + "/run?async=1", params, callbacks,
      function () { return {cloud: "getWorkflowExecution"}; }, update
    );
  }

  function runComponent(id, params, callbacks) {
    callbacks = callbacks || {};
    let seen = 0;
    function update(execution) {
      const lines = execution.logs || [];
      for (; seen < lines.length; seen++) if (callbacks.log) safely(callbacks.log, lines[seen]);
    }
    return startAndFollow(
      "/api/v1/components/" + encodeURIComponent(id) + "/run?async=1", params, callbacks,
      function (executionId) {
        // getExecution serves members; a publishable key reads the runs it started over HTTP.
        return publishableKey ? {http: "/api/v1/executions/" + executionId + "/"} : {cloud: "getExecution"};
      },
      update
    );
  }

  function reconnectAsNewUser() {
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

  const Synchronise = {
    init: function (key, options) {
      publishableKey = key || null;
      baseUrl = options && options.url ? options.url : null;
      connect();
      return Synchronise;
    },
    Cloud: {run: cloudRun},
    Workflow: {run: runWorkflow},
    Component: {run: runComponent},
    User: {
      current: function () { return promised("sessionUser"); },
      login: function (email, password) {
        return postForm("/accounts/login/", {login: email, password: password}).then(function (response) {
          if (!response.ok || response.url.indexOf("/accounts/login/") >= 0) throw new Error("login failed");
          reconnectAsNewUser();
          return promised("sessionUser");
        });
      },
      logout: function () {
        return postForm("/accounts/logout/", {}).then(function () { reconnectAsNewUser(); });
      },
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

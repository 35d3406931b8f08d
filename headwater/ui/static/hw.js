/* Headwater UI helpers, shared by every page (window.hw).
 *
 * hw.api(path, options)    fetch JSON with the API key of this tab (X-API-Key), JSON bodies only; a 401
 *                          asks for the key once and retries; errors are shown in the page's banner and
 *                          thrown as hw.ApiError (status, body).
 * hw.ksql(statements)      POST /ksql; the entities.
 * hw.stream(path, handlers) server-sent events read with fetch() + a ReadableStream (EventSource cannot
 *                          send the key header): handlers.onEvent(name, data) per event; returns a stop().
 * hw.lines(path, options, onLine, onEnd)  a streamed response line by line (POST /query-stream's rows).
 * hw.el(tag, attrs, ...children)   DOM building without innerHTML (text is always text).
 * hw.pages[name]           page scripts register here; the one named by <body data-page> runs on load.
 */
(function () {
  "use strict";
  var KEY = "headwater.apiKey";
  var hw = (window.hw = { pages: {} });

  function ApiError(status, message, body) {
    this.name = "ApiError";
    this.status = status;
    this.message = message;
    this.body = body;
  }
  ApiError.prototype = Object.create(Error.prototype);
  hw.ApiError = ApiError;

  hw.key = function () { return sessionStorage.getItem(KEY); };

  function markKey() {
    var button = document.getElementById("hw-key-button");
    if (button) {
      button.classList.toggle("hw-has-key", !!hw.key());
      button.textContent = hw.key() ? "API key ✓" : "API key";
    }
  }

  var pendingPrompt = null;
  /* Ask for the key in the page's dialog; resolves true when one was given. One prompt at a time. */
  hw.askKey = function (reason) {
    if (pendingPrompt) return pendingPrompt;
    var dialog = document.getElementById("hw-key-dialog");
    var input = document.getElementById("hw-key-input");
    document.getElementById("hw-key-reason").textContent = reason || "";
    input.value = "";
    pendingPrompt = new Promise(function (resolve) {
      dialog.addEventListener("close", function onClose() {
        dialog.removeEventListener("close", onClose);
        pendingPrompt = null;
        if (dialog.returnValue === "save" && input.value) {
          sessionStorage.setItem(KEY, input.value);
          markKey();
          resolve(true);
        } else {
          resolve(false);
        }
      });
      dialog.returnValue = "";
      dialog.showModal();
    });
    return pendingPrompt;
  };

  hw.showError = function (message) {
    var box = document.getElementById("hw-error");
    if (!box) return;
    document.getElementById("hw-error-text").textContent = message;
    box.hidden = false;
  };
  hw.clearError = function () {
    var box = document.getElementById("hw-error");
    if (box) box.hidden = true;
  };

  hw.headers = function (extra) {
    var headers = Object.assign({ Accept: "application/json" }, extra || {});
    var key = hw.key();
    if (key) headers["X-API-Key"] = key;
    return headers;
  };

  async function readError(response) {
    var text = await response.text();
    var body = null;
    try { body = JSON.parse(text); } catch (e) { body = null; }
    var message = (body && (body.message || body.error)) || text || response.statusText;
    return new ApiError(response.status, response.status + ": " + message, body);
  }

  /* fetch with the key; options: method, body (sent as JSON), headers, quiet (no banner), raw (the Response). */
  hw.api = async function (path, options) {
    options = options || {};
    if (!hw.key() && document.body.getAttribute("data-needs-key") === "true") {
      await hw.askKey("This server needs an API key for its data.");
    }
    var init = { method: options.method || "GET", headers: hw.headers(options.headers), signal: options.signal,
                 credentials: "same-origin" };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    }
    var response = await fetch(path, init);
    if (response.status === 401 && !options.retried) {
      var reason = (await readError(response)).message;
      if (await hw.askKey(reason)) return hw.api(path, Object.assign({}, options, { retried: true }));
    }
    if (!response.ok) {
      var error = await readError(response);
      if (!options.quiet) hw.showError((options.method || "GET") + " " + path + " → " + error.message);
      throw error;
    }
    if (options.raw) return response;
    var type = response.headers.get("content-type") || "";
    if (response.status === 204) return null;
    return type.indexOf("json") >= 0 ? response.json() : response.text();
  };

  hw.ksql = function (statements, options) {
    return hw.api("/ksql", Object.assign({ method: "POST", body: { ksql: statements, streamsProperties: {} } },
                                         options || {}));
  };

  /* Server-sent events over fetch: handlers.onEvent(name, parsedData); handlers.onEnd(error|null).
   * Returns a function that stops the stream. */
  hw.stream = function (path, handlers, options) {
    options = options || {};
    var controller = new AbortController();
    var stopped = false;
    (async function () {
      var response;
      try {
        response = await hw.api(path, Object.assign({}, options, { raw: true, signal: controller.signal,
                                                                  headers: { Accept: "text/event-stream" } }));
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true });
          var cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, cut), handlers);
            buffer = buffer.slice(cut + 2);
          }
        }
        if (handlers.onEnd) handlers.onEnd(null);
      } catch (error) {
        if (stopped || (error && error.name === "AbortError")) return;
        if (handlers.onEnd) handlers.onEnd(error);
      }
    })();
    return function stop() { stopped = true; controller.abort(); };
  };

  /* A streamed response read line by line (e.g. POST /query-stream's delimited rows):
   * onLine(parsed JSON or text) per line, onEnd(error|null) at the end. Returns stop(). */
  hw.lines = function (path, options, onLine, onEnd) {
    var controller = new AbortController();
    var stopped = false;
    (async function () {
      try {
        var response = await hw.api(path, Object.assign({}, options || {}, { raw: true, signal: controller.signal }));
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        var emit = function (line) {
          if (!line.trim()) return;
          var parsed;
          try { parsed = JSON.parse(line); } catch (e) { parsed = line; }
          onLine(parsed);
        };
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true });
          var cut;
          while ((cut = buffer.indexOf("\n")) >= 0) {
            emit(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 1);
          }
        }
        emit(buffer);
        if (onEnd) onEnd(null);
      } catch (error) {
        if (stopped || (error && error.name === "AbortError")) return;
        if (onEnd) onEnd(error);
      }
    })();
    return function stop() { stopped = true; controller.abort(); };
  };

  function dispatch(block, handlers) {
    var name = "message";
    var data = [];
    block.split("\n").forEach(function (line) {
      if (line.startsWith(":")) return;  // a comment: the server's keep-alive
      var colon = line.indexOf(":");
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    });
    if (!data.length) return;
    var parsed;
    try { parsed = JSON.parse(data.join("\n")); } catch (e) { parsed = data.join("\n"); }
    handlers.onEvent(name, parsed);
  }

  hw.el = function (tag, attrs) {
    var node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function (entry) {
      var name = entry[0], value = entry[1];
      if (value === null || value === undefined || value === false) return;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      (Array.isArray(child) ? child : [child]).forEach(function (c) {
        node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
      });
    }
    return node;
  };

  hw.number = function (value) {
    if (typeof value !== "number") return value === null || value === undefined ? "–" : String(value);
    return Math.abs(value) >= 1000 ? value.toLocaleString("en-US", { maximumFractionDigits: 1 })
                                   : String(Math.round(value * 100) / 100);
  };

  /* A table of rows (arrays) under column names. */
  hw.table = function (columns, rows, numeric) {
    var isNum = numeric || function (i) { return rows.length && typeof rows[0][i] === "number"; };
    return hw.el("table", { class: "hw-table" },
      hw.el("thead", null, hw.el("tr", null, columns.map(function (c, i) {
        return hw.el("th", { class: isNum(i) ? "num" : null, text: c });
      }))),
      hw.el("tbody", null, rows.map(function (row) {
        return hw.el("tr", null, row.map(function (v, i) {
          var text = v !== null && typeof v === "object" ? JSON.stringify(v) : hw.number(v);
          return hw.el("td", { class: isNum(i) ? "num" : null, text: text });
        }));
      })));
  };

  /* Fetch a JSON answer with the key and save it as a file. */
  hw.download = async function (path, filename) {
    var data = await hw.api(path);
    var url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
    var link = hw.el("a", { href: url, download: filename });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  };

  hw.clear = function (node) { while (node.firstChild) node.removeChild(node.firstChild); return node; };

  document.addEventListener("DOMContentLoaded", function () {
    markKey();
    document.getElementById("hw-key-button").addEventListener("click", function () { hw.askKey(""); });
    document.getElementById("hw-key-forget").addEventListener("click", function () {
      sessionStorage.removeItem(KEY);
      markKey();
      document.getElementById("hw-key-dialog").close("");
    });
    document.getElementById("hw-error-close").addEventListener("click", hw.clearError);
    var name = document.body.getAttribute("data-page");
    var page = name && hw.pages[name];
    if (page) {
      Promise.resolve().then(page).catch(function (error) {
        if (!(error instanceof ApiError)) hw.showError(String(error && error.message || error));
      });
    }
  });
})();

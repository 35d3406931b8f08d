/* Helpers of the tool pages (topics, flow, SQL editor, connectors), beside hw.js.
 *
 * hw.jsonView(value)     a <pre> of the value as indented JSON, highlighted with spans (never innerHTML).
 * hw.bytesView(part)     a key/value/header as the topic browser API shows it: JSON highlighted, text, or
 *                        hex with a base64 toggle for binary.
 * hw.bytes(n)            a byte count for people (kB, MB ...).
 * hw.handle(fn)         an event handler running async fn: API errors stay in the banner (hw.api shows them),
 *                        other errors go there too; nothing is left as an unhandled rejection.
 * hw.refresh(fn, ms)     run fn every ms (first in ms) while the tab is visible; returns stop().
 */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var TOKEN = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false)\b|\bnull\b|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

  hw.jsonView = function (value) {
    var text = JSON.stringify(value, null, 2);
    var pre = el("pre", { class: "hw-json" });
    var last = 0;
    text.replace(TOKEN, function (match, str, colon, bool, offset) {
      if (offset > last) pre.appendChild(document.createTextNode(text.slice(last, offset)));
      var cls = str ? (colon ? "hw-json-key" : "hw-json-string")
                    : bool ? "hw-json-bool" : match === "null" ? "hw-json-null" : "hw-json-number";
      pre.appendChild(el("span", { class: cls, text: str && colon ? str : match }));
      if (str && colon) pre.appendChild(document.createTextNode(colon));
      last = offset + match.length;
      return match;
    });
    if (last < text.length) pre.appendChild(document.createTextNode(text.slice(last)));
    return pre;
  };

  hw.bytesView = function (part) {
    if (part === null || part === undefined) return el("span", { class: "hw-json-null", text: "null" });
    if (part.type === "json" && part.json !== null && typeof part.json === "object") return hw.jsonView(part.json);
    if (part.type === "json" || part.type === "text") return el("pre", { text: part.text });
    var pre = el("pre", { class: "hw-mono", text: part.hex.replace(/(..)/g, "$1 ").trim() });
    var showing = "hex";
    var toggle = el("button", { type: "button", class: "hw-link-button", text: "show base64", onclick: function () {
      showing = showing === "hex" ? "base64" : "hex";
      pre.textContent = showing === "hex" ? part.hex.replace(/(..)/g, "$1 ").trim() : part.base64;
      toggle.textContent = showing === "hex" ? "show base64" : "show hex";
    } });
    return el("div", null, el("span", { class: "hw-badge", text: "binary, " + part.size + " bytes" }), " ", toggle, pre);
  };

  hw.bytes = function (n) {
    if (n === null || n === undefined) return "–";
    var units = ["B", "kB", "MB", "GB", "TB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  };

  hw.rate = function (r) { return (r ? hw.number(r) : "0") + "/s"; };

  hw.refresh = function (fn, ms) {
    var timer = null;
    var stopped = false;
    async function tick() {
      if (stopped) return;
      if (!document.hidden) {
        try { await fn(); } catch (e) { /* shown by hw.api's banner; the next tick retries */ }
      }
      if (!stopped) timer = setTimeout(tick, ms);
    }
    timer = setTimeout(tick, ms);
    return function () { stopped = true; clearTimeout(timer); };
  };

  hw.handle = function (fn) {
    return function (event) {
      return Promise.resolve().then(function () { return fn(event); }).catch(function (error) {
        if (!(error instanceof hw.ApiError)) hw.showError(String(error && error.message || error));
      });
    };
  };

  hw.rendered = function () { document.body.setAttribute("data-rendered", "1"); };
})();

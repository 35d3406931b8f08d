/* Headwater tracker: page views and custom events to the collector's /v1/batch (Segment's format).
 *
 * <script src="http://HOST:8088/js/headwater.js" data-write-key="KEY"></script>
 * headwater.track("Signed Up", {plan: "pro"}); headwater.identify("user-1", {email: "a@b.c"});
 * headwater.page();  (sent once on load unless data-auto-page="false")
 *
 * Events are queued and sent in one batch per second (or per 20 events), and on pagehide with
 * sendBeacon. The body goes as text/plain so browsers send it cross-origin without a preflight;
 * the write key travels in the body (writeKey), which the collector accepts like HTTP Basic.
 */
(function (global) {
  "use strict";
  var doc = global.document;
  var script = doc && doc.currentScript;
  var origin = script && script.src ? new URL(script.src, global.location && global.location.href).origin : "";
  var endpoint = (script && script.getAttribute("data-endpoint")) || origin;
  var writeKey = script ? script.getAttribute("data-write-key") : null;
  var queue = [];
  var timer = null;
  var userId = null;
  var FLUSH_MS = 1000;
  var FLUSH_AT = 20;

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  function stored(name, make) {
    var value = null;
    try { value = global.localStorage.getItem(name); } catch (e) { /* storage blocked */ }
    if (!value && make) {
      value = make();
      try { global.localStorage.setItem(name, value); } catch (e) { /* storage blocked */ }
    }
    return value;
  }

  var anonymousId = stored("headwater.anonymousId", uuid);
  userId = stored("headwater.userId", null);

  function context() {
    var ctx = { library: { name: "headwater.js", version: "0.1.0" } };
    if (global.location) {
      ctx.page = { path: global.location.pathname, url: global.location.href,
                   referrer: doc ? doc.referrer : "", title: doc ? doc.title : "", search: global.location.search };
    }
    if (global.navigator) ctx.userAgent = global.navigator.userAgent;
    return ctx;
  }

  function enqueue(event) {
    event.messageId = uuid();
    event.timestamp = new Date().toISOString();
    event.anonymousId = anonymousId;
    if (userId && !event.userId) event.userId = userId;
    event.context = context();
    queue.push(event);
    if (queue.length >= FLUSH_AT) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  function flush(beacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!queue.length) return Promise.resolve();
    var batch = queue;
    queue = [];
    var body = JSON.stringify({ batch: batch, sentAt: new Date().toISOString(), writeKey: writeKey || undefined });
    var url = endpoint + "/v1/batch";
    if (beacon === true && global.navigator && global.navigator.sendBeacon) {
      global.navigator.sendBeacon(url, body);
      return Promise.resolve();
    }
    return global.fetch(url, { method: "POST", body: body, keepalive: true,
                               headers: { "Content-Type": "text/plain" } })
      .then(function (res) {
        if (res.status >= 500 || res.status === 429) retry(batch);
        return res;
      }, function () { retry(batch); });
  }

  function retry(batch) {
    queue = batch.concat(queue);
    if (!timer) timer = setTimeout(flush, FLUSH_MS * 5);
  }

  var api = {
    track: function (event, properties) { enqueue({ type: "track", event: event, properties: properties || {} }); },
    page: function (name, properties) {
      enqueue({ type: "page", name: name || (doc ? doc.title : ""), properties: properties || {} });
    },
    identify: function (id, traits) {
      userId = id;
      try { global.localStorage.setItem("headwater.userId", id); } catch (e) { /* storage blocked */ }
      enqueue({ type: "identify", userId: id, traits: traits || {} });
    },
    flush: flush,
    anonymousId: function () { return anonymousId; }
  };
  global.headwater = api;
  if (global.addEventListener) global.addEventListener("pagehide", function () { flush(true); });
  if (!script || script.getAttribute("data-auto-page") !== "false") api.page();
})(typeof window !== "undefined" ? window : globalThis);

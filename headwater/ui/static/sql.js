/* The SQL editor (/ui/sql, ?q= fills it): statements to /ksql, queries to /query-stream (push rows live, Stop
 * closes them; rows read with hw.lines), errors marked at their line and column (the server's statement_error carries "position"),
 * the tab's history in sessionStorage. */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var HISTORY = "headwater.sqlHistory";
  var MAX_HISTORY = 50;
  var MAX_ROWS = 2000;
  var DELIMITED = "application/vnd.ksqlapi.delimited.v1";

  function history() {
    try { return JSON.parse(sessionStorage.getItem(HISTORY) || "[]"); } catch (e) { return []; }
  }

  /* The statements of a script: [{text, start}] split at semicolons outside quotes and comments. */
  function split(text) {
    var pieces = [];
    var start = 0, i = 0;
    while (i < text.length) {
      var c = text[i];
      if (c === "'" || c === "`" || c === '"') {
        var close = text.indexOf(c, i + 1);
        while (close >= 0 && c === "'" && text[close + 1] === "'") close = text.indexOf(c, close + 2);
        i = close < 0 ? text.length : close + 1;
      } else if (c === "-" && text[i + 1] === "-") {
        var eol = text.indexOf("\n", i);
        i = eol < 0 ? text.length : eol;
      } else if (c === "/" && text[i + 1] === "*") {
        var end = text.indexOf("*/", i + 2);
        i = end < 0 ? text.length : end + 2;
      } else if (c === ";") {
        pieces.push({ text: text.slice(start, i + 1), start: start });
        start = i + 1;
        i++;
      } else {
        i++;
      }
    }
    if (text.slice(start).trim()) pieces.push({ text: text.slice(start), start: start });
    return pieces.filter(function (p) { return p.text.replace(/--[^\n]*/g, "").replace(/;/g, "").trim(); });
  }

  function isQuery(piece) {
    return /^(SELECT|PRINT)\b/i.test(piece.text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "").trim());
  }

  /* Text that puts ``piece`` at its line and column of the whole script, so the server's positions match. */
  function positioned(script, start, text) {
    var before = script.slice(0, start);
    var lines = before.split("\n");
    return "\n".repeat(lines.length - 1) + " ".repeat(lines[lines.length - 1].length) + text;
  }

  hw.pages.sql = async function () {
    var input = document.getElementById("sql-input");
    var gutter = document.getElementById("sql-gutter");
    var results = document.getElementById("sql-results");
    var status = document.getElementById("sql-status");
    var errorBox = document.getElementById("sql-error");
    var runButton = document.getElementById("sql-run");
    var stopButton = document.getElementById("sql-stop");
    var running = null;  // the push query running: {queryId, stop()}
    var badLine = 0;

    function drawGutter() {
      var lines = input.value.split("\n").length;
      hw.clear(gutter);
      for (var i = 1; i <= lines; i++) {
        gutter.appendChild(i === badLine ? el("span", { class: "bad", text: String(i) }) : document.createTextNode(String(i)));
        if (i < lines) gutter.appendChild(document.createTextNode("\n"));
      }
      gutter.scrollTop = input.scrollTop;
    }

    function showError(message, position) {
      errorBox.hidden = false;
      hw.clear(errorBox);
      if (position) {
        badLine = position.line;
        errorBox.appendChild(el("b", { text: "Line " + position.line + ", column " + position.column + ": " }));
        var lines = input.value.split("\n");
        var start = lines.slice(0, position.line - 1).reduce(function (n, l) { return n + l.length + 1; }, 0) + position.column - 1;
        input.focus();
        input.setSelectionRange(start, Math.min(input.value.length, start + 1));
      }
      errorBox.appendChild(document.createTextNode(message));
      drawGutter();
    }

    function clearError() { errorBox.hidden = true; badLine = 0; drawGutter(); }

    function remember(text) {
      var items = history().filter(function (h) { return h !== text; });
      items.unshift(text);
      sessionStorage.setItem(HISTORY, JSON.stringify(items.slice(0, MAX_HISTORY)));
      drawHistory();
    }

    function drawHistory() {
      var list = hw.clear(document.getElementById("sql-history"));
      var items = history();
      if (!items.length) list.appendChild(el("li", { class: "hw-muted", text: "Statements you run in this tab show here." }));
      items.forEach(function (text) {
        list.appendChild(el("li", null, el("button", { type: "button", class: "hw-link-button", title: text, text: text.replace(/\s+/g, " "),
          onclick: function () { input.value = text; clearError(); } })));
      });
    }

    function renderEntity(entity) {
      var type = entity["@type"];
      var box = el("div", { class: "hw-section" });
      var lists = { streams: "streams", tables: "tables", queries: "queries", kafka_topics: "topics",
                    connector_list: "connectors", properties: "properties" };
      box.appendChild(el("h3", { class: "hw-mono", text: entity.statementText || type }));
      var rows = lists[type] && entity[lists[type]];
      if (type === "currentStatus") {
        box.appendChild(el("p", null, el("span", { class: "hw-badge live", text: entity.commandStatus.status }), " ",
                           entity.commandStatus.message));
      } else if (Array.isArray(rows) && rows.length && typeof rows[0] === "object") {
        var columns = Object.keys(rows[0]).filter(function (k) { return k !== "@type"; });
        box.appendChild(hw.table(columns, rows.map(function (r) { return columns.map(function (c) { return r[c]; }); })));
      } else {
        box.appendChild(hw.jsonView(entity));
      }
      return box;
    }

    async function runStatements(script, batch) {
      var first = batch[0], last = batch[batch.length - 1];
      var text = positioned(script, first.start, script.slice(first.start, last.start + last.text.length));
      var entities;
      try {
        entities = await hw.api("/ksql", { method: "POST", quiet: true,
          body: { ksql: text, streamsProperties: { "auto.offset.reset": document.getElementById("sql-offset").value } } });
      } catch (error) {
        ((error.body && error.body.entities) || []).forEach(function (e) { results.appendChild(renderEntity(e)); });
        throw error;
      }
      entities.forEach(function (e) { results.appendChild(renderEntity(e)); });
      status.textContent = entities.length + " statement" + (entities.length === 1 ? "" : "s") + " done.";
    }

    /* A query on /query-stream (hw.lines reads its delimited lines): the header makes the table, each row is
     * appended as it arrives. Resolves when the query ends or is stopped. */
    function runQuery(text) {
      var tbody = null;
      var count = 0;
      stopButton.disabled = false;
      status.textContent = "Running…";
      function rowsText(suffix) { return count + " row" + (count === 1 ? "" : "s") + suffix; }
      function table(columns, types) {
        tbody = el("tbody");
        results.appendChild(el("table", { class: "hw-table", id: "sql-result-table" },
          el("thead", null, el("tr", null, columns.map(function (c, i) {
            var numeric = /^(INT|INTEGER|BIGINT|DOUBLE|DECIMAL)/.test(types[i] || "");
            return el("th", { class: numeric ? "num" : null, text: c, title: types[i] || "" });
          }))), tbody));
      }
      function line(item) {
        if (item !== null && typeof item === "object" && !Array.isArray(item) && item.queryId !== undefined) {
          if (running) running.queryId = item.queryId;
          table(item.columnNames, item.columnTypes);
          return;
        }
        if (item !== null && typeof item === "object" && !Array.isArray(item)) {
          showError(item.message || JSON.stringify(item));
          return;
        }
        var cells = Array.isArray(item) ? item : [item];  // PRINT's lines are text
        if (!tbody) table(["line"], []);
        count++;
        tbody.appendChild(el("tr", null, cells.map(function (v) {
          var shown = v !== null && typeof v === "object" ? JSON.stringify(v) : v === null ? "null" : String(v);
          return el("td", { class: typeof v === "number" ? "num" : null, text: shown });
        })));
        while (tbody.childNodes.length > MAX_ROWS) tbody.removeChild(tbody.firstChild);
        status.textContent = rowsText(running ? " (running…)" : "");
      }
      return new Promise(function (resolve, reject) {
        var stopLines = hw.lines("/query-stream", { method: "POST", quiet: true, headers: { Accept: DELIMITED },
          body: { sql: text, properties: { "auto.offset.reset": document.getElementById("sql-offset").value } } },
          line, function (error) {
            if (error) { reject(error); return; }
            status.textContent = rowsText(", done.");
            resolve();
          });
        running = { queryId: null, stop: function () {
          stopLines();
          status.textContent = rowsText(", stopped.");
          resolve();
        } };
      });
    }

    async function stop() {
      if (!running) return;
      var current = running;
      running = null;
      stopButton.disabled = true;
      if (current.queryId) {
        try { await hw.api("/close-query", { method: "POST", quiet: true, body: { queryId: current.queryId } }); } catch (e) { /* already ended */ }
      }
      current.stop();
    }

    /* Statements go to /ksql in runs; a SELECT or PRINT (the last statement only) to /query-stream. */
    async function run() {
      var script = input.value;
      if (!script.trim()) return;
      await stop();
      clearError();
      remember(script.trim());
      runButton.disabled = true;
      hw.clear(results);
      try {
        var pieces = split(script);
        var batch = [];
        for (var i = 0; i < pieces.length; i++) {
          if (!isQuery(pieces[i])) {
            batch.push(pieces[i]);
            continue;
          }
          if (i !== pieces.length - 1) {
            var at = positioned(script, pieces[i].start, "").split("\n");
            throw { body: { message: "Only the last statement of a script may be a query (SELECT or PRINT): it runs until stopped.",
                            position: { line: at.length, column: at[at.length - 1].length + 1 } } };
          }
          if (batch.length) await runStatements(script, batch);
          batch = [];
          await runQuery(positioned(script, pieces[i].start, pieces[i].text));
        }
        if (batch.length) await runStatements(script, batch);
      } catch (error) {
        var body = error && error.body;
        showError(body && body.message ? body.message : String(error && error.message || error), body && body.position);
        status.textContent = "";
      } finally {
        runButton.disabled = false;
        running = null;
        stopButton.disabled = true;
      }
    }

    input.value = document.body.getAttribute("data-prefill") || "";
    input.addEventListener("input", function () { if (badLine) { badLine = 0; } drawGutter(); });
    input.addEventListener("scroll", function () { gutter.scrollTop = input.scrollTop; });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        run();
      }
    });
    runButton.addEventListener("click", run);
    stopButton.addEventListener("click", stop);
    document.getElementById("sql-history-clear").addEventListener("click", function () {
      sessionStorage.removeItem(HISTORY);
      drawHistory();
    });
    drawGutter();
    drawHistory();
    hw.rendered();
  };
})();

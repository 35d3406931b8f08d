/* One dashboard: its panels, live ones fed by server-sent events, pull ones re-run every refresh.
 *
 * A live panel keeps the latest row per key (the header event names the key columns: a table's key and
 * window), so a table's changelog folds into its current contents, as a pull query would show them.
 */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var RANGES = { s: 1000, m: 60000, h: 3600000, d: 86400000 };
  var MAX_UNKEYED_ROWS = 5000;
  var RETRY_MS = 5000;
  var DRAW_EVERY_MS = 500;

  function rangeMs(text) {
    var m = /^(\d+)([smhd])$/.exec(text || "");
    return m ? Number(m[1]) * RANGES[m[2]] : 0;
  }

  function Panel(dashboardId, spec, controls) {
    this.spec = spec;
    this.controls = controls;
    this.base = "/dashboards/" + encodeURIComponent(dashboardId) + "/panels/" + encodeURIComponent(spec.id);
    this.columns = [];
    this.keyIndexes = [];
    this.rows = new Map();
    this.unkeyed = [];
    this.drawTimer = null;
    this.live = /\bEMIT\s+CHANGES\b/i.test(spec.query);
    this.build();
  }

  Panel.prototype.build = function () {
    var spec = this.spec;
    var self = this;
    this.badge = el("span", { class: this.live ? "hw-badge live" : "hw-badge", text: this.live ? "live" : "pull" });
    this.status = el("span", { class: "hw-muted hw-panel-status" });
    this.queryBox = el("div", { class: "hw-panel-query", hidden: true },
      el("pre", { text: spec.query }),
      el("a", { href: "/ui/sql?q=" + encodeURIComponent(spec.query), text: "Open in the SQL editor →" }));
    this.target = el("div", { class: hwCharts.usesCanvas(spec) ? "hw-panel-chart" : spec.type === "stat" ? "hw-panel-stat" : "" });
    this.message = el("p", { class: "hw-muted", hidden: true });
    this.node = el("section", { class: "hw-panel", "data-panel": spec.id, "data-type": spec.type,
                                style: "grid-column: span " + spec.width },
      el("div", { class: "hw-panel-head" },
        el("h3", { text: spec.title }), this.badge,
        el("button", { type: "button", class: "hw-link-button", text: "Query", title: "Show the SQL of this panel",
                       onclick: function () { self.queryBox.hidden = !self.queryBox.hidden; } })),
      this.queryBox, this.message,
      el("div", { class: "hw-panel-body" }, this.target),
      this.status);
  };

  Panel.prototype.problem = function (text) {
    this.message.hidden = !text;
    this.message.textContent = text || "";
    this.message.className = text ? "hw-badge bad" : "hw-muted";
  };

  Panel.prototype.allRows = function () {
    return this.keyIndexes.length ? Array.from(this.rows.values()) : this.unkeyed;
  };

  Panel.prototype.draw = function () {
    this.drawTimer = null;
    if (!this.columns.length) return;
    try {
      var summary = hwCharts.render(this.spec, this.target, this.columns, this.allRows(), this.controls.rangeMs());
      this.node.setAttribute("data-rows", String(summary.rows));
      if (summary.value !== undefined) this.node.setAttribute("data-value", String(summary.value));
      this.node.setAttribute("data-updated", String(Date.now()));
      this.status.textContent = summary.rows + " rows · updated " + new Date().toLocaleTimeString();
    } catch (error) {
      this.problem(String(error.message || error));
    }
  };

  Panel.prototype.scheduleDraw = function () {
    var self = this;
    if (this.drawTimer === null) this.drawTimer = setTimeout(function () { self.draw(); }, DRAW_EVERY_MS);
  };

  Panel.prototype.upsert = function (row) {
    if (!this.keyIndexes.length) {
      this.unkeyed.push(row);
      if (this.unkeyed.length > MAX_UNKEYED_ROWS) this.unkeyed.splice(0, this.unkeyed.length - MAX_UNKEYED_ROWS);
      return;
    }
    var key = JSON.stringify(this.keyIndexes.map(function (i) { return row[i]; }));
    this.rows.set(key, row);
  };

  /* Live data: the dashboard's stream hands each panel its query's header, rows and errors. */
  Panel.prototype.header = function (columns, key) {
    this.columns = columns;
    this.keyIndexes = (key || []).map(function (k) { return columns.indexOf(k); });
    this.rows = new Map();
    this.unkeyed = [];
    this.problem("");
    this.badge.textContent = "live";
    this.badge.className = "hw-badge live";
    this.scheduleDraw();
  };

  Panel.prototype.addRows = function (rows) {
    for (var i = 0; i < rows.length; i++) this.upsert(rows[i]);
    this.scheduleDraw();
  };

  Panel.prototype.interrupted = function (text) {
    this.badge.textContent = "reconnecting";
    this.badge.className = "hw-badge warn";
    if (text) this.problem(text);
  };

  Panel.prototype.pull = async function () {
    try {
      var answer = await hw.api(this.base + "/data", { quiet: true });
      this.columns = answer.columns;
      this.keyIndexes = [];
      this.unkeyed = answer.rows;
      this.problem(answer.truncated ? "Only the first " + answer.rows.length + " rows are shown." : "");
      this.draw();
    } catch (error) {
      this.problem(String(error.message || error));
    }
  };

  /* One stream for every live panel; reconnects after RETRY_MS when it ends or fails. */
  function follow(board, panels) {
    var byQuery = {};
    var live = panels.filter(function (p) { return p.live; });
    if (!live.length) return function () {};
    var stop = null;
    var retry = null;
    var find = function (id) { return panels.find(function (p) { return p.spec.id === id; }); };
    function start() {
      stop = hw.stream("/dashboards/" + encodeURIComponent(board.id) + "/stream", {
        onEvent: function (name, data) {
          if (name === "header") {
            byQuery[data.query] = data.panels.map(find);
            byQuery[data.query].forEach(function (p) { p.header(data.columns, data.key); });
          } else if (name === "rows") {
            (byQuery[data.query] || []).forEach(function (p) { p.addRows(data.rows); });
          } else if (name === "error" || name === "end") {
            var affected = data.panels ? data.panels.map(find) : byQuery[data.query] || [];
            affected.forEach(function (p) { p.interrupted(name === "error" ? data.message : ""); });
          }
        },
        onEnd: function (error) {
          live.forEach(function (p) {
            p.interrupted(error && !(error instanceof hw.ApiError && error.status === 401) ? String(error.message || error) : "");
          });
          retry = setTimeout(start, RETRY_MS);
        }
      }, { quiet: true });
    }
    start();
    return function () { clearTimeout(retry); if (stop) stop(); };
  }

  Panel.prototype.refresh = function () {
    if (this.live) this.draw(); else this.pull();
  };

  function Controls(board) {
    var range = document.getElementById("time-range");
    var refresh = document.getElementById("refresh");
    if (!Array.prototype.some.call(range.options, function (o) { return o.value === board.time_range; })) {
      range.appendChild(el("option", { value: board.time_range, text: "last " + board.time_range }));
    }
    range.value = board.time_range;
    var seconds = String(Math.round(board.refresh_s));
    if (!Array.prototype.some.call(refresh.options, function (o) { return o.value === seconds; })) {
      refresh.appendChild(el("option", { value: seconds, text: seconds + " s" }));
    }
    refresh.value = seconds;
    this.range = range;
    this.refresh = refresh;
  }
  Controls.prototype.rangeMs = function () { return this.range.value === "all" ? 0 : rangeMs(this.range.value); };

  hw.pages.dashboard = async function () {
    var id = document.body.getAttribute("data-dashboard");
    var board = await hw.api("/dashboards/" + encodeURIComponent(id));
    document.title = board.title + " · Headwater";
    document.getElementById("dashboard-title").textContent = board.title;
    document.getElementById("dashboard-description").textContent = board.description;
    var controls = new Controls(board);
    var grid = document.getElementById("panels");
    var panels = board.panels.map(function (spec) { return new Panel(board.id, spec, controls); });
    panels.forEach(function (p) { grid.appendChild(p.node); if (!p.live) p.pull(); });
    var stopLive = follow(board, panels);
    if (!panels.length) grid.appendChild(el("p", { class: "hw-muted", text: "This dashboard has no panel yet." }));

    var timer = null;
    function every() {
      if (timer) clearInterval(timer);
      var seconds = Number(controls.refresh.value);
      if (seconds > 0) timer = setInterval(function () { panels.forEach(function (p) { p.refresh(); }); }, seconds * 1000);
    }
    controls.refresh.addEventListener("change", every);
    controls.range.addEventListener("change", function () { panels.forEach(function (p) { p.draw(); }); });
    document.getElementById("refresh-now").addEventListener("click", function () { panels.forEach(function (p) { p.refresh(); }); });
    document.getElementById("grafana").addEventListener("click", function () {
      hw.download("/dashboards/" + encodeURIComponent(board.id) + "/grafana", board.id + ".grafana.json");
    });
    window.addEventListener("pagehide", stopLive);
    every();
    document.getElementById("dashboard-status").textContent = panels.filter(function (p) { return p.live; }).length +
      " live panels, " + panels.filter(function (p) { return !p.live; }).length + " pull panels";
    document.body.setAttribute("data-rendered", "1");
  };
})();

/* The flow view: /ui/flow (the graph, ECharts' graph series) and /ui/flow/{kind}/{name} (one node's details). */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var enc = encodeURIComponent;
  var COLORS = { connector: "#8250df", topic: "#6e7781", stream: "#1f6feb", table: "#1a7f37", query: "#bc4c00" };
  var SYMBOLS = { connector: "diamond", topic: "rect", stream: "roundRect", table: "roundRect", query: "circle" };
  var ORDER = ["connector", "topic", "stream", "table", "query"];
  var NAMES = new Intl.Collator("en", { numeric: true });

  function nodeHref(node) { return "/ui/flow/" + node.kind + "/" + enc(node.name); }

  /* Columns by longest path from the nodes nothing flows into; rows ordered by their inputs' rows. */
  function layout(graph) {
    var rank = {};
    graph.nodes.forEach(function (n) { rank[n.id] = 0; });
    for (var i = 0; i < graph.nodes.length; i++) {
      var moved = false;
      graph.edges.forEach(function (e) {
        if (rank[e.source] !== undefined && rank[e.target] !== undefined && rank[e.target] < rank[e.source] + 1) {
          rank[e.target] = rank[e.source] + 1;
          moved = true;
        }
      });
      if (!moved) break;
    }
    var inputs = {};
    graph.edges.forEach(function (e) { (inputs[e.target] = inputs[e.target] || []).push(e.source); });
    var columns = {};
    graph.nodes.forEach(function (n) { (columns[rank[n.id]] = columns[rank[n.id]] || []).push(n); });
    var row = {};
    var pos = {};
    var tallest = Math.max.apply(null, Object.values(columns).map(function (c) { return c.length; }).concat([1]));
    var step = tallest > 12 ? 34 : 70;
    Object.keys(columns).map(Number).sort(function (a, b) { return a - b; }).forEach(function (r) {
      var column = columns[r];
      column.forEach(function (n) {
        var ins = (inputs[n.id] || []).filter(function (s) { return row[s] !== undefined; });
        n.order = ins.length ? ins.reduce(function (s, id) { return s + row[id]; }, 0) / ins.length : Infinity;
      });
      column.sort(function (a, b) { return a.order - b.order || NAMES.compare(a.name, b.name); });
      var offset = (tallest - column.length) / 2;  // short columns sit in the middle of the tallest
      column.forEach(function (n, index) {
        row[n.id] = index + offset;
        pos[n.id] = { x: r * 240, y: (index + offset) * step };
      });
    });
    pos.height = (tallest - 1) * step;
    return pos;
  }

  /* The graph keeps its laid-out spacing (ECharts would stretch a small graph over the whole chart). */
  function option(graph, box, chart) {
    var pos = layout(graph);
    var spanY = pos.height;
    delete pos.height;
    var xs = Object.values(pos).map(function (p) { return p.x; });
    var spanX = xs.length ? Math.max.apply(null, xs) : 0;
    var wanted = Math.max(480, Math.min(3000, spanY + 120)) + "px";  // a tall graph makes the chart taller
    if (box.style.height !== wanted) {
      box.style.height = wanted;
      if (chart) chart.resize();
    }
    var maxRate = graph.edges.reduce(function (m, e) { return Math.max(m, e.rate || 0); }, 0) || 1;
    return {
      animation: false,
      tooltip: { formatter: function (p) {
        if (p.dataType === "edge") return hw.rate(p.data.rate);
        var n = p.data.node;
        return n.kind + " " + n.name + (n.status ? " (" + n.status + ")" : "") + "<br>" + hw.rate(n.rate);
      } },
      series: [{
        type: "graph", layout: "none", roam: true, left: "center", top: "middle",
        width: Math.max(1, Math.min(box.clientWidth - 140, spanX)), height: Math.max(1, Math.min(box.clientHeight - 80, spanY)), draggable: false, edgeSymbol: ["none", "arrow"], edgeSymbolSize: 7,
        label: { show: true, position: "bottom", fontSize: 11, formatter: function (p) { return p.data.node.name; } },
        edgeLabel: { show: false, fontSize: 11, color: "#1d2330", formatter: function (p) { return hw.rate(p.data.rate); } },
        data: graph.nodes.map(function (n) {
          return { name: n.id, x: pos[n.id].x, y: pos[n.id].y, node: n, symbol: SYMBOLS[n.kind], symbolSize: n.kind === "query" ? 22 : 18,
                   itemStyle: { color: n.status === "ERROR" || n.status === "FAILED" ? "#cf222e" : COLORS[n.kind] } };
        }),
        links: graph.edges.map(function (e) {
          return { source: e.source, target: e.target, rate: e.rate, label: { show: !!e.rate },  // idle edges: no label
                   lineStyle: { opacity: 0.85, width: 1 + 4 * Math.sqrt((e.rate || 0) / maxRate), color: e.rate ? "#1f6feb" : "#9aa3b0", curveness: 0.05 } };
        }),
      }],
    };
  }

  function nodeTable(graph) {
    var nodes = graph.nodes.slice().sort(function (a, b) {
      return ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || NAMES.compare(a.name, b.name);
    });
    return el("table", { class: "hw-table", id: "flow-node-table" },
      el("thead", null, el("tr", null, el("th", { text: "Kind" }), el("th", { text: "Name" }), el("th", { text: "Status" }),
                          el("th", { class: "num", text: "Rate" }))),
      el("tbody", null, nodes.map(function (n) {
        return el("tr", null, el("td", null, el("span", { class: "hw-dot", style: "background:" + COLORS[n.kind] }), n.kind),
          el("td", null, el("a", { href: nodeHref(n), text: n.name })),
          el("td", { class: "hw-state-" + n.status, text: n.status || "" }),
          el("td", { class: "num", text: hw.rate(n.rate) }));
      })));
  }

  hw.pages.flow = async function () {
    var legend = document.getElementById("flow-legend");
    ORDER.forEach(function (kind) {
      legend.appendChild(el("span", null, el("span", { class: "hw-dot", style: "background:" + COLORS[kind] }), kind === "query" ? "queries" : kind + "s"));
    });
    var box = document.getElementById("flow-chart");
    var chart = null;  // made after the first answer sized the box: one render, not two
    async function load() {
      var graph = await hw.api("/ui/api/flow");
      var next = option(graph, box, chart);
      if (!chart) {
        chart = echarts.init(box);
        window.addEventListener("resize", function () { chart.resize(); });
        chart.on("click", function (p) {
          if (p.dataType === "node") window.location.href = nodeHref(p.data.node);
        });
      }
      chart.setOption(next, { replaceMerge: ["series"] });
      var list = hw.clear(document.getElementById("flow-nodes"));
      list.appendChild(graph.nodes.length ? nodeTable(graph)
        : el("p", { class: "hw-muted" }, "Nothing flows yet. ", el("a", { href: "/ui/sql", text: "Create a stream in the SQL editor" }),
             " or ", el("a", { href: "/ui/connectors", text: "start a connector" }), "."));
    }
    await load();
    hw.rendered();
    hw.refresh(load, 5000);
  };

  function stat(label, value) {
    return el("div", { class: "hw-card" }, el("div", { class: "hw-muted", text: label }), el("div", { class: "hw-stat", text: value }));
  }

  function link(kind, name) { return el("a", { href: "/ui/flow/" + kind + "/" + enc(name), text: name }); }

  function facts(pairs) {
    var dl = hw.clear(document.getElementById("node-facts"));
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || (Array.isArray(p[1]) && !p[1].length)) return;
      dl.append(el("dt", { text: p[0] }), el("dd", null, p[1]));
    });
  }

  function statement(text, editorText) {
    var section = document.getElementById("node-statement-section");
    section.hidden = !text;
    if (!text) return;
    hw.clear(document.getElementById("node-statement")).append(
      el("pre", { class: "hw-mono", text: text }),
      el("a", { href: "/ui/sql?q=" + enc(editorText || text), text: "Open in the SQL editor →" }));
  }

  function processingLog(entries) {
    var more = hw.clear(document.getElementById("node-more"));
    more.appendChild(el("h2", { text: "Processing log (newest first)" }));
    if (!entries.length) {
      more.appendChild(el("p", { class: "hw-muted", text: "No entry: every record this query read was processed." }));
      return;
    }
    more.appendChild(hw.table(["Time", "Where", "Error"], entries.map(function (e) {
      var body = e.message || {};
      var detail = body.deserializationError || body.recordProcessingError || body.serializationError || body.productionError || {};
      var where = detail.topic !== undefined ? detail.topic + "/" + detail.partition + "@" + detail.offset : "";
      return [new Date(e.time).toISOString(), where, detail.errorMessage || JSON.stringify(body)];
    }), function () { return false; }));
  }

  var RENDER = {
    query: function (d) {
      hw.clear(document.getElementById("node-stats")).append(stat("Records in", hw.number(d.records_in)),
        stat("Records out", hw.number(d.records_out)), stat("Failed records", hw.number(d.failed_records)),
        stat("Late records", hw.number(d.late_records)), stat("Lag", hw.number(d.lag)),
        stat("Rate in / out", hw.rate(d.rate_in) + " / " + hw.rate(d.rate_out)));
      facts([["Reads", d.reads.map(function (s) { return el("span", null, link(s.kind, s.name), " "); })],
             ["Writes", link(d.sink_kind, d.sink)],
             ["Sink topic", link("topic", d.sink_topic)],
             ["Error", d.error ? el("span", { class: "hw-state-ERROR", text: d.error.errorMessage }) : null]]);
      statement(d.statement);
      processingLog(d.processing_log);
    },
    stream: function (d) { source(d); },
    table: function (d) { source(d); },
    connector: function (d) {
      hw.clear(document.getElementById("node-stats")).append(stat("Tasks", String(d.tasks.length)),
        stat("Type", d.type || "–"));
      facts([["Class", d.class], ["Topics", d.topics.map(function (t) { return el("span", null, link("topic", t), " "); })],
             ["Manage", el("a", { href: "/ui/connectors/" + enc(d.name), text: "on the connectors page →" })]]);
      var more = hw.clear(document.getElementById("node-more"));
      if (d.trace) more.append(el("h2", { text: "Failure trace" }), el("pre", { text: d.trace }));
      more.append(el("h2", { text: "Config" }), hw.jsonView(d.config));
    },
    topic: function (d) {
      hw.clear(document.getElementById("node-stats")).append(stat("Partitions", String(d.partitions.length)),
        stat("Rate (last minute)", hw.rate(d.rate)));
      facts([["Streams and tables", d.sources.map(function (s) { return el("span", null, s, " "); })],
             ["Messages", el("a", { href: "/ui/topics/" + enc(d.name), text: "in the topic browser →" })]]);
      hw.clear(document.getElementById("node-more")).appendChild(hw.table(["Partition", "Start offset", "End offset"],
        d.partitions.map(function (p) { return [p.partition, p.beginning_offset, p.end_offset]; })));
    },
  };

  function source(d) {
    hw.clear(document.getElementById("node-stats")).append(stat("Rate (last minute)", hw.rate(d.rate)),
      stat("Formats", d.key_format + " / " + d.value_format));
    facts([["Topic", link("topic", d.topic)], ["Read by", d.read_by.map(function (q) { return el("span", null, link("query", q), " "); })],
           ["Written by", d.written_by.map(function (q) { return el("span", null, link("query", q), " "); })],
           ["Timestamp", d.timestamp], ["Windowed", d.windowed ? "yes" : null]]);
    statement(d.statement, "SELECT * FROM " + d.name + " EMIT CHANGES LIMIT 20;");
    hw.clear(document.getElementById("node-more")).append(el("h2", { text: "Columns" }),
      hw.table(["Column", "Type", ""], d.columns.map(function (c) {
        return [c.name, c.type, c.namespace === "VALUE" ? "" : c.namespace];
      }), function () { return false; }));
  }

  hw.pages["flow-node"] = async function () {
    var kind = document.body.getAttribute("data-kind");
    var name = document.body.getAttribute("data-name");
    async function load() {
      var d = await hw.api("/ui/api/flow/" + enc(kind) + "/" + enc(name));
      var status = hw.clear(document.getElementById("node-status"));
      if (d.status) status.appendChild(el("span", { class: "hw-badge " + (d.status === "RUNNING" ? "live" : "bad"), text: d.status }));
      RENDER[kind](d);
    }
    await load();
    hw.rendered();
    hw.refresh(load, 5000);
  };
})();

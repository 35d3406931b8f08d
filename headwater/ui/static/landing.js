/* The landing page: counts and lists from /ui/api/overview and /dashboards, refreshed every 5 s. */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var SHOWN = 12;

  function set(id, text) { document.getElementById(id).textContent = text; }

  function more(list, href, what) {
    return list.length > SHOWN ? el("p", null, el("a", { href: href, text: "All " + list.length + " " + what + " →" })) : null;
  }

  function empty(text, href, action) {
    return el("p", { class: "hw-muted" }, text + " ", href ? el("a", { href: href, text: action }) : null);
  }

  /* "RUNNING", or a connector's "RUNNING (1/1 tasks RUNNING)": running when every task is. */
  function running(state) {
    var tasks = /\((\d+)\/(\d+) tasks RUNNING\)/.exec(state || "");
    return /^RUNNING/.test(state || "") && (!tasks || tasks[1] === tasks[2]);
  }

  function stateBadge(state) {
    var cls = running(state) ? "hw-badge live" : /^(FAILED|ERROR)/.test(state) ? "hw-badge bad" : "hw-badge warn";
    return el("span", { class: cls, text: state });
  }

  function render(data, dashboards) {
    var records = data.topics.reduce(function (sum, t) { return sum + t.records; }, 0);
    set("count-topics", hw.number(data.topics.length));
    set("count-records", hw.number(records) + " records held");
    set("count-sources", hw.number(data.streams.length + data.tables.length));
    set("count-sources-detail", data.streams.length + " streams, " + data.tables.length + " tables");
    var queriesRunning = data.queries.filter(function (q) { return running(q.state); }).length;
    var notRunning = data.queries.length - queriesRunning;
    set("count-queries", hw.number(data.queries.length));
    set("count-queries-detail", queriesRunning + " running" + (notRunning ? ", " + notRunning + " not" : ""));
    set("count-connectors", hw.number(data.connectors.length));
    var connectorsRunning = data.connectors.filter(function (c) { return running(c.state); }).length;
    set("count-connectors-detail", connectorsRunning + " running");
    set("count-dashboards", hw.number(dashboards.length));

    var queries = hw.clear(document.getElementById("queries"));
    if (!data.queries.length) {
      queries.appendChild(empty("No persistent query runs yet.", "/ui/sql", "Write one in the SQL editor →"));
    } else {
      queries.appendChild(el("table", { class: "hw-table" },
        el("thead", null, el("tr", null, el("th", { text: "Query" }), el("th", { text: "Writes" }), el("th", { text: "State" }))),
        el("tbody", null, data.queries.slice(0, SHOWN).map(function (q) {
          return el("tr", null,
            el("td", null, el("a", { href: "/ui/flow/query/" + encodeURIComponent(q.id), text: q.id, title: q.statement })),
            el("td", null, q.sinks.map(function (s) { return el("a", { href: "/ui/flow/source/" + encodeURIComponent(s), text: s + " " }); })),
            el("td", null, stateBadge(q.state), q.errors ? el("span", { class: "hw-badge bad", text: q.errors + " errors" }) : null));
        }))));
      queries.appendChild(more(data.queries, "/ui/flow", "queries") || el("span"));
    }

    var flows = hw.clear(document.getElementById("flows"));
    if (!data.queries.length) {
      flows.appendChild(empty("Nothing flows yet: create a stream over a topic and a query over it.", "/ui/sql", "Open the SQL editor →"));
    } else {
      var source = function (name) { return el("a", { href: "/ui/flow/source/" + encodeURIComponent(name), text: name }); };
      flows.appendChild(el("ul", { class: "hw-flows" }, data.queries.slice(0, SHOWN).map(function (q) {
        var inputs = [];
        q.sources.forEach(function (s, i) { if (i) inputs.push(" + "); inputs.push(source(s)); });
        return el("li", null, inputs, " → ", el("a", { href: "/ui/flow/query/" + encodeURIComponent(q.id), class: "hw-muted", text: q.id }),
                  " → ", q.sinks.map(source));
      })));
      flows.appendChild(more(data.queries, "/ui/flow", "flows") || el("span"));
    }

    var connectors = hw.clear(document.getElementById("connectors"));
    if (!data.connectors.length) {
      connectors.appendChild(empty("No connector runs.", "/ui/connectors", "Create one →"));
    } else {
      connectors.appendChild(el("table", { class: "hw-table" },
        el("thead", null, el("tr", null, el("th", { text: "Connector" }), el("th", { text: "Type" }), el("th", { text: "State" }))),
        el("tbody", null, data.connectors.slice(0, SHOWN).map(function (c) {
          return el("tr", null,
            el("td", null, el("a", { href: "/ui/connectors/" + encodeURIComponent(c.name), text: c.name })),
            el("td", { text: (c.type || "").toLowerCase() }),
            el("td", null, stateBadge(c.state || "UNKNOWN")));
        }))));
      connectors.appendChild(more(data.connectors, "/ui/connectors", "connectors") || el("span"));
    }

    var topics = hw.clear(document.getElementById("topics"));
    if (!data.topics.length) {
      topics.appendChild(empty("No topic yet: send events to /v1/track, start a connector, or run `headwater demo`.", null, null));
    } else {
      var busiest = data.topics.slice().sort(function (a, b) { return b.records - a.records; }).slice(0, SHOWN);
      topics.appendChild(el("table", { class: "hw-table" },
        el("thead", null, el("tr", null, el("th", { text: "Topic" }), el("th", { class: "num", text: "Partitions" }), el("th", { class: "num", text: "Records" }))),
        el("tbody", null, busiest.map(function (t) {
          return el("tr", null,
            el("td", null, el("a", { href: "/ui/topics/" + encodeURIComponent(t.name), text: t.name })),
            el("td", { class: "num", text: String(t.partitions) }),
            el("td", { class: "num", text: hw.number(t.records) }));
        }))));
      topics.appendChild(more(data.topics, "/ui/topics", "topics") || el("span"));
    }

    var boards = hw.clear(document.getElementById("dashboards"));
    if (!dashboards.length) {
      boards.appendChild(empty("No dashboard yet.", "/ui/dashboards", "About dashboards →"));
    } else {
      boards.appendChild(el("ul", null, dashboards.map(function (d) {
        return el("li", null, el("a", { href: "/ui/dashboards/" + encodeURIComponent(d.id), text: d.title }),
                  " ", el("span", { class: "hw-muted", text: d.description || "" }));
      })));
    }
  }

  async function refresh() {
    var both = await Promise.all([hw.api("/ui/api/overview"), hw.api("/dashboards")]);
    render(both[0], both[1].dashboards);
    document.body.setAttribute("data-rendered", "1");
  }

  hw.pages.landing = async function () {
    await refresh();
    setInterval(function () { refresh().catch(function () {}); }, 5000);
  };
})();

/* The dashboards list: one card per dashboard, with its source and a Grafana download. */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };

  hw.pages.dashboards = async function () {
    var answer = await hw.api("/dashboards");
    var list = hw.clear(document.getElementById("dashboard-list"));
    if (!answer.dashboards.length) {
      list.appendChild(el("p", { class: "hw-muted", text: "No dashboard yet." }));
    }
    answer.dashboards.forEach(function (d) {
      list.appendChild(el("div", { class: "hw-card" },
        el("h3", null, el("a", { href: "/ui/dashboards/" + encodeURIComponent(d.id), text: d.title })),
        el("p", { class: "hw-muted", text: d.description || "" }),
        el("span", { class: "hw-badge", text: d.source }), " ",
        el("span", { class: "hw-badge", text: d.panels + " panels" }), " ",
        el("button", { type: "button", class: "hw-link-button", text: "Grafana JSON",
                       title: "Download this dashboard as a Grafana dashboard over Prometheus (/metrics)",
                       onclick: function () { hw.download("/dashboards/" + encodeURIComponent(d.id) + "/grafana",
                                                          d.id + ".grafana.json"); } })));
    });
    var problems = hw.clear(document.getElementById("dashboard-problems"));
    if (answer.problems.length) {
      problems.appendChild(el("h2", { text: "Files that did not load" }));
      problems.appendChild(el("ul", null, answer.problems.map(function (p) { return el("li", { class: "hw-mono", text: p.error }); })));
    }
    document.body.setAttribute("data-rendered", "1");
  };
})();

/* The connectors pages: /ui/connectors (list with state and tasks, actions, create from a form or JSON) and
 * /ui/connectors/{name} (status, tasks, failure traces, config, actions). All through Connect's REST API. */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var enc = encodeURIComponent;

  /* The last line of a trace: the exception and its message (the first line is "Traceback ..."). */
  function lastLine(trace) {
    var lines = trace.trim().split("\n");
    return lines[lines.length - 1];
  }

  function stateBadge(state) {
    var cls = state === "RUNNING" ? "hw-badge live" : state === "FAILED" ? "hw-badge bad" : "hw-badge warn";
    return el("span", { class: cls, text: state });
  }

  /* Buttons acting on one connector; ``done`` runs after each action (a reload, or leaving the page). */
  function actions(name, state, done) {
    function act(label, method, path, confirmText) {
      return el("button", { type: "button", "data-action": label.toLowerCase(), text: label, onclick: hw.handle(async function () {
        if (confirmText && !window.confirm(confirmText)) return;
        await hw.api("/connectors/" + enc(name) + path, { method: method });
        await done(label);
      }) });
    }
    return [state === "PAUSED" ? act("Resume", "PUT", "/resume") : act("Pause", "PUT", "/pause"),
            act("Restart", "POST", "/restart?includeTasks=true"),
            act("Delete", "DELETE", "", "Delete connector " + name + "?")];
  }

  hw.pages.connectors = async function () {
    var classSelect = document.getElementById("connector-class");
    var configBox = document.getElementById("connector-config");

    async function load() {
      var all = await hw.api("/connectors?expand=status&expand=info");
      var names = Object.keys(all).sort();
      var box = hw.clear(document.getElementById("connector-list"));
      if (!names.length) {
        box.appendChild(el("p", { class: "hw-muted", text: "No connector yet: create one below." }));
        return;
      }
      box.appendChild(el("table", { class: "hw-table", id: "connector-table" },
        el("thead", null, el("tr", null, ["Name", "Type", "Class", "State", "Tasks", ""].map(function (h) { return el("th", { text: h }); }))),
        el("tbody", null, names.map(function (name) {
          var s = all[name].status, info = all[name].info;
          return el("tr", { "data-connector": name },
            el("td", null, el("a", { href: "/ui/connectors/" + enc(name), text: name })),
            el("td", { text: s.type || "" }),
            el("td", { class: "hw-mono", text: info.config["connector.class"] || "" }),
            el("td", null, stateBadge(s.connector.state), (s.connector.trace || s.tasks.some(function (t) { return t.trace; }))
              ? el("a", { href: "/ui/connectors/" + enc(name), text: " trace" }) : null),
            el("td", null, s.tasks.map(function (t) { return el("span", null, stateBadge(t.state), " "); })),
            el("td", null, actions(name, s.connector.state, load)));
        }))));
    }

    function keyRow(key, value, placeholder) {
      var row = el("div", { class: "hw-kv-row" },
        el("input", { type: "text", class: "cfg-key", list: "connector-keys", value: key || "", placeholder: "key", "aria-label": "Config key" }),
        el("input", { type: "text", class: "cfg-value", value: value || "", placeholder: placeholder || "value", "aria-label": "Config value" }),
        el("button", { type: "button", text: "×", "aria-label": "Remove", onclick: function () { row.remove(); } }));
      configBox.appendChild(row);
    }

    async function pickClass() {
      hw.clear(configBox);
      var keys = await hw.api("/connector-plugins/" + enc(classSelect.value) + "/config");
      var list = hw.clear(document.getElementById("connector-keys"));
      keys.forEach(function (k) { list.appendChild(el("option", { value: k.name, label: k.documentation || k.name })); });
      keyRow("tasks.max", "1");
      keys.filter(function (k) { return k.required && k.name !== "name" && k.name !== "connector.class"; }).forEach(function (k) { keyRow(k.name, "", k.default_value || k.type); });
    }

    async function create(body) {
      await hw.api("/connectors", { method: "POST", body: body });
      await load();
    }

    var plugins = await hw.api("/connector-plugins");
    plugins.forEach(function (p) {
      classSelect.appendChild(el("option", { value: p.class, text: p.class.split(".").pop() + " (" + p.type + ")" }));
    });
    classSelect.addEventListener("change", hw.handle(pickClass));
    document.getElementById("connector-add-key").addEventListener("click", function () { keyRow(); });
    document.querySelectorAll("input[name=connector-mode]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        var json = document.querySelector("input[name=connector-mode]:checked").value === "json";
        document.getElementById("connector-form").hidden = json;
        document.getElementById("connector-json-form").hidden = !json;
      });
    });
    document.getElementById("connector-form").addEventListener("submit", hw.handle(async function (event) {
      event.preventDefault();
      var config = { "connector.class": classSelect.value };
      configBox.querySelectorAll(".hw-kv-row").forEach(function (row) {
        var key = row.querySelector(".cfg-key").value.trim();
        if (key) config[key] = row.querySelector(".cfg-value").value;
      });
      await create({ name: document.getElementById("connector-name").value.trim(), config: config });
    }));
    document.getElementById("connector-json-form").addEventListener("submit", hw.handle(async function (event) {
      event.preventDefault();
      var body;
      try { body = JSON.parse(document.getElementById("connector-json").value); } catch (e) {
        hw.showError("The connector JSON does not parse: " + e.message);
        return;
      }
      await create(body);
    }));
    await load();
    if (plugins.length) await pickClass();
    hw.rendered();
    hw.refresh(load, 5000);
  };

  hw.pages.connector = async function () {
    var name = document.body.getAttribute("data-connector");
    async function load() {
      var status = await hw.api("/connectors/" + enc(name) + "/status");
      var info = await hw.api("/connectors/" + enc(name));
      var topics = await hw.api("/connectors/" + enc(name) + "/topics", { quiet: true }).catch(function () { return {}; });
      hw.clear(document.getElementById("connector-state")).appendChild(stateBadge(status.connector.state));
      var bar = hw.clear(document.getElementById("connector-actions"));
      actions(name, status.connector.state, async function (label) {
        if (label === "Delete") window.location.href = "/ui/connectors";
        else await load();
      }).forEach(function (b) { bar.appendChild(b); });
      var active = (topics[name] && topics[name].topics) || [];
      var facts = hw.clear(document.getElementById("connector-facts"));
      facts.append(el("dt", { text: "Type" }), el("dd", { text: status.type || "" }),
                   el("dt", { text: "Class" }), el("dd", { class: "hw-mono", text: info.config["connector.class"] || "" }),
                   el("dt", { text: "Worker" }), el("dd", { text: status.connector.worker_id || "" }),
                   el("dt", { text: "Topics" }), el("dd", null, active.length ? active.map(function (t) {
                     return el("span", null, el("a", { href: "/ui/topics/" + enc(t), text: t }), " ");
                   }) : "–"),
                   el("dt", { text: "In the flow" }), el("dd", null, el("a", { href: "/ui/flow/connector/" + enc(name), text: "rates and neighbours →" })));
      hw.clear(document.getElementById("connector-tasks")).appendChild(hw.table(["Task", "State", "Worker", "Trace"],
        status.tasks.map(function (t) { return [t.id, t.state, t.worker_id, t.trace ? lastLine(t.trace) : ""]; }),
        function (i) { return i === 0; }));
      var trace = status.connector.trace || (status.tasks.find(function (t) { return t.trace; }) || {}).trace;
      document.getElementById("connector-trace-section").hidden = !trace;
      document.getElementById("connector-trace").textContent = trace || "";
      hw.clear(document.getElementById("connector-config-view")).appendChild(hw.jsonView(info.config));
    }
    await load();
    hw.rendered();
    hw.refresh(load, 5000);
  };
})();

/* The topic browser: /ui/topics (every topic) and /ui/topics/{name} (partitions, messages, key search, produce). */
(function () {
  "use strict";
  var el = function () { return hw.el.apply(null, arguments); };
  var enc = encodeURIComponent;

  hw.pages.topics = async function () {
    var filter = document.getElementById("topic-filter");
    var internal = document.getElementById("topic-internal");
    var topics = [];

    function draw() {
      var words = filter.value.trim().toLowerCase();
      var shown = topics.filter(function (t) {
        return (internal.checked || !t.internal) && (!words || t.name.toLowerCase().indexOf(words) >= 0);
      });
      document.getElementById("topic-count").textContent = shown.length + " of " + topics.length + " topics";
      var table = el("table", { class: "hw-table", id: "topic-table" },
        el("thead", null, el("tr", null, ["Topic", "Partitions", "Messages", "Size", "Rate", "Streams and tables"]
          .map(function (h, i) { return el("th", { class: i && i < 5 ? "num" : null, text: h }); }))),
        el("tbody", null, shown.map(function (t) {
          return el("tr", null,
            el("td", null, el("a", { href: "/ui/topics/" + enc(t.name), text: t.name }),
               t.internal ? el("span", { class: "hw-badge", text: "internal" }) : null),
            el("td", { class: "num", text: String(t.partition_count) }),
            el("td", { class: "num", text: hw.number(t.messages) }),
            el("td", { class: "num", text: hw.bytes(t.size_bytes) }),
            el("td", { class: "num", text: hw.rate(t.rate) }),
            el("td", null, t.sources.map(function (s) {
              return el("a", { href: "/ui/flow/" + s.kind.toLowerCase() + "/" + enc(s.name), class: "hw-badge", text: s.name });
            })));
        })));
      hw.clear(document.getElementById("topic-list")).appendChild(table);
    }

    async function load() {
      topics = (await hw.api("/ui/api/topics")).topics;
      draw();
    }

    filter.addEventListener("input", draw);
    internal.addEventListener("change", draw);
    await load();
    hw.rendered();
    hw.refresh(load, 5000);
  };

  hw.pages.topic = async function () {
    var name = document.body.getAttribute("data-topic");
    var base = "/ui/api/topics/" + enc(name);
    var partitionSelect = document.getElementById("read-partition");
    var from = document.getElementById("read-from");
    var offsetInput = document.getElementById("read-offset");
    var timeInput = document.getElementById("read-time");
    var nextOffset = null;

    async function loadTopic() {
      var t = await hw.api(base);
      hw.clear(document.getElementById("topic-stats")).append(
        stat("Messages", hw.number(t.messages)), stat("Partitions", String(t.partition_count)),
        stat("Size", hw.bytes(t.size_bytes)), stat("Rate (last minute)", hw.rate(t.rate)));
      hw.clear(document.getElementById("topic-partitions")).appendChild(hw.table(
        ["Partition", "Start offset", "End offset", "Messages", "Size", "Rate"],
        t.partitions.map(function (p) {
          return [p.partition, p.beginning_offset, p.end_offset, p.messages, hw.bytes(p.size_bytes), hw.rate(p.rate)];
        }), function (i) { return i !== 4 && i !== 5; }));
      var sources = hw.clear(document.getElementById("topic-sources"));
      if (t.sources.length) {
        sources.append("Read as: ");
        t.sources.forEach(function (s) {
          sources.append(el("a", { href: "/ui/flow/" + s.kind.toLowerCase() + "/" + enc(s.name), class: "hw-badge", text: s.name }), " ");
        });
      }
      if (t.consumer_groups.length) {
        var lag = t.consumer_groups.reduce(function (sum, g) { return sum + g.lag; }, 0);
        var groups = el("details", { id: "topic-groups" }, el("summary", {
          text: t.consumer_groups.length + " consumer group" + (t.consumer_groups.length === 1 ? "" : "s") + ", total lag " + hw.number(lag) }),
          hw.table(["Group", "Lag"], t.consumer_groups.map(function (g) { return [g.group, g.lag]; })));
        var previous = document.getElementById("topic-groups");
        if (previous && previous.open) groups.open = true;
        sources.append(groups);
      }
      if (!partitionSelect.options.length) {
        t.partitions.forEach(function (p) {
          partitionSelect.appendChild(el("option", { value: String(p.partition), text: String(p.partition) }));
        });
      }
      return t;
    }

    function stat(label, value) {
      return el("div", { class: "hw-card" }, el("div", { class: "hw-muted", text: label }), el("div", { class: "hw-stat", text: value }));
    }

    function showMessages(messages, info) {
      var box = hw.clear(document.getElementById("messages"));
      if (info) box.appendChild(el("p", { class: "hw-muted", text: info }));
      if (!messages.length) box.appendChild(el("p", { class: "hw-muted", text: "No message here." }));
      messages.forEach(function (m) {
        box.appendChild(el("div", { class: "hw-msg" },
          el("div", { class: "hw-msg-head" },
            el("span", null, "partition ", el("b", { text: String(m.partition) })),
            el("span", null, "offset ", el("b", { text: String(m.offset) })),
            el("span", null, "time ", el("b", { text: new Date(m.timestamp).toISOString() })),
            el("span", null, "key ", m.key && m.key.type !== "binary" ? el("b", { class: "hw-mono", text: m.key.text })
                                                                     : el("b", { text: m.key ? "binary" : "null" }))),
          m.key && m.key.type === "binary" ? hw.bytesView(m.key) : null,
          hw.bytesView(m.value),
          m.headers.length ? el("div", { class: "hw-msg-head" }, "headers: ", m.headers.map(function (h) {
            return el("span", { class: "hw-badge", text: h.key + " = " + (h.value ? (h.value.text || h.value.hex) : "null") });
          })) : null));
      });
    }

    async function read(offset) {
      var params = new URLSearchParams({ limit: document.getElementById("read-limit").value || "50" });
      if (offset !== undefined) params.set("offset", String(offset));
      else if (from.value === "offset" && offsetInput.value !== "") params.set("offset", offsetInput.value);
      else if (from.value === "time" && timeInput.value) params.set("timestamp", String(new Date(timeInput.value).getTime()));
      var page = await hw.api(base + "/partitions/" + enc(partitionSelect.value) + "/messages?" + params);
      nextOffset = page.next_offset < page.end_offset ? page.next_offset : null;
      document.getElementById("read-next").disabled = nextOffset === null;
      showMessages(page.messages, "Offsets " + page.offset + "–" + Math.max(page.offset, page.next_offset - 1) +
                   " of " + page.beginning_offset + "–" + page.end_offset + " (end).");
    }

    from.addEventListener("change", function () {
      offsetInput.hidden = from.value !== "offset";
      timeInput.hidden = from.value !== "time";
    });
    document.getElementById("read-form").addEventListener("submit", hw.handle(function (event) {
      event.preventDefault();
      return read();
    }));
    document.getElementById("read-next").addEventListener("click", hw.handle(function () {
      if (nextOffset !== null) return read(nextOffset);
    }));
    document.getElementById("search-form").addEventListener("submit", hw.handle(async function (event) {
      event.preventDefault();
      var key = document.getElementById("search-key").value;
      if (!key) return;
      var params = new URLSearchParams({ key: key, match: document.getElementById("search-contains").checked ? "contains" : "exact" });
      var found = await hw.api(base + "/search?" + params);
      showMessages(found.messages, found.messages.length + (found.more ? "+" : "") + " messages with key " +
                   (found.match === "contains" ? "containing " : "") + JSON.stringify(key) + " in the newest " +
                   found.scanned + " records.");
    }));
    document.getElementById("produce-form").addEventListener("submit", hw.handle(async function (event) {
      event.preventDefault();
      var record = { value: document.getElementById("produce-value").value };
      var key = document.getElementById("produce-key").value;
      if (key) record.key = key;
      var partition = document.getElementById("produce-partition").value;
      if (partition !== "") record.partition = Number(partition);
      var headers = document.getElementById("produce-headers").value.trim();
      if (headers) {
        try { record.headers = JSON.parse(headers); } catch (e) { hw.showError("Headers must be a JSON object: " + e.message); return; }
      }
      var answer = await hw.api("/topics/" + enc(name) + "/messages", { method: "POST", body: { records: [record] } });
      var at = answer.offsets[0];
      document.getElementById("produce-result").textContent = "written at partition " + at.partition + ", offset " + at.offset;
      partitionSelect.value = String(at.partition);
      await loadTopic();
      await read();
    }));

    await loadTopic();
    await read();
    hw.rendered();
    hw.refresh(loadTopic, 5000);
  };
})();

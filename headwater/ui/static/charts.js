/* Panel rendering with Apache ECharts: rows (arrays) under column names -> one chart per panel type.
 *
 * hwCharts.render(panel, target, columns, rows, rangeMs) draws into target and returns a summary
 * ({rows, value}) that the page shows and the tests read. Values are summed per x (and series) or per
 * label, so a windowed table of counts per user plots as the total per window.
 */
(function () {
  "use strict";
  var WINDOW_COLUMNS = ["WINDOWSTART", "WINDOWEND"];
  var charts = new WeakMap();

  function index(columns, name) {
    if (!name) return -1;
    var upper = String(name).toUpperCase();
    for (var i = 0; i < columns.length; i++) if (String(columns[i]).toUpperCase() === upper) return i;
    return -1;
  }

  function need(columns, name, what) {
    var i = index(columns, name);
    if (i < 0) throw new Error(what + " column " + name + " is not in the query's columns (" + columns.join(", ") + ")");
    return i;
  }

  function asTime(value) {
    if (typeof value === "number") return value;
    if (typeof value === "string") { var t = Date.parse(value); return isNaN(t) ? null : t; }
    return null;
  }

  function asNumber(value) {
    if (typeof value === "number") return value;
    if (typeof value === "string" && value.trim() !== "" && !isNaN(Number(value))) return Number(value);
    return 0;
  }

  /* The column that places a row in time: the panel's x if it holds times, else WINDOWSTART. */
  function isTimeName(name) {
    return WINDOW_COLUMNS.indexOf(String(name).toUpperCase()) >= 0 || /(_TS|TIME|TIMESTAMP)$/i.test(String(name));
  }

  function timeColumn(panel, columns) {
    var x = index(columns, panel.x);
    if (x >= 0 && isTimeName(columns[x])) return x;
    return index(columns, "WINDOWSTART");
  }

  function inRange(panel, columns, rows, rangeMs) {
    var t = timeColumn(panel, columns);
    if (t < 0 || !rangeMs) return rows;
    var since = Date.now() - rangeMs;
    return rows.filter(function (row) { var v = asTime(row[t]); return v === null || v >= since; });
  }

  function chart(target) {
    var existing = charts.get(target);
    if (existing) return existing;
    var made = echarts.init(target, null, { renderer: "canvas" });
    charts.set(target, made);
    window.addEventListener("resize", function () { made.resize(); });
    return made;
  }

  function grouped(rows, keyOf, valueIndexes) {
    var sums = new Map();
    rows.forEach(function (row) {
      var key = keyOf(row);
      var sum = sums.get(key);
      if (!sum) { sum = valueIndexes.map(function () { return 0; }); sums.set(key, sum); }
      valueIndexes.forEach(function (v, i) { sum[i] += asNumber(row[v]); });
    });
    return sums;
  }

  var BASE = { animation: false, grid: { left: 56, right: 16, top: 28, bottom: 28, containLabel: true },
               tooltip: { trigger: "axis" } };

  /* The time axis: from a little before the first point (never before the range) to now. */
  function timeAxis(series, rangeMs) {
    var first = Infinity, last = -Infinity;
    series.forEach(function (s) { s.data.forEach(function (p) { first = Math.min(first, p[0]); last = Math.max(last, p[0]); }); });
    if (first === Infinity) return { type: "time" };
    var now = Math.max(Date.now(), last);
    var start = first - Math.max(60000, (now - first) * 0.05);
    return { type: "time", min: rangeMs ? Math.max(now - rangeMs, start) : start, max: now };
  }

  function timeseries(panel, target, columns, rows, rangeMs) {
    var x = need(columns, panel.x, "x");
    var ys = panel.y.map(function (y) { return need(columns, y, "y"); });
    var s = panel.series ? need(columns, panel.series, "series") : -1;
    var series = new Map();
    rows.forEach(function (row) {
      var t = asTime(row[x]);
      if (t === null) return;
      ys.forEach(function (y, i) {
        var name = s >= 0 ? (ys.length > 1 ? panel.y[i] + " " : "") + String(row[s]) : panel.y[i];
        var points = series.get(name) || new Map();
        points.set(t, (points.get(t) || 0) + asNumber(row[y]));
        series.set(name, points);
      });
    });
    var list = Array.from(series.entries()).map(function (entry) {
      var data = Array.from(entry[1].entries()).sort(function (a, b) { return a[0] - b[0]; });
      return { name: entry[0], type: panel.type === "bar" ? "bar" : "line", showSymbol: data.length <= 30,
               barMaxWidth: 48,
               stack: panel.type === "bar" && s >= 0 ? "total" : undefined, data: data };
    }).sort(function (a, b) { return String(a.name).localeCompare(String(b.name)); });
    chart(target).setOption(Object.assign({}, BASE, {
      legend: { show: list.length > 1, type: "scroll", top: 0 },
      xAxis: timeAxis(list, rangeMs), yAxis: { type: "value" }, series: list }), { notMerge: true });
  }

  function bars(panel, target, columns, rows, rangeMs) {
    var x = need(columns, panel.x, "x");
    if (isTimeName(columns[x])) {
      return timeseries(panel, target, columns, rows, rangeMs);
    }
    var ys = panel.y.map(function (y) { return need(columns, y, "y"); });
    var sums = grouped(rows, function (row) { return String(row[x]); }, ys);
    var labels = Array.from(sums.keys()).sort();
    chart(target).setOption(Object.assign({}, BASE, {
      legend: { show: ys.length > 1, top: 0 },
      xAxis: { type: "category", data: labels }, yAxis: { type: "value" },
      series: panel.y.map(function (name, i) {
        return { name: name, type: "bar", data: labels.map(function (l) { return sums.get(l)[i]; }) };
      }) }), { notMerge: true });
  }

  function ranked(panel, columns, rows) {
    var label = need(columns, panel.label, "label");
    var value = need(columns, panel.value, "value");
    var sums = grouped(rows, function (row) { return row[label] === null ? "(none)" : String(row[label]); }, [value]);
    return Array.from(sums.entries()).map(function (e) { return { name: e[0], value: e[1][0] }; })
      .sort(function (a, b) { return b.value - a.value; });
  }

  function topn(panel, target, columns, rows) {
    var top = ranked(panel, columns, rows).slice(0, panel.limit);
    chart(target).setOption(Object.assign({}, BASE, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "value" },
      yAxis: { type: "category", inverse: true, data: top.map(function (t) { return t.name; }) },
      series: [{ type: "bar", name: panel.value, data: top.map(function (t) { return t.value; }),
                 label: { show: true, position: "right" } }] }), { notMerge: true });
  }

  function category(panel, target, columns, rows) {
    var all = ranked(panel, columns, rows);
    var shown = all.slice(0, panel.limit);
    var rest = all.slice(panel.limit).reduce(function (sum, t) { return sum + t.value; }, 0);
    if (rest) shown.push({ name: "other", value: rest });
    chart(target).setOption({ animation: false, tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: ["35%", "65%"], center: ["50%", "52%"], data: shown,
                 label: { formatter: "{b}: {c}" } }] }, { notMerge: true });
  }

  function stat(panel, target, columns, rows) {
    var value = need(columns, panel.value, "value");
    var total = rows.reduce(function (sum, row) { return sum + asNumber(row[value]); }, 0);
    target.textContent = hw.number(total);
    target.setAttribute("data-value", String(total));
    return total;
  }

  function table(panel, target, columns, rows) {
    var t = timeColumn(panel, columns);
    var sorted = t >= 0 ? rows.slice().sort(function (a, b) { return (asTime(b[t]) || 0) - (asTime(a[t]) || 0); }) : rows;
    var times = columns.map(function (c, i) { return i === t || isTimeName(c); });
    var shown = sorted.slice(0, panel.limit).map(function (row) {
      return row.map(function (v, i) { var ms = times[i] ? asTime(v) : null; return ms === null ? v : new Date(ms).toLocaleString(); });
    });
    hw.clear(target).appendChild(hw.table(columns, shown, function (i) {
      return !times[i] && sorted.length > 0 && typeof sorted[0][i] === "number";
    }));
  }

  var DRAW = { timeseries: timeseries, bar: bars, topn: topn, category: category, stat: stat, table: table };

  window.hwCharts = {
    usesCanvas: function (panel) { return panel.type !== "stat" && panel.type !== "table"; },
    render: function (panel, target, columns, rows, rangeMs) {
      var shown = inRange(panel, columns, rows, rangeMs);
      var value = DRAW[panel.type](panel, target, columns, shown, rangeMs);
      return { rows: shown.length, value: value };
    },
    dispose: function (target) { var c = charts.get(target); if (c) { c.dispose(); charts.delete(target); } }
  };
})();

// The chart: plain SVG built with DOM calls (the page's CSP allows no inline code). A line by
// year (at most a few series), bars for one category; the table always has every value.

import { clear, el, svg } from "./dom.js";
import { app, dim, measure } from "./store.js";
import { formatValue, isSuppressed } from "./values.js";

const PALETTE = ["#1f5fa8", "#c4511f", "#2a8a4a", "#8a3ca8", "#a8841f", "#1f8a8a", "#a81f5f", "#555555"];
const MAX_BAR_CATEGORIES = 40;
const MAX_LINE_SERIES = 8;

// Values of one column in code-list order, or in the rows' own order (keepOrder: the user sorted).
function distinct(rows, n, keepOrder) {
  var seen = {}, out = [];
  rows.forEach(function (r) {
    var k = String(r[n]);
    if (!seen[k]) { seen[k] = true; out.push({ code: k, label: r[n + "_label"] !== undefined && r[n + "_label"] !== null ? String(r[n + "_label"]) : k }); }
  });
  var d = dim(n);
  if (!keepOrder && d && d.codes.length) {
    var order = d.codes.map(function (c) { return c.code; });
    out.sort(function (a, b) { return order.indexOf(a.code) - order.indexOf(b.code); });
  }
  return out;
}

function niceMax(v) {
  if (v <= 0) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(v)));
  var steps = [1, 2, 2.5, 5, 10];
  for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
  return 10 * p;
}

// Draw at the container's pixel width so text stays 12px on a phone and on a wide screen.
function chartWidth() {
  var w = app.ui.chartSvg.clientWidth || (app.ui.chart.parentNode && app.ui.chart.parentNode.clientWidth) || 640;
  return Math.max(280, Math.min(1000, Math.round(w)));
}

function truncate(s, n) { return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }

export function renderChart(rows, dims, measures) {
  clear(app.ui.chartSvg); clear(app.ui.chartLegend);
  app.ui.chartNone.hidden = true;
  if (!rows.length || !measures.length) { app.ui.chart.hidden = true; return; }
  app.ui.chart.hidden = false;  // measured for its width; hidden again below if no chart fits
  // Chart measure chooser
  var cm = app.ui.chartMeasure.value;
  clear(app.ui.chartMeasure);
  measures.forEach(function (n) {
    var mm = measure(n);
    var o = el("option", { value: n }, mm ? mm.title : n);
    app.ui.chartMeasure.appendChild(o);
  });
  if (measures.indexOf(cm) < 0) cm = measures[0];
  app.ui.chartMeasure.value = cm;
  app.ui.chartMeasureWrap.hidden = measures.length < 2;
  var mm = measure(cm) || { title: cm };

  var yearName = app.meta.yearDim ? app.meta.yearDim.name : null;
  var varying = dims.filter(function (n) { return distinct(rows, n).length > 1; });
  var yearVaries = yearName && varying.indexOf(yearName) >= 0;
  var others = varying.filter(function (n) { return n !== yearName; });

  if (yearVaries && others.length <= 1) {
    var series = others.length ? distinct(rows, others[0]) : [{ code: null, label: mm.title }];
    if (series.length > MAX_LINE_SERIES) return noChart("Too many lines to draw (" + series.length + "); filter " + (dim(others[0]) || { title: others[0] }).title + " to " + MAX_LINE_SERIES + " values or fewer to see a chart.");
    drawLine(rows, yearName, others[0] || null, series, cm, mm);
  } else if (!yearVaries && others.length === 1) {
    var cats = distinct(rows, others[0], app.state.order.length > 0);  // bars follow a chosen sort
    if (cats.length > MAX_BAR_CATEGORIES) return noChart("Too many categories for a chart; the table has every value.");
    drawBars(rows, others[0], cats, cm, mm);
  } else if (varying.length === 0) {
    app.ui.chart.hidden = true; // a single number: the table says it all
  } else {
    noChart("A chart is drawn for one category, or for years with at most one category. The table shows every combination.");
  }
}

function noChart(text) { app.ui.chart.hidden = true; app.ui.chartNone.textContent = text; app.ui.chartNone.hidden = false; }

function findRow(rows, a, av, b, bv) {
  for (var i = 0; i < rows.length; i++) {
    if (String(rows[i][a]) === av && (b === null || String(rows[i][b]) === bv)) return rows[i];
  }
  return null;
}

function drawLine(rows, yearName, seriesDim, series, cm, mm) {
  var years = distinct(rows, yearName);
  years.sort(function (a, b) { return Number(a.code) - Number(b.code); });
  var W = chartWidth(), H = Math.round(Math.min(320, Math.max(200, W * 0.5))), L = 64, R = 16, T = 16, B = 40;
  var max = 0;
  rows.forEach(function (r) { if (!isSuppressed(r) && typeof r[cm] === "number") max = Math.max(max, r[cm]); });
  max = niceMax(max);
  var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "chart-caption", className: "chart-line" });
  var x = function (i) { return L + (years.length === 1 ? (W - L - R) / 2 : i * (W - L - R) / (years.length - 1)); };
  var y = function (v) { return T + (H - T - B) * (1 - v / max); };
  axes(s, W, H, L, R, T, B, max, y);
  years.forEach(function (yr, i) {
    s.appendChild(svg("text", { x: x(i), y: H - B + 18, "text-anchor": "middle", className: "tick" }, yr.label));
  });
  var anySup = false;
  series.forEach(function (se, si) {
    var color = PALETTE[si % PALETTE.length];
    var path = "", pen = false;
    var points = [];
    years.forEach(function (yr, i) {
      var r = findRow(rows, yearName, yr.code, seriesDim, se.code);
      if (!r || isSuppressed(r) || typeof r[cm] !== "number") {
        pen = false;
        if (r && isSuppressed(r)) { anySup = true; points.push({ i: i, sup: true }); }
        return;
      }
      path += (pen ? " L " : " M ") + x(i).toFixed(1) + " " + y(r[cm]).toFixed(1);
      pen = true;
      points.push({ i: i, v: r[cm] });
    });
    if (path) s.appendChild(svg("path", { d: path, fill: "none", stroke: color, "stroke-width": 2.5 }));
    points.forEach(function (p) {
      var c;
      if (p.sup) {
        c = svg("text", { x: x(p.i), y: H - B - 6, "text-anchor": "middle", fill: color, "font-size": 14 }, "\u2020");
        c.appendChild(svg("title", null, se.label + ", " + years[p.i].label + ": withheld (too few people)"));
      } else {
        c = svg("circle", { cx: x(p.i), cy: y(p.v), r: 3.5, fill: color });
        c.appendChild(svg("title", null, (se.code === null ? "" : se.label + ", ") + years[p.i].label + ": " + formatValue(p.v)));
      }
      s.appendChild(c);
    });
    if (seriesDim) {
      var li = el("li");
      var sw = el("span", { className: "swatch", "aria-hidden": "true" });
      sw.style.background = color;  // CSSOM, allowed by the page's CSP (no inline style attributes)
      li.appendChild(sw);
      li.appendChild(document.createTextNode(se.label));
      app.ui.chartLegend.appendChild(li);
    }
  });
  app.ui.chartCaption.textContent = mm.title + " by " + (app.meta.yearDim.title) + (seriesDim ? " and " + (dim(seriesDim) || { title: seriesDim }).title : "") +
    (anySup ? " (\u2020 withheld)" : "");
  app.ui.chartSvg.appendChild(s);
  app.ui.chart.hidden = false;
  app.ui.chart.setAttribute("data-kind", "line");
}

function axes(s, W, H, L, R, T, B, max, y) {
  for (var t = 0; t <= 4; t++) {
    var v = max * t / 4;
    var yy = y(v);
    var g = svg("line", { x1: L, x2: W - R, y1: yy, y2: yy, stroke: "#d0d4da", "stroke-width": 1 });
    s.appendChild(g);
    var lab = svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end" }, v.toLocaleString("en-US", { maximumFractionDigits: 1 }));
    lab.setAttribute("class", "tick");
    s.appendChild(lab);
  }
}

function drawBars(rows, catDim, cats, cm, mm) {
  var W = chartWidth(), L = Math.min(190, Math.round(W * 0.38)), R = 80, T = 8, bh = 22, gap = 6;
  var H = T + cats.length * (bh + gap) + 8;
  var max = 0;
  rows.forEach(function (r) { if (!isSuppressed(r) && typeof r[cm] === "number") max = Math.max(max, r[cm]); });
  max = niceMax(max);
  var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-labelledby": "chart-caption" });
  s.setAttribute("class", "chart-bars");
  var anySup = false;
  cats.forEach(function (c, i) {
    var r = findRow(rows, catDim, c.code, null, null);
    var yy = T + i * (bh + gap);
    var lab = svg("text", { x: L - 8, y: yy + bh / 2 + 4, "text-anchor": "end" }, truncate(c.label, Math.floor(L / 7.5)));
    lab.setAttribute("class", "tick");
    lab.appendChild(svg("title", null, c.label));
    s.appendChild(lab);
    if (r && isSuppressed(r)) {
      anySup = true;
      var box = svg("rect", { x: L, y: yy, width: 60, height: bh, fill: "url(#hatch)", stroke: "#8a5a00", "stroke-dasharray": "3 2", className: "bar bar-suppressed" });
      box.appendChild(svg("title", null, c.label + ": withheld (too few people)"));
      s.appendChild(box);
      var t = svg("text", { x: L + 66, y: yy + bh / 2 + 4 }, "\u2020 withheld");
      t.setAttribute("class", "tick sup-text");
      s.appendChild(t);
    } else if (r && typeof r[cm] === "number") {
      var w = Math.max(0, (W - L - R) * r[cm] / max);
      var bar = svg("rect", { x: L, y: yy, width: w.toFixed(1), height: bh, fill: PALETTE[0], className: "bar" });
      bar.appendChild(svg("title", null, c.label + ": " + formatValue(r[cm])));
      s.appendChild(bar);
      var v = svg("text", { x: L + w + 6, y: yy + bh / 2 + 4 }, formatValue(r[cm]));
      v.setAttribute("class", "tick");
      s.appendChild(v);
    }
  });
  var defs = svg("defs");
  var pat = svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  pat.appendChild(svg("rect", { width: 6, height: 6, fill: "#fff4e0" }));
  pat.appendChild(svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#c08a2a", "stroke-width": 2 }));
  defs.appendChild(pat);
  s.insertBefore(defs, s.firstChild);
  app.ui.chartCaption.textContent = mm.title + " by " + (dim(catDim) || { title: catDim }).title + (anySup ? " (\u2020 withheld)" : "");
  app.ui.chartSvg.appendChild(s);
  app.ui.chart.hidden = false;
  app.ui.chart.setAttribute("data-kind", "bars");
}

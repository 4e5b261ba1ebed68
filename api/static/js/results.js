// The answer: summary, table, withheld cells, pager, disclosure note and errors. Field names are
// the answer's as OpenAPI documents them (AnswerMeta, AnswerQuery, AnswerLinks, Error).

import { clear, el, humanize } from "./dom.js";
import { app, dim, measure } from "./store.js";
import { filterText, orderDesc, orderField } from "./state.js";
import { sortByColumn } from "./controls.js";
import { renderChart } from "./chart.js";
import { formatValue, isSuppressed } from "./values.js";

let headerFocus = null;  // the header button a keyboard user sorted with, focused again after the answer

export function resultDims(body) { return body.meta.query.dimensions; }
export function resultMeasures(body) { return body.meta.query.measures; }

function suppressedText(body) {
  const k = body.meta.disclosure.k;
  return "Withheld: fewer than " + k + " people are in this cell, so no value is published. This is not zero.";
}

export function clearResults() {
  const { ui } = app;
  clear(ui.thead); clear(ui.tbody);
  ui.chart.hidden = true; ui.chartNone.hidden = true; ui.suppressedNote.hidden = true; ui.pager.hidden = true;
}

export function hideError() { app.ui.error.hidden = true; clear(app.ui.error); }

export function showError(err) {
  const { ui } = app;
  clear(ui.error);
  const e = (err && err.body && err.body.error) || {};
  ui.error.appendChild(el("strong", null, "The API could not answer this query. "));
  ui.error.appendChild(el("span", null, e.message || (err && err.message) || "Unknown error."));
  if (e.parameter) ui.error.appendChild(el("span", null, " (parameter: " + e.parameter + ")"));
  if (Array.isArray(e.allowed) && e.allowed.length) {
    ui.error.appendChild(el("span", null, " Allowed: " + e.allowed.slice(0, 30).join(", ") + (e.allowed.length > 30 ? ", \u2026" : "")));
  } else if (typeof e.allowed === "string" && e.allowed) {
    ui.error.appendChild(el("span", null, " Allowed: " + e.allowed));
  }
  ui.error.hidden = false;
}

// Long answers come in pages (the API's limit); the pager follows the API's own links.
function offsetOf(link) {
  if (!link) return null;
  const v = new URL(link, window.location.href).searchParams.get("offset");
  return v === null ? 0 : Math.max(0, parseInt(v, 10) || 0);
}

export function setPager(m) {
  const { ui } = app;
  const next = offsetOf(m.links.next), prev = offsetOf(m.links.prev);
  ui.pager.hidden = next === null && prev === null;
  ui.pageNext.disabled = next === null;
  ui.pagePrev.disabled = prev === null;
  ui.pageNext.setAttribute("data-offset", next === null ? "" : String(next));
  ui.pagePrev.setAttribute("data-offset", prev === null ? "" : String(prev));
  const from = m.query.offset + 1, to = m.query.offset + m.row_count;
  ui.pageInfo.textContent = "Rows " + from + "\u2013" + to + " of " + m.total_row_count;
}

function caption(body) {
  const { meta } = app;
  const m = body.meta;
  const titles = (names, find) => names.map((n) => { const x = find(n); return x ? x.title : n; }).join(", ");
  const dims = resultDims(body);
  const ftext = filterText();
  return meta.title + ": " + titles(resultMeasures(body), measure) + (dims.length ? " by " + titles(dims, dim) : "") +
    " \u2014 " + (ftext ? "filters: " + ftext : "no filters") + "; data version " + m.data_version;
}

function headerRow(body) {
  const tr = el("tr");
  const order = body.meta.query.order;
  const sorted = order.length ? order[0] : null;  // the first key the rows were sorted on, as answered
  const header = (n, member, isMeasure) => {
    const th = el("th", { scope: "col", className: isMeasure ? "num" : null, "data-name": n, title: member.description || null });
    if (sorted && orderField(sorted) === n) th.setAttribute("aria-sort", orderDesc(sorted) ? "descending" : "ascending");
    const b = el("button", { type: "button", className: "sort-button", "data-name": n }, member.title);
    b.addEventListener("click", () => { headerFocus = n; sortByColumn(n, isMeasure); });
    th.appendChild(b);
    tr.appendChild(th);
  };
  resultDims(body).forEach((n) => header(n, dim(n) || { title: n, description: "" }, false));
  resultMeasures(body).forEach((n) => header(n, measure(n) || { title: n, description: "" }, true));
  return tr;
}

function measureCell(row, n, sup, supText) {
  const v = row[n];
  if (sup) {
    const td = el("td", { className: "num suppressed", "data-suppressed": "true", "data-value": "", title: supText });
    td.appendChild(el("span", { "aria-hidden": "true", className: "sup-mark" }, "\u2020 "));
    td.appendChild(el("span", null, "withheld"));
    return td;
  }
  const m = measure(n);
  if ((v === null || v === undefined) && m && m.withheldAlone) {
    // metadata withheld_alone (docs/recidivism.md): withheld on its own in a published row, or not known yet
    return el("td", { className: "num withheld-own", "data-value": "", "data-withheld": "true",
      title: "Not published: fewer than five had the event or all but a few did (RC12), the counts a rate " +
             "needs are not both published, or the window has not passed yet (RC8)." }, "n/a");
  }
  if (v === null || v === undefined) {
    return el("td", { className: "num empty", "data-value": "", title: "No value for this cell (no one in it)." }, "\u2013");
  }
  return el("td", { className: "num", "data-value": String(v) }, formatValue(v));
}

const MAX_TABLE_ROWS = 2000;

export function renderResults(body) {
  const { ui } = app;
  const rows = body.data;
  const dims = resultDims(body);
  const measures = resultMeasures(body);
  const m = body.meta;
  const nSup = rows.filter(isSuppressed).length;
  let summary = rows.length + (rows.length === 1 ? " row" : " rows");
  if (m.total_row_count > rows.length) summary += " shown of " + m.total_row_count;
  if (nSup) summary += ", " + nSup + " withheld for privacy";
  ui.summary.textContent = summary + ".";

  clear(ui.thead); clear(ui.tbody);
  ui.tableCaption.textContent = caption(body);
  ui.thead.appendChild(headerRow(body));
  if (headerFocus !== null) {
    const again = ui.thead.querySelector('button[data-name="' + CSS.escape(headerFocus) + '"]');
    headerFocus = null;
    if (again) again.focus();
  }
  const supText = suppressedText(body);
  for (const row of rows.slice(0, MAX_TABLE_ROWS)) {
    const sup = isSuppressed(row);
    const r = el("tr", { className: sup ? "row-suppressed" : null, "data-suppressed": sup ? "true" : "false" });
    dims.forEach((n, i) => {
      const label = row[n + "_label"];
      const code = row[n];
      r.appendChild(el(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, "data-code": code === null || code === undefined ? "" : String(code) },
        label !== undefined && label !== null ? label : code));
    });
    measures.forEach((n) => r.appendChild(measureCell(row, n, sup, supText)));
    ui.tbody.appendChild(r);
  }
  ui.suppressedNote.textContent = nSup ? "\u2020 " + supText : "";
  ui.suppressedNote.hidden = !nSup;
  renderNotes(body);
  renderChart(rows, dims, measures);
}

// The disclosure note is whatever the API says, laid out generically: plain statements as
// paragraphs led by their name, nested details (tables of noise, per-measure notes) folded.
function renderNote(value, into) {
  if (value === null || value === undefined || value === "") return;
  if (typeof value !== "object") { into.appendChild(el("p", null, String(value))); return; }
  if (Array.isArray(value)) {
    const ul = el("ul", { className: "note-list" });
    for (const v of value) {
      const li = el("li");
      if (v !== null && typeof v === "object") renderNote(v, li); else li.textContent = String(v);
      ul.appendChild(li);
    }
    into.appendChild(ul);
    return;
  }
  const keys = Object.keys(value);
  for (const k of keys.filter((x) => value[x] !== null && value[x] !== "" && typeof value[x] !== "object")) {
    const v = String(value[k]);
    if (/^\/api\//.test(v)) {  // a link the API gives (e.g. to the full metadata)
      const p = el("p");
      p.appendChild(el("a", { href: v }, humanize(k)));
      into.appendChild(p);
      continue;
    }
    const para = el("p");
    para.appendChild(el("strong", null, humanize(k) + ": "));
    para.appendChild(document.createTextNode(v));
    into.appendChild(para);
  }
  for (const k of keys.filter((x) => value[x] !== null && typeof value[x] === "object")) {
    const det = el("details", { className: "note-more" });
    det.appendChild(el("summary", null, humanize(k)));
    renderNote(value[k], det);
    into.appendChild(det);
  }
}

// The dataset's metadata carries the full note; the version is the answer's when there is one.
export function renderNotes(body) {
  const { ui, meta } = app;
  clear(ui.disclosureBody);
  renderNote(meta.disclosure, ui.disclosureBody);
  const ver = body ? body.meta.data_version : meta.dataVersion;
  const loaded = body ? body.meta.loaded_at : meta.loadedAt;
  ui.dataVersion.textContent = ver ? "Data version " + ver + (loaded ? ", published " + String(loaded).slice(0, 10) : "") + "." : "";
}

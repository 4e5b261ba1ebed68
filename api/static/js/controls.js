// The controls: dataset, measures, years, dimensions (R13 from the metadata), filters, sort,
// and the definitions panel. Everything offered is the metadata's.

import { $, clear, el, safeId } from "./dom.js";
import { app, dim, dimTitle, measureTitle } from "./store.js";
import { allowed, orderDesc, orderField, setFilter, toggle } from "./state.js";

function changed() { app.changed(); }

function showDefinition(title, text) {
  const box = app.ui.defFocus;
  clear(box);
  box.appendChild(el("strong", null, title));
  box.appendChild(el("p", null, text || "No definition given."));
}

function defButton(member) {
  const b = el("button", { type: "button", className: "def-button", "aria-label": "What is " + member.title + "?",
    title: member.description || member.title }, "?");
  b.addEventListener("click", () => {
    showDefinition(member.title, member.description);
    const target = $("def-" + safeId(member.name));
    if (target) { target.classList.add("flash"); setTimeout(() => target.classList.remove("flash"), 1500); }
    app.ui.defFocus.scrollIntoView({ block: "nearest" });
  });
  return b;
}

function hoverDefinition(node, member) {
  node.title = member.description || member.title;
  node.addEventListener("mouseenter", () => showDefinition(member.title, member.description));
  node.addEventListener("focusin", () => showDefinition(member.title, member.description));
}

export function renderDefinitions() {
  const { ui, meta } = app;
  clear(ui.defList); clear(ui.defFocus);
  const add = (kind, m) => {
    const dt = el("dt", { id: "def-" + safeId(m.name) }, m.title);
    dt.appendChild(el("span", { className: "def-kind" }, " " + kind));
    ui.defList.appendChild(dt);
    ui.defList.appendChild(el("dd", null, m.description || "No definition given."));
  };
  meta.measures.forEach((m) => add("measure", m));
  meta.dims.forEach((d) => add("dimension", d));
}

function checkbox(id, name, value, labelText, checked, onChange) {
  const wrap = el("div", { className: "option" });
  const input = el("input", { type: "checkbox", id, name, value });
  input.checked = !!checked;
  input.addEventListener("change", onChange);
  wrap.appendChild(input);
  wrap.appendChild(el("label", { for: id }, labelText));
  return wrap;
}

export function renderDatasetSelect() {
  const { ui, meta, state } = app;
  clear(ui.dataset);
  for (const ds of app.datasets) {
    const o = el("option", { value: ds.name }, ds.title);
    if (ds.name === state.dataset) o.selected = true;
    ui.dataset.appendChild(o);
  }
  ui.datasetDescription.textContent = meta.description;
  // R1: which measure counts records (a person once per snapshot) and which distinct people
  const rule = meta.counting && meta.counting.rule;
  ui.countingNote.textContent = rule || "";
  ui.countingNote.hidden = !rule;
}

function renderMeasures() {
  const { ui, meta, state } = app;
  clear(ui.measureOptions);
  for (const m of meta.measures) {
    const row = checkbox("m-" + safeId(m.name), "measures", m.name, m.title, state.measures.indexOf(m.name) >= 0,
      (ev) => { toggle(state.measures, m.name, ev.target.checked); changed(); });
    row.setAttribute("data-name", m.name);
    if (!m.available) {
      row.classList.add("unavailable");
      row.appendChild(el("span", { className: "unavailable-note", title: m.unavailableBecause }, " (unavailable in this data)"));
    }
    row.appendChild(defButton(m));
    hoverDefinition(row, m);
    ui.measureOptions.appendChild(row);
  }
}

// The year dimension (metadata year_dimension): its filter, and whether to break down by it.
function renderYears() {
  const { ui, meta, state } = app;
  const yd = meta.yearDim;
  ui.years.hidden = !yd;
  ui.snapshotDate.textContent = meta.snapshotDate ? "(" + meta.snapshotDate + ")" : "";
  ui.yearsTitle.textContent = meta.yearLegend || "Years";
  clear(ui.yearOptions);
  if (!yd) return;
  ui.byYear.checked = state.dims.indexOf(yd.name) >= 0;
  hoverDefinition(ui.years, yd);
  const fy = state.filters[yd.name] || [];
  for (const c of yd.codes) {
    ui.yearOptions.appendChild(checkbox("y-" + safeId(c.code), yd.name, c.code, c.label, fy.indexOf(c.code) >= 0,
      (ev) => { setFilter(yd.name, c.code, ev.target.checked); changed(); }));
  }
}

// Dimensions to break down by; one the metadata makes available only with other choices (R13)
// is listed in a note with the server's own statement of the rule.
function renderDimensions() {
  const { ui, meta, state } = app;
  const yd = meta.yearDim;
  clear(ui.dimensionOptions);
  const hidden = [];
  for (const d of meta.dims) {
    if (yd && d.name === yd.name) continue;
    if (!allowed(d)) { hidden.push(d); continue; }
    const row = checkbox("d-" + safeId(d.name), "dimensions", d.name, d.title, state.dims.indexOf(d.name) >= 0,
      (ev) => { toggle(state.dims, d.name, ev.target.checked); changed(); });
    row.setAttribute("data-name", d.name);
    row.appendChild(defButton(d));
    hoverDefinition(row, d);
    ui.dimensionOptions.appendChild(row);
  }
  // One sentence per distinct availability, worded from the metadata's alternatives.
  const groups = new Map();
  for (const d of hidden) {
    const key = JSON.stringify(d.availableWhen);
    if (!groups.has(key)) groups.set(key, { alts: d.availableWhen, titles: [], rules: new Set() });
    groups.get(key).titles.push(d.title);
    if (d.rule) groups.get(key).rules.add(d.rule);
  }
  ui.r13Note.textContent = Array.from(groups.values(), (g) => g.titles.join(", ") +
    (g.titles.length > 1 ? " become" : " becomes") + " available when you " + availabilityText(g.alts) + ".").join(" ");
  ui.r13Note.title = Array.from(groups.values(), (g) => Array.from(g.rules).join(" ")).join(" ");
  ui.r13Note.hidden = hidden.length === 0;
}

function codeLabel(dimName, code) {
  const d = dim(dimName);
  const c = d && d.codes.find((x) => x.code === String(code));
  return c ? c.label : String(code);
}

// "break down by Offender status and keep only Pretrial, or only Sentenced, in the Offender
// status filter": the alternatives of available_when in words.
function availabilityText(alts) {
  const dims = [];
  const kept = new Map();
  for (const alt of alts) {
    alt.dimensions.forEach((n) => { if (dims.indexOf(n) < 0) dims.push(n); });
    for (const [k, codes] of Object.entries(alt.filters)) {
      kept.set(k, (kept.get(k) || []).concat([codes.map((c) => codeLabel(k, c)).join(" + ")]));
    }
  }
  let text = "break down by " + dims.map(dimTitle).join(" and ");
  for (const [k, options] of kept) text += " and keep only " + options.join(", or only ") + ", in the " + dimTitle(k) + " filter";
  return text;
}

// Filters: one multi-select of codes per available dimension
function renderFilters() {
  const { ui, meta, state } = app;
  const yd = meta.yearDim;
  const openNow = {};
  ui.filterList.querySelectorAll("details[open]").forEach((det) => { openNow[det.getAttribute("data-name")] = true; });
  clear(ui.filterList);
  for (const d of meta.dims) {
    if ((yd && d.name === yd.name) || !allowed(d) || !d.codes.length) continue;
    const sel = state.filters[d.name] || [];
    const det = el("details", { className: "filter", "data-name": d.name });
    if (openNow[d.name]) det.open = true;
    const sum = el("summary", null, d.title);
    sum.appendChild(el("span", { className: "count" }, sel.length ? " (" + sel.length + " of " + d.codes.length + ")" : " (all)"));
    det.appendChild(sum);
    hoverDefinition(sum, d);
    const fs = el("fieldset", { className: "filter-values" });
    fs.appendChild(el("legend", { className: "sr-only" }, "Keep only these values of " + d.title));
    for (const c of d.codes) {
      fs.appendChild(checkbox("f-" + safeId(d.name) + "-" + safeId(c.code), d.name, c.code, c.label, sel.indexOf(c.code) >= 0,
        (ev) => { setFilter(d.name, c.code, ev.target.checked); changed(); }));
    }
    if (sel.length) {
      const clr = el("button", { type: "button", className: "link-button" }, "Clear " + d.title + " filter");
      clr.addEventListener("click", () => { delete state.filters[d.name]; changed(); focusSummary(d.name); });
      fs.appendChild(clr);
    }
    det.appendChild(fs);
    ui.filterList.appendChild(det);
  }
}

function focusSummary(name) {
  const det = app.ui.filterList.querySelector('details[data-name="' + CSS.escape(name) + '"]');
  if (det) { const s = det.querySelector("summary"); if (s) s.focus(); }
}

export function renderControls() {
  renderMeasures();
  renderYears();
  renderDimensions();
  renderFilters();
  renderSortControl();
}

// Sort: one column among the chosen dimensions and measures, ascending or descending. The
// first order key is the one shown; keys after it (from a saved link) are kept until the
// user picks another column.
function renderSortControl() {
  const { ui, state } = app;
  const current = state.order.length ? state.order[0] : "";
  const field = current ? orderField(current) : "";
  clear(ui.sortBy);
  ui.sortBy.appendChild(el("option", { value: "" }, "Breakdown order (default)"));
  state.dims.forEach((n) => ui.sortBy.appendChild(el("option", { value: n }, dimTitle(n))));
  state.measures.forEach((n) => ui.sortBy.appendChild(el("option", { value: n }, measureTitle(n))));
  ui.sortBy.value = field;
  const desc = current ? orderDesc(current) : false;
  ui.sortAsc.checked = !desc;
  ui.sortDesc.checked = desc;
  ui.sortAsc.disabled = ui.sortDesc.disabled = !field;
}

export function setSort(field, desc) {
  app.state.order = field ? [(desc ? "-" : "") + field] : [];
  changed();
}

// Table headers sort too: a new column starts ascending (a dimension) or descending (a
// measure: largest first); the sorted column again reverses it.
export function sortByColumn(field, isMeasure) {
  const current = app.state.order.length ? app.state.order[0] : "";
  if (current && orderField(current) === field) setSort(field, !orderDesc(current));
  else setSort(field, !!isMeasure);
}

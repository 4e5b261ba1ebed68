// The page's choices: kept valid against the metadata, written to and read from the page's
// address (/?dataset=..&<the API's parameters>), and described in words.

import { app, dim, dimTitle, measure, measureTitle } from "./store.js";

const enc = encodeURIComponent;

// An order key is a field name, led by "-" for descending (the API's `order` syntax).
export function orderField(o) { return String(o).replace(/^[+-]/, ""); }
export function orderDesc(o) { return String(o).charAt(0) === "-"; }

export function toggle(list, name, on) {
  const i = list.indexOf(name);
  if (on && i < 0) list.push(name);
  if (!on && i >= 0) list.splice(i, 1);
}

export function setFilter(name, code, on) {
  const f = app.state.filters[name] || [];
  toggle(f, code, on);
  if (f.length) app.state.filters[name] = f; else delete app.state.filters[name];
}

function sameCodes(a, b) {
  return a.length === b.length && a.every((c) => b.indexOf(c) >= 0);
}

// R13 as the metadata states it (dimensions[].available_when): a dimension is available when
// the choices match one of the listed questions. The page knows nothing of the rule itself.
export function allowed(d, state = app.state) {
  if (!d.availableWhen) return true;
  return d.availableWhen.some((alt) => alt.dimensions.every((n) => state.dims.indexOf(n) >= 0) &&
    Object.keys(alt.filters).every((k) => sameCodes(state.filters[k] || [], alt.filters[k].map(String))));
}

// Keep names known to the metadata, in metadata order (so the same choice always spells the
// same request), and drop what is not available with the other choices.
export function enforceRules() {
  const { meta, state } = app;
  // Known codes first, in code order: availability (R13) is decided on the codes that remain.
  for (const k of Object.keys(state.filters)) {
    const d = dim(k);
    if (!d) { delete state.filters[k]; continue; }
    const order = d.codes.map((c) => c.code);
    const vals = state.filters[k].filter((c) => order.indexOf(c) >= 0);
    vals.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    if (vals.length) state.filters[k] = vals; else delete state.filters[k];
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (const d of meta.dims) {
      if (allowed(d)) continue;
      if (state.dims.indexOf(d.name) >= 0) { state.dims = state.dims.filter((n) => n !== d.name); changed = true; }
      if (state.filters[d.name]) { delete state.filters[d.name]; changed = true; }
    }
  }
  state.dims = meta.dims.map((d) => d.name).filter((n) => state.dims.indexOf(n) >= 0);
  state.measures = meta.measures.map((m) => m.name).filter((n) => state.measures.indexOf(n) >= 0);
  // Sort keys may only name a chosen dimension or measure (the API's rule); one key per field.
  const seen = {};
  state.order = (state.order || []).filter((o) => {
    const f = orderField(o);
    if (seen[f] || (state.dims.indexOf(f) < 0 && state.measures.indexOf(f) < 0)) return false;
    seen[f] = true;
    return true;
  });
}

// The choices as the API's parameters (the request; the answer names the canonical URL).
export function queryString() {
  const { meta, state } = app;
  const parts = [];
  if (state.dims.length) parts.push("dimensions=" + state.dims.map(enc).join(","));
  if (state.measures.length) parts.push("measures=" + state.measures.map(enc).join(","));
  for (const d of meta.dims) {
    const f = state.filters[d.name];
    if (f && f.length) parts.push(enc(d.name) + "=" + f.map(enc).join(","));
  }
  if (state.order.length) parts.push("order=" + state.order.map(enc).join(","));
  if (state.offset > 0) parts.push("offset=" + state.offset);
  return parts.join("&");
}

export function pageUrl() {
  const qs = queryString();
  return window.location.pathname + "?dataset=" + enc(app.state.dataset) + (qs ? "&" + qs : "");
}

export function splitValues(v) {
  return v.split(",").map((s) => s.trim()).filter((s) => s.length);
}

export function parsePageUrl() {
  const params = new URLSearchParams(window.location.search);
  const out = { dataset: params.get("dataset"), dims: null, measures: null, filters: {}, order: [], offset: 0 };
  params.forEach((value, key) => {
    if (key === "dataset" || key === "format" || key === "limit") return;
    if (key === "order") out.order = out.order.concat(splitValues(value));
    else if (key === "offset") out.offset = Math.max(0, parseInt(value, 10) || 0);
    else if (key === "dimensions") out.dims = (out.dims || []).concat(splitValues(value));
    else if (key === "measures") out.measures = (out.measures || []).concat(splitValues(value));
    else out.filters[key] = (out.filters[key] || []).concat(splitValues(value));
  });
  return out;
}

export function defaultState(name) {
  const { meta } = app;
  return {
    dataset: name,
    dims: meta.yearDim ? [meta.yearDim.name] : [],
    measures: meta.defaultMeasures.slice(),
    filters: {},
    order: [],
    offset: 0,
  };
}

export function applyPageState(name, fromPage) {
  const state = defaultState(name);
  app.state = state;
  if (!fromPage) return;
  if (fromPage.dims) state.dims = fromPage.dims.slice();
  if (fromPage.measures) state.measures = fromPage.measures.slice();
  state.order = fromPage.order.slice();
  state.offset = fromPage.offset || 0;
  for (const k of Object.keys(fromPage.filters)) state.filters[k] = fromPage.filters[k].slice();
}

// What a shared link asked for that this data does not have (an unknown dimension, measure or
// filter, a code or year no longer published): named on the page, never dropped silently.
export function linkProblems(fromPage) {
  const out = [];
  if (!fromPage) return out;
  for (const n of fromPage.dims || []) {
    const d = dim(n);
    if (!d) out.push("dimension \u201c" + n + "\u201d");
    else if (app.state.dims.indexOf(n) < 0) out.push("dimension \u201c" + d.title + "\u201d (not available with these choices)");
  }
  for (const n of fromPage.measures || []) if (!measure(n)) out.push("measure \u201c" + n + "\u201d");
  for (const k of Object.keys(fromPage.filters)) {
    const d = dim(k);
    if (!d) { out.push("filter \u201c" + k + "\u201d"); continue; }
    const known = d.codes.map((c) => c.code);
    for (const c of fromPage.filters[k]) if (known.indexOf(c) < 0) out.push(d.title + " \u201c" + c + "\u201d");
  }
  return out;
}

export function filterText() {
  const parts = [];
  for (const d of app.meta.dims) {
    const f = app.state.filters[d.name];
    if (!f || !f.length) continue;
    const labels = f.map((c) => { const hit = d.codes.find((x) => x.code === c); return hit ? hit.label : c; });
    parts.push(d.title + ": " + labels.join(", "));
  }
  return parts.join("; ");
}

export function describeQuestion() {
  const { meta, state } = app;
  const m = state.measures.map(measureTitle).join(", ");
  const d = state.dims.map(dimTitle).join(", ");
  const f = filterText();
  return meta.title + ": " + (m || "no measure") + (d ? " by " + d : "") + (f ? " (" + f + ")" : " (no filters)");
}

// The file name says what is inside: dataset, dimensions, filters and data version (the server
// names its CSV the same way).
export function downloadName(ext, version) {
  const { meta, state } = app;
  const parts = ["crosstrack", state.dataset];
  if (state.dims.length) parts.push("by-" + state.dims.join("-"));
  for (const d of meta.dims) {
    const f = state.filters[d.name];
    if (f && f.length) parts.push(d.name + "-" + f.join("+"));
  }
  if (version) parts.push(String(version).charAt(0) === "v" ? String(version) : "v" + version);
  return parts.join("_").replace(/[^A-Za-z0-9_+.-]/g, "-").slice(0, 200) + "." + ext;
}

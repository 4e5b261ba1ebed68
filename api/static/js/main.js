/* Crosstrack query builder: the entry module (index.html loads it with type="module").
 *
 * Everything the page offers comes from the API's own metadata (GET /api/v1 and
 * GET /api/v1/{dataset}/metadata), read as /openapi.json documents it; nothing about datasets,
 * dimensions, codes, measures or rules (R13) is written here. The page's address carries the
 * choices (/?dataset=..&<the API's parameters>) so a saved link restores them; the URL shown at
 * the top and the downloads are copied from the answer (meta.canonical_url, meta.links).
 */

import { absolute, clear, el, findElements } from "./dom.js";
import { fetchJSON, listDatasets, loadMetadata, requestUrl } from "./api.js";
import { app, measure } from "./store.js";
import {
  applyPageState, defaultState, describeQuestion, downloadName, enforceRules, linkProblems,
  pageUrl, parsePageUrl, queryString, toggle,
} from "./state.js";
import { renderControls, renderDatasetSelect, renderDefinitions, setSort } from "./controls.js";
import {
  clearResults, hideError, renderNotes, renderResults, resultDims, resultMeasures, setPager, showError,
} from "./results.js";
import { renderChart } from "./chart.js";

let fetchSeq = 0;
let controller = null;
let debounceTimer = null;
let loadSeq = 0;  // the latest dataset load wins (Back/Forward can start several)

function showUrl(url, st) {
  const { apiUrl } = app.ui;
  apiUrl.textContent = url;
  apiUrl.href = url;
  apiUrl.setAttribute("data-state", st);
}

// The downloads are the answer's own links: JSON, and the CSV that opens with '#' lines
// naming the question, filters and data version (csv_context=comments).
function setDownloads(links, version) {
  const { ui } = app;
  [[ui.dlJson, links && links.json, "json"], [ui.dlCsv, links && links.csv_with_context, "csv"]].forEach(([a, href, ext]) => {
    if (href) {
      a.href = absolute(href);
      a.setAttribute("download", downloadName(ext, version));
      a.removeAttribute("aria-disabled");
    } else {
      a.removeAttribute("href");
      a.setAttribute("aria-disabled", "true");
    }
  });
}

function showLinkNotice(problems) {
  const { linkNotice } = app.ui;
  clear(linkNotice);
  if (!problems.length) { linkNotice.hidden = true; return; }
  linkNotice.appendChild(el("strong", null, "This link asked for something this data does not have: "));
  linkNotice.appendChild(el("span", null, problems.join("; ") + ". "));
  linkNotice.appendChild(el("span", null, "Showing instead: " + describeQuestion() + "."));
  linkNotice.hidden = false;
}

// history: "push" (a user's change: Back returns to the query before it), "replace" (the
// page normalising the address it was opened with) or "none" (restoring from Back/Forward).
function changed(keepPage, history) {
  if (keepPage !== true) app.state.offset = 0;
  const active = document.activeElement && document.activeElement.id;
  enforceRules();
  renderControls();
  if (active && document.getElementById(active)) document.getElementById(active).focus();
  writeHistory(history || "push");
  dropInFlight();
  // Until the answer names its canonical URL, the bar shows the request being made.
  showUrl(absolute(requestUrl(app.state.dataset, queryString())), "pending");
  debounceTimer = setTimeout(runQuery, 250);
}

// An answer still in flight, or a request not yet sent, is for the previous question: drop it
// the moment the question changes. Left until the next request starts, it could land in between
// and be shown as canonical for choices it did not have.
function dropInFlight() {
  fetchSeq++;
  if (controller) { controller.abort(); controller = null; }
  clearTimeout(debounceTimer);
}

function writeHistory(mode) {
  if (mode === "none") return;
  const url = pageUrl();
  const here = window.location.pathname + window.location.search;
  if (mode === "push" && url !== here) window.history.pushState({ crosstrack: true }, "", url);
  else window.history.replaceState({ crosstrack: true }, "", url);
}

function runQuery() {
  const { ui, state } = app;
  hideError();  // the previous question's request was dropped when it changed (dropInFlight)
  if (!state.measures.length) {
    ui.results.removeAttribute("aria-busy");
    ui.summary.textContent = "Choose at least one measure to see results.";
    setDownloads(null, null);
    clearResults();
    return;
  }
  const seq = ++fetchSeq;
  controller = new AbortController();
  ui.results.setAttribute("aria-busy", "true");
  ui.summary.textContent = "Loading\u2026";
  const asked = requestUrl(state.dataset, queryString());
  fetchJSON(asked, controller.signal).then((body) => {
    if (seq !== fetchSeq) return;
    ui.results.removeAttribute("aria-busy");
    showUrl(absolute(body.meta.canonical_url), "canonical");
    setDownloads(body.meta.links, body.meta.data_version);
    setPager(body.meta);
    app.lastResult = body;
    adoptAnswered(body);
    renderResults(body);
  }).catch((err) => {
    if (err && err.name === "AbortError") return;
    if (seq !== fetchSeq) return;
    ui.results.removeAttribute("aria-busy");
    showUrl(absolute(asked), "error");
    setDownloads(null, null);
    clearResults();
    ui.summary.textContent = "";
    showError(err);
  });
}

// The API may add to a question (a mean or median always comes with the count it follows,
// P2): show the controls as the question was answered, so the page, its address and the
// canonical URL agree.
function adoptAnswered(body) {
  const { state } = app;
  const added = resultMeasures(body).filter((n) => measure(n) && state.measures.indexOf(n) < 0);
  if (!added.length) return;
  added.forEach((n) => state.measures.push(n));
  enforceRules();
  const active = document.activeElement && document.activeElement.id;
  renderControls();
  if (active && document.getElementById(active)) document.getElementById(active).focus();
  window.history.replaceState(null, "", pageUrl());
}

function goPage(button) {
  const off = button.getAttribute("data-offset");
  if (off === "" || off === null) return;
  app.state.offset = parseInt(off, 10) || 0;
  changed(true);
}

function loadDataset(name, fromPage, history, asked) {
  const seq = ++loadSeq;
  // The previous dataset's answer is not this one's, even while this one's metadata loads.
  dropInFlight();
  app.ui.apiUrl.setAttribute("data-state", "pending");
  return loadMetadata(name).then((meta) => {
    if (seq !== loadSeq) return;
    app.meta = meta;
    applyPageState(name, fromPage);
    enforceRules();
    showLinkNotice((asked || []).concat(linkProblems(fromPage)));
    renderDatasetSelect();
    renderDefinitions();
    renderNotes(null);
    changed(true, history);
  }, (err) => {
    if (seq === loadSeq) app.ui.apiUrl.setAttribute("data-state", "error");
    throw err;
  });
}

// Back/Forward: the address holds the query; bring the controls and results back to it.
function restoreFromAddress() {
  const fromPage = parsePageUrl();
  const names = app.datasets.map((d) => d.name);
  if (!names.length) return;
  const name = fromPage.dataset && names.indexOf(fromPage.dataset) >= 0 ? fromPage.dataset : names[0];
  const own = fromPage.dataset === name ? fromPage : null;
  if (app.meta && app.state && name === app.state.dataset) {
    applyPageState(name, own);
    enforceRules();
    showLinkNotice(linkProblems(own));
    app.ui.dataset.value = name;
    changed(true, "none");
  } else {
    loadDataset(name, own, "none").catch(showError);
  }
}

function copyUrl() {
  const { ui } = app;
  const text = ui.apiUrl.textContent;
  const done = (ok) => {
    ui.copyStatus.textContent = ok ? "Copied." : "Copy failed: select the URL and copy it.";
    setTimeout(() => { ui.copyStatus.textContent = ""; }, 3000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done(true), () => done(fallbackCopy(text)));
  } else {
    done(fallbackCopy(text));
  }
}

function fallbackCopy(text) {
  const ta = el("textarea", { readonly: true, className: "sr-only" });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  document.body.removeChild(ta);
  return ok;
}

function redrawChart() {
  const body = app.lastResult;
  if (body) renderChart(body.data, resultDims(body), resultMeasures(body));
}

function wire() {
  const { ui } = app;
  ui.dataset.addEventListener("change", () => { loadDataset(ui.dataset.value, null, "push").catch(showError); });
  ui.byYear.addEventListener("change", () => {
    if (!app.meta.yearDim) return;
    toggle(app.state.dims, app.meta.yearDim.name, ui.byYear.checked); changed();
  });
  ui.reset.addEventListener("click", () => { app.state = defaultState(app.state.dataset); changed(); });
  ui.chartMeasure.addEventListener("change", redrawChart);
  ui.copy.addEventListener("click", copyUrl);
  ui.sortBy.addEventListener("change", () => setSort(ui.sortBy.value, ui.sortDesc.checked));
  [ui.sortAsc, ui.sortDesc].forEach((r) => r.addEventListener("change", () => {
    if (ui.sortBy.value) setSort(ui.sortBy.value, ui.sortDesc.checked);
  }));
  window.addEventListener("popstate", restoreFromAddress);
  ui.pageNext.addEventListener("click", () => goPage(ui.pageNext));
  ui.pagePrev.addEventListener("click", () => goPage(ui.pagePrev));
  let resizeTimer = null, lastWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redrawChart, 150);
  });
  [ui.dlJson, ui.dlCsv].forEach((a) => a.addEventListener("click", (ev) => {
    if (a.getAttribute("aria-disabled") === "true") ev.preventDefault();
  }));
  document.getElementById("controls").addEventListener("submit", (ev) => ev.preventDefault());
}

function init() {
  app.ui = findElements();
  app.changed = changed;
  wire();
  listDatasets().then((datasets) => {
    app.datasets = datasets;
    if (!datasets.length) throw new Error("The API lists no datasets.");
    const fromPage = parsePageUrl();
    const names = datasets.map((d) => d.name);
    const name = fromPage.dataset && names.indexOf(fromPage.dataset) >= 0 ? fromPage.dataset : names[0];
    const asked = fromPage.dataset && fromPage.dataset !== name ? ["dataset \u201c" + fromPage.dataset + "\u201d"] : [];
    return loadDataset(name, fromPage.dataset === name ? fromPage : null, "replace", asked);
  }).catch((err) => {
    showUrl("", "error");
    showError(err);
  });
}

// Module scripts run after the document is parsed.
init();

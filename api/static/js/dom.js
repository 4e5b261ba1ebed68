// DOM helpers. Every text from the API goes in with textContent or setAttribute, never as HTML.

export function $(id) { return document.getElementById(id); }

export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "className") node.className = v;
      else if (k === "hidden") node.hidden = true;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k === "className" ? "class" : k, String(v));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

export function safeId(s) { return String(s).replace(/[^A-Za-z0-9_-]/g, "_"); }

// A key of the API's disclosure note ("published_only_with_count") as a heading.
export function humanize(key) {
  const s = String(key).replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function absolute(url) {
  try { return new URL(url, window.location.href).href; } catch (e) { return String(url); }
}

// The page's elements, looked up once.
export function findElements() {
  return {
    apiUrl: $("api-url"), copy: $("copy-url"), copyStatus: $("copy-status"),
    dataset: $("dataset"), datasetDescription: $("dataset-description"), countingNote: $("counting-note"),
    measureOptions: $("measure-options"), snapshotDate: $("snapshot-date"), yearsTitle: $("years-title"),
    years: $("years"), byYear: $("by-year"), yearOptions: $("year-options"),
    dimensionOptions: $("dimension-options"), r13Note: $("r13-note"), filterList: $("filter-list"),
    reset: $("reset"), results: $("results"), error: $("error"), summary: $("summary"),
    dlJson: $("download-json"), dlCsv: $("download-csv"), linkNotice: $("link-notice"),
    chart: $("chart"), chartCaption: $("chart-caption"), chartSvg: $("chart-svg"), chartLegend: $("chart-legend"),
    chartMeasure: $("chart-measure"), chartMeasureWrap: $("chart-measure-wrap"), chartNone: $("chart-none"),
    thead: document.querySelector("#table thead"), tbody: document.querySelector("#table tbody"),
    tableCaption: $("table-caption"), suppressedNote: $("suppressed-note"), pager: $("pager"),
    pageNext: $("page-next"), pagePrev: $("page-prev"), pageInfo: $("page-info"),
    disclosureBody: $("disclosure-body"), dataVersion: $("data-version"),
    defList: $("definition-list"), defFocus: $("definition-focus"),
    sortBy: $("sort-by"), sortAsc: $("sort-asc"), sortDesc: $("sort-desc"),
  };
}

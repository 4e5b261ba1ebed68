/* Crosstrack query builder.
 *
 * Everything the page offers comes from the API's own metadata (GET /api/v1 and
 * GET /api/v1/{dataset}/metadata); nothing about datasets, dimensions, codes or measures is
 * written here. Every label from the API is put into the page with textContent, never as HTML.
 * The page's address carries the query (/?dataset=..&<the API's parameters>) so a saved link
 * restores it; the URL shown at the top is the API's canonical URL from the response meta.
 */
(function () {
  "use strict";

  var API_ROOT = "/api/v1";
  var YEAR_NAMES = ["snapshot_year", "year", "snapshot", "release_year"];  // release_year: the recidivism cohorts
  // measure kinds that may be withheld on their own in a published row (docs/recidivism.md RC8, RC12)
  var OWN_RULE_KINDS = ["cohort", "event", "rate"];
  var PALETTE = ["#1f5fa8", "#c4511f", "#2a8a4a", "#8a3ca8", "#a8841f", "#1f8a8a", "#a81f5f", "#555555"];
  var MAX_TABLE_ROWS = 2000;
  var MAX_BAR_CATEGORIES = 40;
  var MAX_LINE_SERIES = 8;

  var ui = {};
  var datasets = [];
  var meta = null;          // normalized metadata of the chosen dataset
  var state = null;         // {dataset, dims: [], measures: [], filters: {dim: [codes]}, order: ["-x", "a"], offset}
  var lastResult = null;    // last JSON envelope shown
  var fetchSeq = 0;
  var controller = null;
  var debounceTimer = null;
  var headerFocus = null;   // the header button a keyboard user sorted with, focused again after the answer
  var loadSeq = 0;          // the latest dataset load wins (Back/Forward can start several)

  // ---------------------------------------------------------------- helpers
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "className") node.className = v;
        else if (k === "hidden") node.hidden = true;
        else node.setAttribute(k, v === true ? "" : String(v));
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs, text) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k === "className" ? "class" : k, String(attrs[k])); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function safeId(s) { return String(s).replace(/[^A-Za-z0-9_-]/g, "_"); }

  function asArray(x) {
    if (Array.isArray(x)) return x;
    if (x && typeof x === "object") {
      return Object.keys(x).map(function (k) {
        var v = x[k];
        if (v && typeof v === "object" && !Array.isArray(v)) {
          var copy = {}; Object.keys(v).forEach(function (kk) { copy[kk] = v[kk]; });
          if (copy.name === undefined) copy.name = k;
          return copy;
        }
        return { name: k, title: v };
      });
    }
    return [];
  }

  function shortName(name) {
    var s = String(name);
    var i = s.lastIndexOf(".");
    return i >= 0 ? s.slice(i + 1) : s;
  }

  function pick(obj, keys) {
    if (!obj) return undefined;
    for (var i = 0; i < keys.length; i++) {
      var v = obj[keys[i]];
      if (v !== undefined && v !== null && v !== "") return v;
    }
    return undefined;
  }

  function humanize(key) {
    var s = String(key).replace(/_/g, " ");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function absolute(url) {
    try { return new URL(url, window.location.href).href; } catch (e) { return String(url); }
  }

  // ---------------------------------------------------------------- metadata
  function normalizeCodes(raw) {
    return asArray(raw).map(function (c) {
      if (c === null || typeof c !== "object") return { code: String(c), label: String(c) };
      var code = pick(c, ["code", "value", "name", "id"]);
      return {
        code: String(code),
        label: String(pick(c, ["label", "title"]) || code),
        description: pick(c, ["description", "definition"]) || ""
      };
    });
  }

  function normalizeRequires(r) {
    if (!r) return null;
    if (typeof r === "string") return { dimension: shortName(r), single: true };
    var dim = pick(r, ["dimension", "dim", "name"]);
    if (!dim) return null;
    return {
      dimension: shortName(dim),
      single: !!pick(r, ["single_filter", "singleFilter", "single"]),
      values: r.values || (r.value !== undefined ? [r.value] : null)
    };
  }

  function normalizeMember(m) {
    var mm = m.meta || {};
    var name = shortName(pick(m, ["name", "id", "key"]));
    return {
      name: name,
      title: String(pick(m, ["title", "shortTitle", "label"]) || humanize(name)),
      description: String(pick(m, ["description", "definition"]) || pick(mm, ["description", "definition"]) || ""),
      codes: normalizeCodes(pick(m, ["codes", "values", "allowed"]) || mm.codes),
      requires: normalizeRequires(m.requires || mm.requires),
      format: pick(m, ["format", "type"]) || "",
      kind: pick(m, ["disclosure_kind", "kind"]) || (mm.disclosure && mm.disclosure.kind) || "",
      // the metadata marks measures this data version cannot answer (docs/recidivism.md: court data)
      available: m.available !== false,
      unavailableBecause: m.unavailable_because ? String(m.unavailable_because) : ""
    };
  }

  function normalizeMeta(raw, name) {
    var r = raw.dataset && typeof raw.dataset === "object" ? Object.assign({}, raw, raw.dataset) : raw;
    var dims = asArray(pick(r, ["dimensions"])).map(normalizeMember);
    var measures = asArray(pick(r, ["measures"])).map(normalizeMember);
    var yearDim = null;
    for (var i = 0; i < YEAR_NAMES.length && !yearDim; i++) {
      for (var j = 0; j < dims.length; j++) if (dims[j].name === YEAR_NAMES[i]) { yearDim = dims[j]; break; }
    }
    var years = pick(r, ["snapshot_years", "snapshotYears", "years"]);
    years = asArray(years).map(function (y) { return typeof y === "object" ? pick(y, ["code", "year", "value"]) : y; });
    if (yearDim && !yearDim.codes.length) {
      yearDim.codes = years.map(function (y) { return { code: String(y), label: String(y), description: "" }; });
    }
    var dataVersion = pick(r, ["data_version", "dataVersion", "version"]);
    if (dataVersion && typeof dataVersion === "object") dataVersion = pick(dataVersion, ["version_id", "id", "version"]);
    return {
      name: typeof r.dataset === "string" ? r.dataset : (pick(r, ["name", "id"]) || name),
      title: String(pick(r, ["title", "label"]) || humanize(name)),
      description: String(pick(r, ["description"]) || ""),
      dims: dims,
      measures: measures,
      yearDim: yearDim,
      years: years,
      disclosure: pick(r, ["disclosure", "disclosure_notes", "notes"]),
      defaultMeasures: asArray(pick(r, ["default_measures", "defaultMeasures"])).map(function (x) { return shortName(typeof x === "object" ? x.name : x); }),
      dataVersion: dataVersion,
      snapshotDate: pick(r, ["snapshot_date", "snapshotDate"]) || "",
      counting: pick(r, ["counting"]) || null,
      loadedAt: pick(r, ["loaded_at", "loadedAt"]),
      raw: raw
    };
  }

  function dim(name) {
    for (var i = 0; i < meta.dims.length; i++) if (meta.dims[i].name === name) return meta.dims[i];
    return null;
  }
  function measure(name) {
    for (var i = 0; i < meta.measures.length; i++) if (meta.measures[i].name === name) return meta.measures[i];
    return null;
  }

  function fetchJSON(url, signal) {
    return fetch(url, { headers: { Accept: "application/json" }, signal: signal }).then(function (resp) {
      return resp.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!resp.ok) {
          var err = new Error((body && body.error && body.error.message) || ("HTTP " + resp.status));
          err.body = body; err.status = resp.status;
          throw err;
        }
        if (body === null) throw new Error("The API did not answer with JSON.");
        return body;
      });
    });
  }

  // ---------------------------------------------------------------- state <-> URLs
  // R13: a dimension with `requires` is allowed only when its required dimension is grouped by
  // and exactly one of that dimension's codes is selected in the filters.
  function allowed(d) {
    if (!d.requires) return true;
    var req = d.requires.dimension;
    if (state.dims.indexOf(req) < 0) return false;
    var f = state.filters[req] || [];
    if (d.requires.single && f.length !== 1) return false;
    if (!d.requires.single && f.length < 1) return false;
    if (d.requires.values && d.requires.values.length) {
      for (var i = 0; i < f.length; i++) if (d.requires.values.map(String).indexOf(f[i]) < 0) return false;
    }
    return true;
  }

  function enforceRules() {
    // Keep names known to the metadata, in metadata order, so the same choice always spells
    // the same URL whatever order it was clicked in.
    var changed = true;
    while (changed) {
      changed = false;
      meta.dims.forEach(function (d) {
        if (!allowed(d)) {
          if (state.dims.indexOf(d.name) >= 0) { state.dims = state.dims.filter(function (n) { return n !== d.name; }); changed = true; }
          if (state.filters[d.name]) { delete state.filters[d.name]; changed = true; }
        }
      });
    }
    state.dims = meta.dims.map(function (d) { return d.name; }).filter(function (n) { return state.dims.indexOf(n) >= 0; });
    state.measures = meta.measures.map(function (m) { return m.name; }).filter(function (n) { return state.measures.indexOf(n) >= 0; });
    // Sort keys may only name a chosen dimension or measure (the API's rule); one key per field.
    var seenOrder = {};
    state.order = (state.order || []).filter(function (o) {
      var f = orderField(o);
      if (seenOrder[f] || (state.dims.indexOf(f) < 0 && state.measures.indexOf(f) < 0)) return false;
      seenOrder[f] = true;
      return true;
    });
    Object.keys(state.filters).forEach(function (k) {
      var d = dim(k);
      if (!d) { delete state.filters[k]; return; }
      var order = d.codes.map(function (c) { return c.code; });
      var vals = state.filters[k].filter(function (c) { return order.indexOf(c) >= 0; });
      vals.sort(function (a, b) { return order.indexOf(a) - order.indexOf(b); });
      if (vals.length) state.filters[k] = vals; else delete state.filters[k];
    });
  }

  function enc(s) { return encodeURIComponent(s); }

  // An order key is a field name, led by "-" for descending (the API's `order` syntax).
  function orderField(o) { return String(o).replace(/^[+-]/, ""); }
  function orderDesc(o) { return String(o).charAt(0) === "-"; }

  function queryString() {
    var parts = [];
    if (state.dims.length) parts.push("dimensions=" + state.dims.map(enc).join(","));
    if (state.measures.length) parts.push("measures=" + state.measures.map(enc).join(","));
    meta.dims.forEach(function (d) {
      var f = state.filters[d.name];
      if (f && f.length) parts.push(enc(d.name) + "=" + f.map(enc).join(","));
    });
    if (state.order.length) parts.push("order=" + state.order.map(enc).join(","));
    if (state.offset > 0) parts.push("offset=" + state.offset);
    return parts.join("&");
  }

  function apiUrl(format) {
    var qs = queryString();
    if (format) qs = qs ? qs + "&format=" + format : "format=" + format;
    return API_ROOT + "/" + enc(state.dataset) + (qs ? "?" + qs : "");
  }

  function pageUrl() {
    var qs = queryString();
    return window.location.pathname + "?dataset=" + enc(state.dataset) + (qs ? "&" + qs : "");
  }

  function splitValues(v) {
    return v.split(",").map(function (s) { return s.trim(); }).filter(function (s) { return s.length; });
  }

  function parsePageUrl() {
    var params = new URLSearchParams(window.location.search);
    var out = { dataset: params.get("dataset"), dims: null, measures: null, filters: {}, order: [], offset: 0 };
    params.forEach(function (value, key) {
      if (key === "dataset" || key === "format" || key === "limit") return;
      if (key === "order") { out.order = out.order.concat(splitValues(value)); return; }
      if (key === "offset") { out.offset = Math.max(0, parseInt(value, 10) || 0); return; }
      if (key === "dimensions") out.dims = (out.dims || []).concat(splitValues(value));
      else if (key === "measures") out.measures = (out.measures || []).concat(splitValues(value));
      else out.filters[key] = (out.filters[key] || []).concat(splitValues(value));
    });
    return out;
  }

  function defaultState(name) {
    return {
      dataset: name,
      dims: meta.yearDim ? [meta.yearDim.name] : [],
      measures: meta.defaultMeasures.length ? meta.defaultMeasures.slice() : (meta.measures.length ? [meta.measures[0].name] : []),
      filters: {},
      order: [],
      offset: 0
    };
  }

  function withFormat(url, fmt) {
    var u = new URL(url, window.location.href);
    var search = u.search.replace(/^\?/, "");
    var parts = search ? search.split("&") : [];
    var found = false;
    parts = parts.map(function (p) {
      if (p.split("=")[0] === "format") { found = true; return "format=" + fmt; }
      return p;
    });
    if (!found) parts.push("format=" + fmt);
    u.search = "?" + parts.join("&");
    return u.href;
  }

  // ---------------------------------------------------------------- definitions panel
  function showDefinition(title, text) {
    var box = ui.defFocus;
    clear(box);
    box.appendChild(el("strong", null, title));
    box.appendChild(el("p", null, text || "No definition given."));
  }

  function defButton(member) {
    var b = el("button", { type: "button", className: "def-button", "aria-label": "What is " + member.title + "?",
      title: member.description || member.title }, "?");
    b.addEventListener("click", function () {
      showDefinition(member.title, member.description);
      var target = $("def-" + safeId(member.name));
      if (target) { target.classList.add("flash"); setTimeout(function () { target.classList.remove("flash"); }, 1500); }
      ui.defFocus.scrollIntoView({ block: "nearest" });
    });
    return b;
  }

  function hoverDefinition(node, member) {
    node.title = member.description || member.title;
    node.addEventListener("mouseenter", function () { showDefinition(member.title, member.description); });
    node.addEventListener("focusin", function () { showDefinition(member.title, member.description); });
  }

  function renderDefinitions() {
    clear(ui.defList); clear(ui.defFocus);
    function add(kind, m) {
      var dt = el("dt", { id: "def-" + safeId(m.name) }, m.title);
      dt.appendChild(el("span", { className: "def-kind" }, " " + kind));
      ui.defList.appendChild(dt);
      ui.defList.appendChild(el("dd", null, m.description || "No definition given."));
    }
    meta.measures.forEach(function (m) { add("measure", m); });
    meta.dims.forEach(function (d) { add("dimension", d); });
  }

  // ---------------------------------------------------------------- controls
  function checkbox(id, name, value, labelText, checked, onChange) {
    var wrap = el("div", { className: "option" });
    var input = el("input", { type: "checkbox", id: id, name: name, value: value });
    input.checked = !!checked;
    input.addEventListener("change", onChange);
    var label = el("label", { "for": id }, labelText);
    wrap.appendChild(input); wrap.appendChild(label);
    return wrap;
  }

  function renderDatasetSelect() {
    clear(ui.dataset);
    datasets.forEach(function (ds) {
      var o = el("option", { value: ds.name }, ds.title);
      if (ds.name === state.dataset) o.selected = true;
      ui.dataset.appendChild(o);
    });
    ui.datasetDescription.textContent = meta.description;
    // R1: which measure counts records (a person once per snapshot) and which distinct people
    var rule = meta.counting && meta.counting.rule;
    ui.countingNote.textContent = rule ? String(rule) : "";
    ui.countingNote.hidden = !rule;
  }

  function renderControls() {
    // Measures
    clear(ui.measureOptions);
    meta.measures.forEach(function (m) {
      var row = checkbox("m-" + safeId(m.name), "measures", m.name, m.title, state.measures.indexOf(m.name) >= 0, function (ev) {
        toggle(state.measures, m.name, ev.target.checked); changed();
      });
      row.setAttribute("data-name", m.name);
      if (!m.available) {
        row.classList.add("unavailable");
        row.appendChild(el("span", { className: "unavailable-note", title: m.unavailableBecause }, " (unavailable in this data)"));
      }
      row.appendChild(defButton(m));
      hoverDefinition(row, m);
      ui.measureOptions.appendChild(row);
    });

    // Snapshot years: the year dimension's filter, and whether to break down by it.
    var yd = meta.yearDim;
    ui.years.hidden = !yd;
    ui.snapshotDate.textContent = meta.snapshotDate && (!yd || yd.name !== "release_year") ? "(" + meta.snapshotDate + ")" : "";
    if (ui.yearsTitle) ui.yearsTitle.textContent = yd && yd.name === "release_year" ? "Release years (cohorts)" : "Snapshot years";
    clear(ui.yearOptions);
    if (yd) {
      ui.byYear.checked = state.dims.indexOf(yd.name) >= 0;
      hoverDefinition(ui.years, yd);
      var fy = state.filters[yd.name] || [];
      yd.codes.forEach(function (c) {
        ui.yearOptions.appendChild(checkbox("y-" + safeId(c.code), yd.name, c.code, c.label, fy.indexOf(c.code) >= 0, function (ev) {
          setFilter(yd.name, c.code, ev.target.checked); changed();
        }));
      });
    }

    // Dimensions to break down by (R13: some appear only when allowed)
    clear(ui.dimensionOptions);
    var hiddenR13 = [];
    meta.dims.forEach(function (d) {
      if (yd && d.name === yd.name) return;
      if (!allowed(d)) { hiddenR13.push(d); return; }
      var row = checkbox("d-" + safeId(d.name), "dimensions", d.name, d.title, state.dims.indexOf(d.name) >= 0, function (ev) {
        toggle(state.dims, d.name, ev.target.checked); changed();
      });
      row.setAttribute("data-name", d.name);
      row.appendChild(defButton(d));
      hoverDefinition(row, d);
      ui.dimensionOptions.appendChild(row);
    });
    if (hiddenR13.length) {
      var reqs = {};
      hiddenR13.forEach(function (d) { reqs[d.requires.dimension] = true; });
      var reqTitles = Object.keys(reqs).map(function (n) { var rd = dim(n); return rd ? rd.title : n; });
      ui.r13Note.textContent = hiddenR13.map(function (d) { return d.title; }).join(", ") +
        (hiddenR13.length > 1 ? " become" : " becomes") + " available when you break down by " +
        reqTitles.join(" or ") + " and keep exactly one of its values in the filters.";
      ui.r13Note.hidden = false;
    } else {
      ui.r13Note.hidden = true;
    }

    // Filters: one multi-select of codes per dimension
    var openNow = {};
    Array.prototype.forEach.call(ui.filterList.querySelectorAll("details[open]"), function (det) {
      openNow[det.getAttribute("data-name")] = true;
    });
    clear(ui.filterList);
    meta.dims.forEach(function (d) {
      if (yd && d.name === yd.name) return;
      if (!allowed(d) || !d.codes.length) return;
      var sel = state.filters[d.name] || [];
      var det = el("details", { className: "filter", "data-name": d.name });
      if (openNow[d.name]) det.open = true;
      var sum = el("summary", null, d.title);
      sum.appendChild(el("span", { className: "count" }, sel.length ? " (" + sel.length + " of " + d.codes.length + ")" : " (all)"));
      det.appendChild(sum);
      hoverDefinition(sum, d);
      var fs = el("fieldset", { className: "filter-values" });
      fs.appendChild(el("legend", { className: "sr-only" }, "Keep only these values of " + d.title));
      d.codes.forEach(function (c) {
        var row = checkbox("f-" + safeId(d.name) + "-" + safeId(c.code), d.name, c.code, c.label, sel.indexOf(c.code) >= 0, function (ev) {
          setFilter(d.name, c.code, ev.target.checked); changed();
        });
        if (c.description) row.title = c.description;
        fs.appendChild(row);
      });
      if (sel.length) {
        var clr = el("button", { type: "button", className: "link-button" }, "Clear " + d.title + " filter");
        clr.addEventListener("click", function () { delete state.filters[d.name]; changed(); focusLater("summary", d.name); });
        fs.appendChild(clr);
      }
      det.appendChild(fs);
      ui.filterList.appendChild(det);
    });

    renderSortControl();
  }

  // Sort: one column among the chosen dimensions and measures, ascending or descending. The
  // first order key is the one shown; keys after it (from a saved link) are kept until the
  // user picks another column.
  function renderSortControl() {
    var current = state.order.length ? state.order[0] : "";
    var field = current ? orderField(current) : "";
    clear(ui.sortBy);
    ui.sortBy.appendChild(el("option", { value: "" }, "Breakdown order (default)"));
    state.dims.forEach(function (n) {
      var d = dim(n);
      ui.sortBy.appendChild(el("option", { value: n }, d ? d.title : n));
    });
    state.measures.forEach(function (n) {
      var mm = measure(n);
      ui.sortBy.appendChild(el("option", { value: n }, mm ? mm.title : n));
    });
    ui.sortBy.value = field;
    var desc = current ? orderDesc(current) : false;
    ui.sortAsc.checked = !desc;
    ui.sortDesc.checked = desc;
    ui.sortAsc.disabled = ui.sortDesc.disabled = !field;
  }

  function setSort(field, desc) {
    var key = field ? (desc ? "-" : "") + field : null;
    state.order = key ? [key] : [];
    changed();
  }

  // Table headers sort too: a new column starts ascending (a dimension) or descending (a
  // measure: largest first); the sorted column again reverses it.
  function sortByColumn(field, isMeasure) {
    var current = state.order.length ? state.order[0] : "";
    if (current && orderField(current) === field) setSort(field, !orderDesc(current));
    else setSort(field, !!isMeasure);
  }

  function focusLater(kind, name) {
    var det = ui.filterList.querySelector('details[data-name="' + CSS.escape(name) + '"]');
    if (det) { var s = det.querySelector("summary"); if (s) s.focus(); }
  }

  function toggle(list, name, on) {
    var i = list.indexOf(name);
    if (on && i < 0) list.push(name);
    if (!on && i >= 0) list.splice(i, 1);
  }

  function setFilter(name, code, on) {
    var f = state.filters[name] || [];
    toggle(f, code, on);
    if (f.length) state.filters[name] = f; else delete state.filters[name];
  }

  // ---------------------------------------------------------------- the query cycle
  // history: "push" (a user's change: Back returns to the query before it), "replace" (the
  // page normalising the address it was opened with) or "none" (restoring from Back/Forward).
  function changed(keepPage, history) {
    if (keepPage !== true) state.offset = 0;
    var active = document.activeElement && document.activeElement.id;
    enforceRules();
    renderControls();
    if (active && $(active)) $(active).focus();
    writeHistory(history || "push");
    showUrl(absolute(apiUrl()), "pending");
    clearTimeout(debounceTimer);
    debounceTimer = setTimeout(runQuery, 250);
  }

  function writeHistory(mode) {
    if (mode === "none") return;
    var url = pageUrl();
    var here = window.location.pathname + window.location.search;
    if (mode === "push" && url !== here) window.history.pushState({ crosstrack: true }, "", url);
    else window.history.replaceState({ crosstrack: true }, "", url);
  }

  // Back/Forward: the address holds the query; bring the controls and results back to it.
  function restoreFromAddress() {
    var fromPage = parsePageUrl();
    var names = datasets.map(function (d) { return d.name; });
    if (!names.length) return;
    var name = fromPage.dataset && names.indexOf(fromPage.dataset) >= 0 ? fromPage.dataset : names[0];
    if (meta && state && name === state.dataset) {
      applyPageState(name, fromPage.dataset === name ? fromPage : null);
      enforceRules();
      showLinkNotice(linkProblems(fromPage.dataset === name ? fromPage : null));
      ui.dataset.value = name;
      changed(true, "none");
    } else {
      loadDataset(name, fromPage.dataset === name ? fromPage : null, "none").catch(showError);
    }
  }

  // What a shared link asked for that this data does not have (an unknown dimension, measure or
  // filter, a code or snapshot year no longer published): named on the page, never dropped silently.
  function linkProblems(fromPage) {
    var out = [];
    if (!fromPage) return out;
    (fromPage.dims || []).forEach(function (n) {
      var d = dim(n);
      if (!d) out.push("dimension \u201c" + n + "\u201d");
      else if (state.dims.indexOf(n) < 0) out.push("dimension \u201c" + d.title + "\u201d (not available with these choices)");
    });
    (fromPage.measures || []).forEach(function (n) {
      if (!measure(n)) out.push("measure \u201c" + n + "\u201d");
    });
    Object.keys(fromPage.filters).forEach(function (k) {
      var d = dim(k);
      if (!d) { out.push("filter \u201c" + k + "\u201d"); return; }
      var known = d.codes.map(function (c) { return c.code; });
      fromPage.filters[k].forEach(function (c) {
        if (known.indexOf(c) < 0) out.push(d.title + " \u201c" + c + "\u201d");
      });
    });
    return out;
  }

  function showLinkNotice(problems) {
    clear(ui.linkNotice);
    if (!problems.length) { ui.linkNotice.hidden = true; return; }
    ui.linkNotice.appendChild(el("strong", null, "This link asked for something this data does not have: "));
    ui.linkNotice.appendChild(el("span", null, problems.join("; ") + ". "));
    ui.linkNotice.appendChild(el("span", null, "Showing instead: " + describeQuestion() + "."));
    ui.linkNotice.hidden = false;
  }

  function filterText() {
    var parts = [];
    meta.dims.forEach(function (d) {
      var f = state.filters[d.name];
      if (!f || !f.length) return;
      var labels = f.map(function (c) {
        var hit = d.codes.filter(function (x) { return x.code === c; })[0];
        return hit ? hit.label : c;
      });
      parts.push(d.title + ": " + labels.join(", "));
    });
    return parts.join("; ");
  }

  function describeQuestion() {
    var m = state.measures.map(function (n) { var mm = measure(n); return mm ? mm.title : n; }).join(", ");
    var d = state.dims.map(function (n) { var dd = dim(n); return dd ? dd.title : n; }).join(", ");
    var f = filterText();
    return meta.title + ": " + (m || "no measure") + (d ? " by " + d : "") + (f ? " (" + f + ")" : " (no filters)");
  }

  // The file name says what is inside: dataset, dimensions, filters and data version.
  function downloadName(ext, version) {
    var parts = ["crosstrack", state.dataset];
    if (state.dims.length) parts.push("by-" + state.dims.join("-"));
    meta.dims.forEach(function (d) {
      var f = state.filters[d.name];
      if (f && f.length) parts.push(d.name + "-" + f.join("+"));
    });
    if (version) parts.push(String(version).charAt(0) === "v" ? String(version) : "v" + version);
    return parts.join("_").replace(/[^A-Za-z0-9_+.-]/g, "-").slice(0, 200) + "." + ext;
  }

  function applyPageState(name, fromPage) {
    state = defaultState(name);
    if (!fromPage) return;
    if (fromPage.dims) state.dims = fromPage.dims.slice();
    if (fromPage.measures) state.measures = fromPage.measures.slice();
    state.order = fromPage.order.slice();
    state.offset = fromPage.offset || 0;
    Object.keys(fromPage.filters).forEach(function (k) { state.filters[k] = fromPage.filters[k].slice(); });
  }

  function showUrl(url, st) {
    ui.apiUrl.textContent = url;
    ui.apiUrl.href = url;
    ui.apiUrl.setAttribute("data-state", st);
  }

  function setDownloads(jsonUrl, csvUrl, version) {
    [[ui.dlJson, jsonUrl, "json"], [ui.dlCsv, csvUrl, "csv"]].forEach(function (x) {
      var a = x[0];
      if (x[1]) {
        a.href = x[1];
        a.setAttribute("download", downloadName(x[2], version));
        a.removeAttribute("aria-disabled");
      } else {
        a.removeAttribute("href");
        a.setAttribute("aria-disabled", "true");
      }
    });
  }

  function runQuery() {
    if (controller) controller.abort();
    hideError();
    if (!state.measures.length) {
      ui.summary.textContent = "Choose at least one measure to see results.";
      setDownloads(null, null);
      clearResults();
      return;
    }
    var seq = ++fetchSeq;
    controller = typeof AbortController !== "undefined" ? new AbortController() : null;
    ui.results.setAttribute("aria-busy", "true");
    ui.summary.textContent = "Loading\u2026";
    fetchJSON(apiUrl(), controller ? controller.signal : undefined).then(function (body) {
      if (seq !== fetchSeq) return;
      ui.results.removeAttribute("aria-busy");
      var m = body.meta || {};
      var canonical = absolute(m.canonical_url || apiUrl());
      showUrl(canonical, "canonical");
      var links = m.links || {};
      setDownloads(absolute(links.json || withFormat(canonical, "json")), absolute(links.csv || withFormat(canonical, "csv")),
                   m.data_version);
      setPager(links, m);
      lastResult = body;
      adoptAnswered(body);
      renderResults(body);
    }).catch(function (err) {
      if (err && err.name === "AbortError") return;
      if (seq !== fetchSeq) return;
      ui.results.removeAttribute("aria-busy");
      showUrl(absolute(apiUrl()), "error");
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
    var added = resultMeasures(body).filter(function (n) { return measure(n) && state.measures.indexOf(n) < 0; });
    if (!added.length) return;
    added.forEach(function (n) { state.measures.push(n); });
    enforceRules();
    var active = document.activeElement && document.activeElement.id;
    renderControls();
    if (active && $(active)) $(active).focus();
    window.history.replaceState(null, "", pageUrl());
  }

  // Long answers come in pages (the API's limit); the pager follows the API's own links.
  function offsetOf(link) {
    if (!link) return null;
    var v = new URL(link, window.location.href).searchParams.get("offset");
    return v === null ? 0 : Math.max(0, parseInt(v, 10) || 0);
  }

  function setPager(links, m) {
    var next = offsetOf(links.next), prev = offsetOf(links.prev);
    ui.pager.hidden = next === null && prev === null;
    ui.pageNext.disabled = next === null;
    ui.pagePrev.disabled = prev === null;
    ui.pageNext.setAttribute("data-offset", next === null ? "" : String(next));
    ui.pagePrev.setAttribute("data-offset", prev === null ? "" : String(prev));
    var q = m.query || {};
    var total = pick(m, ["total_row_count", "total"]);
    var from = (q.offset || 0) + 1, to = (q.offset || 0) + (m.row_count || 0);
    ui.pageInfo.textContent = "Rows " + from + "\u2013" + to + (typeof total === "number" ? " of " + total : "");
  }

  function goPage(button) {
    var off = button.getAttribute("data-offset");
    if (off === "" || off === null) return;
    state.offset = parseInt(off, 10) || 0;
    changed(true);
  }

  function hideError() { ui.error.hidden = true; clear(ui.error); }

  function showError(err) {
    clear(ui.error);
    var e = (err && err.body && err.body.error) || {};
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

  // ---------------------------------------------------------------- results
  function clearResults() {
    clear(ui.thead); clear(ui.tbody);
    ui.chart.hidden = true; ui.chartNone.hidden = true; ui.suppressedNote.hidden = true; ui.pager.hidden = true;
  }

  function resultDims(body) {
    var q = (body.meta && body.meta.query) || {};
    var names = q.dimensions;
    if (typeof names === "string") names = splitValues(names);
    if (!Array.isArray(names)) names = state.dims;
    return names.map(shortName);
  }

  function resultMeasures(body) {
    var q = (body.meta && body.meta.query) || {};
    var names = q.measures;
    if (typeof names === "string") names = splitValues(names);
    if (!Array.isArray(names)) names = state.measures;
    return names.map(shortName);
  }

  // The first key the rows were sorted on, as the API answered it (it appends the dimensions).
  function answeredOrder(body) {
    var q = (body.meta && body.meta.query) || {};
    var o = q.order;
    if (typeof o === "string") o = splitValues(o);
    if (!Array.isArray(o)) o = state.order.length ? state.order : resultDims(body);
    return o.length ? String(o[0]).replace(/^\+/, "") : null;
  }

  function isSuppressed(row) {
    return row.suppressed === true || row.suppressed === 1 || row.suppressed === "true";
  }

  // Values are shown as published (the API already rounds them); only digit grouping is added.
  function formatValue(m, v) {
    if (typeof v !== "number") return String(v);
    return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
  }

  function kLabel() {
    var d = meta.disclosure;
    var k = d && typeof d === "object" ? pick(d, ["k", "min_people", "threshold"]) : undefined;
    if (typeof k === "object") k = undefined;
    if (lastResult && lastResult.meta && lastResult.meta.disclosure && typeof lastResult.meta.disclosure === "object") {
      k = pick(lastResult.meta.disclosure, ["k", "min_people", "threshold"]) || k;
    }
    return k;
  }

  function suppressedText() {
    var k = kLabel();
    return "Withheld: fewer than " + (k ? k : "the minimum number of") + " people are in this cell, so no value is published. This is not zero.";
  }

  function renderResults(body) {
    var rows = Array.isArray(body.data) ? body.data : [];
    var dims = resultDims(body);
    var measures = resultMeasures(body);
    var m = body.meta || {};
    var nSup = rows.filter(isSuppressed).length;
    var total = pick(m, ["total_row_count", "total", "row_count"]);
    var summary = rows.length + (rows.length === 1 ? " row" : " rows");
    if (typeof total === "number" && total > rows.length) summary += " shown of " + total;
    if (nSup) summary += ", " + nSup + " withheld for privacy";
    ui.summary.textContent = summary + ".";

    // Table
    clear(ui.thead); clear(ui.tbody);
    var ftext = filterText();
    ui.tableCaption.textContent = meta.title + ": " + measures.map(function (n) { var mm = measure(n); return mm ? mm.title : n; }).join(", ") +
      (dims.length ? " by " + dims.map(function (n) { var dd = dim(n); return dd ? dd.title : n; }).join(", ") : "") +
      " \u2014 " + (ftext ? "filters: " + ftext : "no filters") + "; data version " + (m.data_version || "unknown");
    var tr = el("tr");
    var sorted = answeredOrder(body);
    function header(n, member, isMeasure) {
      var th = el("th", { scope: "col", className: isMeasure ? "num" : null, "data-name": n, title: member.description || null });
      if (sorted && orderField(sorted) === n) th.setAttribute("aria-sort", orderDesc(sorted) ? "descending" : "ascending");
      var b = el("button", { type: "button", className: "sort-button", "data-name": n }, member.title);
      b.addEventListener("click", function () { headerFocus = n; sortByColumn(n, isMeasure); });
      th.appendChild(b);
      tr.appendChild(th);
    }
    dims.forEach(function (n) { header(n, dim(n) || { title: n, description: "" }, false); });
    measures.forEach(function (n) { header(n, measure(n) || { title: n, description: "" }, true); });
    ui.thead.appendChild(tr);
    if (headerFocus !== null) {
      var again = ui.thead.querySelector('button[data-name="' + CSS.escape(headerFocus) + '"]');
      headerFocus = null;
      if (again) again.focus();
    }
    var supText = suppressedText();
    rows.slice(0, MAX_TABLE_ROWS).forEach(function (row) {
      var sup = isSuppressed(row);
      var r = el("tr", { className: sup ? "row-suppressed" : null, "data-suppressed": sup ? "true" : "false" });
      dims.forEach(function (n, i) {
        var label = row[n + "_label"];
        var code = row[n];
        var cell = el(i === 0 ? "th" : "td", { scope: i === 0 ? "row" : null, "data-code": code === null || code === undefined ? "" : String(code) },
          label !== undefined && label !== null ? label : code);
        r.appendChild(cell);
      });
      measures.forEach(function (n) {
        var v = row[n];
        var td;
        if (sup) {
          td = el("td", { className: "num suppressed", "data-suppressed": "true", "data-value": "", title: supText });
          td.appendChild(el("span", { "aria-hidden": "true", className: "sup-mark" }, "\u2020 "));
          td.appendChild(el("span", null, "withheld"));
        } else if ((v === null || v === undefined) && OWN_RULE_KINDS.indexOf((measure(n) || {}).kind) >= 0) {
          // docs/recidivism.md: a value withheld on its own in a published row, or not known yet
          td = el("td", { className: "num withheld-own", "data-value": "", "data-withheld": "true",
            title: "Not published: fewer than five had the event or all but a few did (RC12), the counts a rate " +
                   "needs are not both published, or the window has not passed yet (RC8)." }, "n/a");
        } else if (v === null || v === undefined) {
          td = el("td", { className: "num empty", "data-value": "", title: "No value for this cell (no one in it)." }, "\u2013");
        } else {
          td = el("td", { className: "num", "data-value": String(v) }, formatValue(measure(n), v));
        }
        r.appendChild(td);
      });
      ui.tbody.appendChild(r);
    });
    if (nSup) {
      ui.suppressedNote.textContent = "\u2020 " + supText;
      ui.suppressedNote.hidden = false;
    } else {
      ui.suppressedNote.hidden = true;
    }
    renderNotes(body);
    renderChart(rows, dims, measures);
  }

  // The disclosure note is whatever the API says, laid out generically: plain statements as
  // paragraphs led by their name, nested details (tables of noise, per-measure notes) folded.
  function renderNote(value, into, depth) {
    if (value === null || value === undefined || value === "") return;
    if (typeof value !== "object") { into.appendChild(el("p", null, String(value))); return; }
    if (Array.isArray(value)) {
      var ul = el("ul", { className: "note-list" });
      value.forEach(function (v) {
        var li = el("li");
        if (v !== null && typeof v === "object") renderNote(v, li, depth + 1); else li.textContent = String(v);
        ul.appendChild(li);
      });
      into.appendChild(ul);
      return;
    }
    var keys = Object.keys(value);
    var simple = keys.filter(function (k) { var v = value[k]; return v !== null && v !== "" && typeof v !== "object"; });
    var nested = keys.filter(function (k) { var v = value[k]; return v !== null && typeof v === "object"; });
    simple.forEach(function (k) {
      var v = String(value[k]);
      if (/^\/api\//.test(v)) {  // a link the API gives (e.g. to the full metadata)
        var p = el("p");
        p.appendChild(el("a", { href: v }, humanize(k)));
        into.appendChild(p);
        return;
      }
      var para = el("p");
      para.appendChild(el("strong", null, humanize(k) + ": "));
      para.appendChild(document.createTextNode(v));
      into.appendChild(para);
    });
    nested.forEach(function (k) {
      var det = el("details", { className: "note-more" });
      det.appendChild(el("summary", null, humanize(k)));
      renderNote(value[k], det, depth + 1);
      into.appendChild(det);
    });
  }

  function renderNotes(body) {
    clear(ui.disclosureBody);
    var m = (body && body.meta) || {};
    // The dataset's metadata carries the full note; an answer may carry a shorter one.
    var note = meta.disclosure !== undefined && meta.disclosure !== null ? meta.disclosure : m.disclosure;
    renderNote(note, ui.disclosureBody, 0);
    if (!ui.disclosureBody.firstChild) ui.disclosureBody.appendChild(el("p", null, "Cells with too few people are withheld."));
    var ver = pick(m, ["data_version"]) || meta.dataVersion;
    var loaded = pick(m, ["loaded_at"]) || meta.loadedAt;
    ui.dataVersion.textContent = ver ? "Data version " + ver + (loaded ? ", published " + String(loaded).slice(0, 10) : "") + "." : "";
  }

  // ---------------------------------------------------------------- chart (plain SVG)
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
    var w = ui.chartSvg.clientWidth || (ui.chart.parentNode && ui.chart.parentNode.clientWidth) || 640;
    return Math.max(280, Math.min(1000, Math.round(w)));
  }

  function truncate(s, n) { return s.length > n ? s.slice(0, n - 1) + "\u2026" : s; }

  function renderChart(rows, dims, measures) {
    clear(ui.chartSvg); clear(ui.chartLegend);
    ui.chartNone.hidden = true;
    if (!rows.length || !measures.length) { ui.chart.hidden = true; return; }
    ui.chart.hidden = false;  // measured for its width; hidden again below if no chart fits
    // Chart measure chooser
    var cm = ui.chartMeasure.value;
    clear(ui.chartMeasure);
    measures.forEach(function (n) {
      var mm = measure(n);
      var o = el("option", { value: n }, mm ? mm.title : n);
      ui.chartMeasure.appendChild(o);
    });
    if (measures.indexOf(cm) < 0) cm = measures[0];
    ui.chartMeasure.value = cm;
    ui.chartMeasureWrap.hidden = measures.length < 2;
    var mm = measure(cm) || { title: cm };

    var yearName = meta.yearDim ? meta.yearDim.name : null;
    var varying = dims.filter(function (n) { return distinct(rows, n).length > 1; });
    var yearVaries = yearName && varying.indexOf(yearName) >= 0;
    var others = varying.filter(function (n) { return n !== yearName; });

    if (yearVaries && others.length <= 1) {
      var series = others.length ? distinct(rows, others[0]) : [{ code: null, label: mm.title }];
      if (series.length > MAX_LINE_SERIES) return noChart("Too many lines to draw (" + series.length + "); filter " + (dim(others[0]) || { title: others[0] }).title + " to " + MAX_LINE_SERIES + " values or fewer to see a chart.");
      drawLine(rows, yearName, others[0] || null, series, cm, mm);
    } else if (!yearVaries && others.length === 1) {
      var cats = distinct(rows, others[0], state.order.length > 0);  // bars follow a chosen sort
      if (cats.length > MAX_BAR_CATEGORIES) return noChart("Too many categories for a chart; the table has every value.");
      drawBars(rows, others[0], cats, cm, mm);
    } else if (varying.length === 0) {
      ui.chart.hidden = true; // a single number: the table says it all
    } else {
      noChart("A chart is drawn for one category, or for years with at most one category. The table shows every combination.");
    }
  }

  function noChart(text) { ui.chart.hidden = true; ui.chartNone.textContent = text; ui.chartNone.hidden = false; }

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
          c.appendChild(svg("title", null, (se.code === null ? "" : se.label + ", ") + years[p.i].label + ": " + formatValue(mm, p.v)));
        }
        s.appendChild(c);
      });
      if (seriesDim) {
        var li = el("li");
        var sw = el("span", { className: "swatch", "aria-hidden": "true" });
        sw.style.background = color;  // CSSOM, allowed by the page's CSP (no inline style attributes)
        li.appendChild(sw);
        li.appendChild(document.createTextNode(se.label));
        ui.chartLegend.appendChild(li);
      }
    });
    ui.chartCaption.textContent = mm.title + " by " + (meta.yearDim.title) + (seriesDim ? " and " + (dim(seriesDim) || { title: seriesDim }).title : "") +
      (anySup ? " (\u2020 withheld)" : "");
    ui.chartSvg.appendChild(s);
    ui.chart.hidden = false;
    ui.chart.setAttribute("data-kind", "line");
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
        bar.appendChild(svg("title", null, c.label + ": " + formatValue(mm, r[cm])));
        s.appendChild(bar);
        var v = svg("text", { x: L + w + 6, y: yy + bh / 2 + 4 }, formatValue(mm, r[cm]));
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
    ui.chartCaption.textContent = mm.title + " by " + (dim(catDim) || { title: catDim }).title + (anySup ? " (\u2020 withheld)" : "");
    ui.chartSvg.appendChild(s);
    ui.chart.hidden = false;
    ui.chart.setAttribute("data-kind", "bars");
  }

  // ---------------------------------------------------------------- start-up
  function loadDataset(name, fromPage, history, asked) {
    var seq = ++loadSeq;
    return fetchJSON(API_ROOT + "/" + enc(name) + "/metadata").then(function (raw) {
      if (seq !== loadSeq) return;
      meta = normalizeMeta(raw, name);
      applyPageState(name, fromPage);
      // R13 filters depend on others: apply the prerequisites first, then the rest.
      enforceRules();
      enforceRules();
      showLinkNotice((asked || []).concat(linkProblems(fromPage)));
      renderDatasetSelect();
      renderDefinitions();
      renderNotes(null);
      changed(true, history);
    });
  }

  function normalizeDatasets(raw) {
    var list = Array.isArray(raw) ? raw : (raw.datasets || raw.data || raw.views || []);
    return asArray(list).map(function (d) {
      if (typeof d === "string") return { name: d, title: humanize(d) };
      var n = pick(d, ["name", "id", "dataset"]);
      return { name: String(n), title: String(pick(d, ["title", "label"]) || humanize(n)), description: pick(d, ["description"]) || "" };
    });
  }

  function init() {
    ui = {
      apiUrl: $("api-url"), copy: $("copy-url"), copyStatus: $("copy-status"),
      dataset: $("dataset"), datasetDescription: $("dataset-description"), countingNote: $("counting-note"),
      measureOptions: $("measure-options"), snapshotDate: $("snapshot-date"), yearsTitle: $("years-title"), years: $("years"), byYear: $("by-year"), yearOptions: $("year-options"),
      dimensionOptions: $("dimension-options"), r13Note: $("r13-note"), filterList: $("filter-list"),
      reset: $("reset"), results: $("results"), error: $("error"), summary: $("summary"),
      dlJson: $("download-json"), dlCsv: $("download-csv"), linkNotice: $("link-notice"),
      chart: $("chart"), chartCaption: $("chart-caption"), chartSvg: $("chart-svg"), chartLegend: $("chart-legend"),
      chartMeasure: $("chart-measure"), chartMeasureWrap: $("chart-measure-wrap"), chartNone: $("chart-none"),
      thead: document.querySelector("#table thead"), tbody: document.querySelector("#table tbody"), tableCaption: $("table-caption"),
      suppressedNote: $("suppressed-note"), pager: $("pager"), pageNext: $("page-next"), pagePrev: $("page-prev"),
      pageInfo: $("page-info"), disclosureBody: $("disclosure-body"), dataVersion: $("data-version"),
      defList: $("definition-list"), defFocus: $("definition-focus"),
      sortBy: $("sort-by"), sortAsc: $("sort-asc"), sortDesc: $("sort-desc")
    };

    ui.dataset.addEventListener("change", function () {
      loadDataset(ui.dataset.value, null, "push").catch(showError);
    });
    ui.byYear.addEventListener("change", function () {
      if (!meta.yearDim) return;
      toggle(state.dims, meta.yearDim.name, ui.byYear.checked); changed();
    });
    ui.reset.addEventListener("click", function () { state = defaultState(state.dataset); changed(); });
    ui.chartMeasure.addEventListener("change", function () {
      if (lastResult) renderChart(lastResult.data || [], resultDims(lastResult), resultMeasures(lastResult));
    });
    ui.copy.addEventListener("click", copyUrl);
    ui.sortBy.addEventListener("change", function () { setSort(ui.sortBy.value, ui.sortDesc.checked); });
    [ui.sortAsc, ui.sortDesc].forEach(function (r) {
      r.addEventListener("change", function () { if (ui.sortBy.value) setSort(ui.sortBy.value, ui.sortDesc.checked); });
    });
    window.addEventListener("popstate", restoreFromAddress);
    ui.pageNext.addEventListener("click", function () { goPage(ui.pageNext); });
    ui.pagePrev.addEventListener("click", function () { goPage(ui.pagePrev); });
    var resizeTimer = null, lastWidth = window.innerWidth;
    window.addEventListener("resize", function () {
      if (window.innerWidth === lastWidth) return;
      lastWidth = window.innerWidth;
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        if (lastResult) renderChart(lastResult.data || [], resultDims(lastResult), resultMeasures(lastResult));
      }, 150);
    });
    [ui.dlJson, ui.dlCsv].forEach(function (a) {
      a.addEventListener("click", function (ev) { if (a.getAttribute("aria-disabled") === "true") ev.preventDefault(); });
    });
    document.getElementById("controls").addEventListener("submit", function (ev) { ev.preventDefault(); });

    fetchJSON(API_ROOT).then(function (raw) {
      datasets = normalizeDatasets(raw);
      if (!datasets.length) throw new Error("The API lists no datasets.");
      var fromPage = parsePageUrl();
      var names = datasets.map(function (d) { return d.name; });
      var name = fromPage.dataset && names.indexOf(fromPage.dataset) >= 0 ? fromPage.dataset : names[0];
      var asked = fromPage.dataset && fromPage.dataset !== name ? ["dataset \u201c" + fromPage.dataset + "\u201d"] : [];
      return loadDataset(name, fromPage.dataset === name ? fromPage : null, "replace", asked);
    }).catch(function (err) {
      showUrl("", "error");
      showError(err);
    });
  }

  function copyUrl() {
    var text = ui.apiUrl.textContent;
    function done(ok) {
      ui.copyStatus.textContent = ok ? "Copied." : "Copy failed: select the URL and copy it.";
      setTimeout(function () { ui.copyStatus.textContent = ""; }, 3000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
    } else {
      done(fallbackCopy(text));
    }
  }

  function fallbackCopy(text) {
    var ta = el("textarea", { readonly: true, className: "sr-only" });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    return ok;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

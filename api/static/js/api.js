// The URL API, read exactly as /openapi.json documents it (DatasetList, DatasetMetadata, the
// answer's AnswerMeta, Error): no alternative field names are guessed.

export const API_ROOT = "/api/v1";

function enc(s) { return encodeURIComponent(s); }

export function fetchJSON(url, signal) {
  return fetch(url, { headers: { Accept: "application/json" }, signal }).then((resp) => resp.text().then((text) => {
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!resp.ok) {
      const err = new Error((body && body.error && body.error.message) || ("HTTP " + resp.status));
      err.body = body; err.status = resp.status;
      throw err;
    }
    if (body === null) throw new Error("The API did not answer with JSON.");
    return body;
  }));
}

// GET /api/v1 -> DatasetList: [{name, title, description}]
export function listDatasets() {
  return fetchJSON(API_ROOT).then((body) => body.datasets.map((d) => ({
    name: d.name, title: d.title, description: d.description || "",
  })));
}

// GET /api/v1/{dataset}/metadata -> DatasetMetadata, as the page uses it.
export function loadMetadata(name) {
  return fetchJSON(API_ROOT + "/" + enc(name) + "/metadata").then(fromMetadata);
}

function fromMetadata(md) {
  const dims = md.dimensions.map((d) => ({
    name: d.name,
    title: d.title,
    description: d.description || "",
    codes: d.codes.map((c) => ({ code: String(c.code), label: c.label })),
    // R13 as the server states it: null, or the questions in which the dimension may be used
    availableWhen: d.available_when,
    rule: d.requires ? d.requires.rule : "",
  }));
  const measures = md.measures.map((m) => ({
    name: m.name,
    title: m.title,
    description: m.description || "",
    withheldAlone: m.withheld_alone,
    available: m.available !== false,  // documented: absent means available
    unavailableBecause: m.unavailable_because || "",
  }));
  const year = md.year_dimension;
  return {
    name: md.dataset,
    title: md.title,
    description: md.description || "",
    dims,
    measures,
    yearDim: year ? dims.find((d) => d.name === year.name) || null : null,
    yearLegend: year ? year.legend : "",
    snapshotDate: md.snapshot_date || "",
    defaultMeasures: md.default_measures,
    counting: md.counting || null,
    disclosure: md.disclosure,
    dataVersion: md.data_version,
    loadedAt: md.loaded_at,
  };
}

// The request for a question: the page's choices as the API's parameters. What the answer's
// canonical URL says comes back in meta.canonical_url and is what the page shows.
export function requestUrl(dataset, query) {
  return API_ROOT + "/" + enc(dataset) + (query ? "?" + query : "");
}

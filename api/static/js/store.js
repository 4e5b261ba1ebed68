// The page's shared state: the chosen dataset's metadata, the current choices and the last answer.

export const app = {
  ui: {},
  datasets: [],      // [{name, title, description}] from GET /api/v1
  meta: null,        // the chosen dataset's metadata (api.js loadMetadata)
  state: null,       // {dataset, dims: [], measures: [], filters: {dim: [codes]}, order: ["-x", "a"], offset}
  lastResult: null,  // the last JSON answer shown
  changed: null,     // set by main.js: call after any change of app.state
};

export function dim(name) { return app.meta.dims.find((d) => d.name === name) || null; }
export function measure(name) { return app.meta.measures.find((m) => m.name === name) || null; }
export function dimTitle(name) { const d = dim(name); return d ? d.title : name; }
export function measureTitle(name) { const m = measure(name); return m ? m.title : name; }

// How a published value reads: withheld rows are flagged by the API (suppressed=true, every
// measure null); values are shown as published (the API already rounds them), digits grouped.

export function isSuppressed(row) { return row.suppressed === true; }

export function formatValue(v) {
  if (typeof v !== "number") return String(v);
  return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

"""Serialise a :class:`SafeResult` (already protected) as JSON or CSV.

Both are deterministic functions of the result, so the same question gives the same bytes.
CSV cells that a spreadsheet would run as a formula (starting with ``= + - @``, tab or CR)
are prefixed with ``'`` (OWASP CSV injection advice).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Iterator

import orjson

from crosstrack.api.service import SafeResult

CSV_CHUNK_ROWS = 1000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def disclosure_summary(result: SafeResult) -> dict[str, Any]:
    d = result.disclosure
    return {
        "k": d.get("k"),
        "method": d.get("method"),
        "suppression": d.get("suppression"),
        "perturbation": {k: v for k, v in (d.get("perturbation") or {}).items() if k != "counts_table"},
        "several_codes": d.get("several_codes"),
        "why_totals_differ": d.get("why_totals_differ"),
        "details": f"/api/v1/{result.dataset.name}/metadata",
    }


def links(result: SafeResult) -> dict[str, str | None]:
    q = result.question
    nxt = q.offset + q.limit
    prev = max(q.offset - q.limit, 0)
    return {
        "self": q.url(),
        "first": q.with_page(0).url(),
        "next": q.with_page(nxt).url() if nxt < result.total_rows else None,
        "prev": q.with_page(prev).url() if q.offset > 0 else None,
        "metadata": f"/api/v1/{q.dataset}/metadata",
        # The same page in each format, so a client (the web page's downloads) copies them instead
        # of editing the query string; csv_with_context opens with the '#' lines of csv_context().
        "json": q.with_format("json").url(),
        "csv": q.with_format("csv").url(),
        "csv_with_context": q.with_format("csv", "comments").url(),
    }


def envelope(result: SafeResult) -> dict[str, Any]:
    q = result.question
    return {
        "meta": {
            "canonical_url": q.url(),
            "dataset": q.dataset,
            "data_version": result.version.version_id,
            "loaded_at": result.version.loaded_at_iso,
            "query": {
                "dimensions": list(q.dimensions),
                "measures": list(q.measures),
                "filters": {d: list(c) for d, c in q.filters},
                "order": [("-" if desc else "") + f for f, desc in q.order],
                "limit": q.limit,
                "offset": q.offset,
                "format": q.format,
            },
            "row_count": len(result.rows),
            "total_row_count": result.total_rows,
            "suppressed_count": result.suppressed_count,
            "disclosure": disclosure_summary(result),
            "links": links(result),
        },
        "data": result.rows,
    }


def to_json(result: SafeResult) -> bytes:
    return orjson.dumps(envelope(result))


def _cell(value: Any) -> str:
    if value is None:
        return ""  # withheld: empty, never 0
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if value != int(value) else f"{value:.1f}"
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _comment_text(text: Any) -> str:
    # One line with no double quote, so even a reader that does not skip '#' lines cannot run a
    # quoted field into the header (labels come from the model; codes were validated against it).
    return " ".join(str(text).split()).replace('"', "'")


def _named(ds_members: dict[str, Any], name: str) -> str:
    member = ds_members.get(name)
    title = getattr(member, "title", "") if member is not None else ""
    return f"{name} ({title})" if title and title != name else name


def csv_context(result: SafeResult) -> list[str]:
    """The '#' lines a ``csv_context=comments`` CSV opens with: what the file answers (dataset,
    measures, dimensions, every filter, the year's included), the data version, the canonical
    URL, which rows of how many, and the disclosure note, so a saved file keeps its question."""
    q, ds, d = result.question, result.dataset, result.disclosure
    filters = dict(q.filters)
    lines = [
        f"crosstrack: {ds.title} (dataset {ds.name})",
        "measures: " + "; ".join(_named(ds.measures, m) for m in q.measures),
        "dimensions: " + ("; ".join(_named(ds.dimensions, x) for x in q.dimensions) or "none (one total row)"),
    ]
    for name, dim in ds.dimensions.items():
        if name in filters:
            codes = " + ".join(c if dim.label(c) == c else f"{c} ({dim.label(c)})" for c in filters[name])
            lines.append(f"filter {_named(ds.dimensions, name)}: {codes}")
    year = next((y for y in ("snapshot_year", "release_year") if y in ds.dimensions), None)
    if year and year not in filters:
        lines.append(f"filter {_named(ds.dimensions, year)}: every year (not filtered)")
    if not filters:
        lines.append("filters: none")
    lines += [
        f"data version: {result.version.version_id}"
        + (f" (published {result.version.loaded_at_iso})" if result.version.loaded_at_iso else ""),
        f"canonical URL: {q.url()}",
        f"rows: {q.offset + 1 if result.rows else 0}-{q.offset + len(result.rows)} of {result.total_rows}"
        + (f"; {result.suppressed_count} withheld" if result.suppressed_count else ""),
        f"disclosure: {d.get('suppression') or 'cells with too few people are withheld'}",
        f"disclosure details: /api/v1/{ds.name}/metadata",
    ]
    return ["# " + _comment_text(line) for line in lines]


def csv_chunks(result: SafeResult) -> Iterator[bytes]:
    """CSV (RFC 4180, header row) in chunks, so large pages stream; with ``csv_context=comments``
    the '#' lines of :func:`csv_context` come first."""
    columns = result.columns()
    buf = io.StringIO()
    if result.question.csv_context == "comments":
        buf.write("".join(line + "\r\n" for line in csv_context(result)))
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([_cell(c) for c in columns])
    for i, row in enumerate(result.rows, 1):
        writer.writerow([_cell(row.get(c)) for c in columns])
        if i % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    tail = buf.getvalue()
    if tail:
        yield tail.encode()


def csv_filename(result: SafeResult) -> str:
    """``crosstrack_<dataset>[_by-<dims>][_<dim>-<codes>...]_v<version>.csv``: the file says what it holds
    (the page names its downloads the same way)."""
    def safe(text: str) -> str:
        return "".join(ch if ch.isalnum() or ch in "-_+." else "-" for ch in text)

    q = result.question
    parts = ["crosstrack", result.dataset.name]
    if q.dimensions:
        parts.append("by-" + "-".join(q.dimensions))
    parts += [f"{dim}-{'+'.join(codes)}" for dim, codes in q.filters]
    version = safe(result.version.version_id)
    return safe("_".join(parts))[:180] + "_" + (version if version.startswith("v") else "v" + version) + ".csv"

"""``COPY (SELECT ...) TO STDOUT`` — what psql's ``\\copy (SELECT ...) TO file`` sends.

The SELECT inside is answered exactly like the same SELECT on its own (same translation, same
disclosure control); this module only renders its rows in COPY's text or CSV format. COPY of a
table, COPY FROM and COPY to a server-side file stay refused: the surface is read-only and serves
only published cells.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable

from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.messages import Result
from crosstrack.api.pgwire.pgtypes import encode_text


def copy_options(tree: exp.Copy) -> dict[str, str]:
    """FORMAT / HEADER / DELIMITER / NULL from both the old (``CSV HEADER``) and new (``WITH (...)``) forms."""
    opts: dict[str, str] = {"format": "text"}
    for p in tree.args.get("params") or []:
        key = p.this.name.lower() if isinstance(p.this, exp.Expression) else str(p.this).lower()
        value = p.args.get("expression")
        text = value.name if isinstance(value, exp.Expression) else ("" if value is None else str(value))
        if key in ("csv", "binary", "text"):
            opts["format"] = key
            if text.lower() == "header":
                opts["header"] = "true"
        elif key == "header":
            opts["header"] = "true" if text.lower() in ("", "true", "on", "1", "match") else "false"
        else:
            opts[key] = text
    opts["format"] = opts["format"].lower()
    return opts


def copy_out(tree: exp.Copy, run_select: Callable[[exp.Expression], Result]) -> Result:
    files = tree.args.get("files") or []
    target = files[0].name.upper() if files and isinstance(files[0], exp.Expression) else ""
    if tree.args.get("kind") or target != "STDOUT" or not isinstance(tree.this, exp.Subquery):
        raise PgError("sql.read_only", "only COPY (SELECT ...) TO STDOUT is allowed: the crosstrack SQL surface is read-only "
                               "and serves published cells only", hint="in psql: \\copy (SELECT ...) TO 'file.csv' CSV HEADER")
    opts = copy_options(tree)
    if opts["format"] not in ("text", "csv"):
        raise PgError("sql.unsupported_statement", f"COPY format {opts['format'][:20]!r} is not supported", hint="use CSV or text")
    res = run_select(tree.this.this)
    cols = res.columns or []
    csv_mode = opts["format"] == "csv"
    delimiter = opts.get("delimiter") or ("," if csv_mode else "\t")
    null = opts.get("null", "" if csv_mode else "\\N")

    def field(v: Any, oid: int) -> str | None:
        return None if v is None else encode_text(v, oid).decode()

    lines: list[bytes] = []
    if csv_mode:
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        if opts.get("header") == "true":
            writer.writerow([c.name for c in cols])
        for row in res.rows:
            writer.writerow([null if v is None else field(v, c.oid) for v, c in zip(row, cols)])
        lines = [line.encode() + b"\n" for line in buf.getvalue().splitlines()]
    else:
        for row in res.rows:
            vals = [null if v is None else (field(v, c.oid) or "").replace("\\", "\\\\").replace("\t", "\\t")
                    .replace("\n", "\\n") for v, c in zip(row, cols)]
            lines.append(delimiter.join(vals).encode() + b"\n")
    return Result(f"COPY {len(res.rows)}", cols, [], notices=res.notices, copy_data=lines)

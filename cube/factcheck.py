"""The model against the facts: every column a member's ``sql`` names exists in the fact table.

A cube whose ``sql_table`` is one of the published fact tables (``crosstrack.fact_tables.FACT_TABLES``,
the one description of their columns and types, which the loader writes and checks) may only
name that table's columns: through ``{CUBE}.col``, a bare ``col``, or ``{other_cube}.col`` for a
joined cube. A numeric aggregation (sum, avg, min, max) of a single column needs a numeric
column. Every problem is an error at the column's own ``file:line:col`` with a "did you mean",
so a model that validates cannot fail at query time on a missing column (HTTP 500).

Cubes over other tables (a cube's own ``sql`` SELECT, test models) are not checked: their columns
are not published by ``loaders/``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterator

from sqlglot import exp

from crosstrack.cube.errors import Diagnostic
from crosstrack.cube.load_base import LoaderBase
from crosstrack.cube.sqlexpr import CUBE_PH, Template, ref_index
from crosstrack.fact_tables import FACT_TABLES

NUMERIC_AGGS = ("sum", "avg", "min", "max")
_NUMERIC_TYPE = re.compile(r"^(Nullable\()?(LowCardinality\()?(U?Int\d+|Float\d+|Decimal.*|Bool)\)?\)?$")


def fact_columns() -> dict[str, dict[str, str]]:
    """table -> {column: ClickHouse type}, as loaders/ publishes them."""
    return {table: dict(cols) for table, (cols, _order) in FACT_TABLES.items()}


def is_numeric(ch_type: str) -> bool:
    return bool(_NUMERIC_TYPE.match(ch_type))


def check_fact_columns(ld: LoaderBase, texts: dict[str, str]) -> None:
    """Append a diagnostic to ``ld.diags`` for every unknown column and every numeric aggregation
    of a non-numeric column in cubes over fact tables. ``texts``: file name -> file text (for the
    column's exact position inside the ``sql`` string)."""
    schema = fact_columns()
    table_of = {}
    for name, c in ld.cubes.items():
        if c.sql_table:
            table_of[name] = schema.get(c.sql_table.split(".")[-1])
    for (kind, *key), loc in list(ld.locs.items()):
        if kind not in ("member", "join"):
            continue
        cube_name, name = key[0], key[1]
        if table_of.get(cube_name) is None or (cube_name, name) in ld.broken:
            continue
        raw = _at(loc.doc.data, loc.path)
        if not isinstance(raw, dict):
            continue
        for sub_path, tpl in _templates(raw):
            _check_template(ld, loc, cube_name, tpl, sub_path, table_of, texts)
        if kind == "member":
            member = ld.cubes[cube_name].measures.get(name)
            if member is not None and member.type in NUMERIC_AGGS and member.sql is not None:
                _check_numeric(ld, loc, cube_name, member.type, member.sql, table_of, texts)


def _at(data: Any, path: tuple) -> Any:
    for p in path:
        try:
            data = data[p]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _templates(raw: dict) -> Iterator[tuple[tuple, Template]]:
    """(path below the member, parsed template) of every sql snippet of a member or join."""
    from crosstrack.cube.sqlexpr import TemplateError, parse_template

    def parsed(text: Any) -> Template | None:
        if not isinstance(text, (str, int)) or isinstance(text, bool):
            return None
        try:
            return parse_template(str(text))
        except TemplateError:
            return None  # reported by the loader already

    if (t := parsed(raw.get("sql"))) is not None:
        yield ("sql",), t
    for j, f in enumerate(raw.get("filters") or []):
        if isinstance(f, dict) and (t := parsed(f.get("sql"))) is not None:
            yield ("filters", j, "sql"), t
    case = raw.get("case")
    if isinstance(case, dict):
        for j, w in enumerate(case.get("when") or []):
            if isinstance(w, dict):
                if (t := parsed(w.get("sql"))) is not None:
                    yield ("case", "when", j, "sql"), t
                if isinstance(w.get("label"), dict) and (t := parsed(w["label"].get("sql"))) is not None:
                    yield ("case", "when", j, "label", "sql"), t
        other = case.get("else")
        if isinstance(other, dict) and isinstance(other.get("label"), dict):
            if (t := parsed(other["label"].get("sql"))) is not None:
                yield ("case", "else", "label", "sql"), t


def _columns(tpl: Template) -> Iterator[tuple[str | None, exp.Column]]:
    """(the ref naming the column's cube, or None for its own cube; column) for each column."""
    lambda_args = {a.name for lam in tpl.tree.find_all(exp.Lambda) for a in lam.expressions}
    for col in tpl.tree.find_all(exp.Column):
        t = col.table
        if t == CUBE_PH:
            yield None, col
        elif t and (i := ref_index(t)) is not None:
            yield tpl.refs[i], col
        elif not t and ref_index(col.name) is None and col.name not in lambda_args:
            yield None, col


def _owner(ld: LoaderBase, cube_name: str, ref: str | None) -> str | None:
    if ref is None or ref == cube_name:
        return cube_name
    return ref if ref in ld.cubes else None  # a member ref, resolved (and reported) by the loader


def _check_template(ld, loc, cube_name, tpl, sub_path, table_of, texts) -> None:
    for ref, col in _columns(tpl):
        owner = _owner(ld, cube_name, ref)
        cols = table_of.get(owner) if owner else None
        if cols is None or col.name in cols:
            continue
        near = _near(col.name, list(cols))
        hint = f" (did you mean '{near}'?)" if near else ""
        table = ld.cubes[owner].sql_table
        line, column = _position(loc, sub_path, col.name, texts)
        ld.diags.append(Diagnostic(loc.file, line, column, "model.unknown_column",
                                   f"{loc.label}.{'.'.join(str(p) for p in sub_path)}",
                                   f"column '{col.name}' is not a column of the fact table '{table}'{hint}",
                                   loc.path + tuple(sub_path)))


def _near(name: str, options: list[str]) -> str | None:
    """The same words in another order (total_enrollments -> enrollments_total) first, else the
    closest spelling."""
    words = sorted(name.lower().split("_"))
    for o in options:
        if sorted(o.lower().split("_")) == words:
            return o
    near = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return near[0] if near else None


def _check_numeric(ld, loc, cube_name, mtype, tpl, table_of, texts) -> None:
    tree = tpl.tree
    if not isinstance(tree, exp.Column):
        return
    found = next(iter(_columns(tpl)), None)
    if found is None:
        return
    ref, col = found
    owner = _owner(ld, cube_name, ref)
    cols = table_of.get(owner) if owner else None
    if cols is None or col.name not in cols or is_numeric(cols[col.name]):
        return
    line, column = _position(loc, ("sql",), col.name, texts)
    ld.diags.append(Diagnostic(loc.file, line, column, "model.type_mismatch", f"{loc.label}.sql",
                               f"a '{mtype}' measure needs a numeric column; '{col.name}' is {cols[col.name]}",
                               loc.path + ("sql",)))


def _position(loc, sub_path: tuple, column: str, texts: dict[str, str]) -> tuple[int, int]:
    """line:col of ``column`` inside the sql value (its first whole-word occurrence at or after the
    value's start, within the next few lines); the value's own position when not found."""
    line, col = loc.doc.value_at(loc.path + sub_path)
    lines = texts.get(loc.file, "").splitlines()
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(column)}(?![A-Za-z0-9_])")
    for i in range(line - 1, min(line + 5, len(lines))):
        start = col - 1 if i == line - 1 else 0
        m = word.search(lines[i], start)
        if m:
            return i + 1, m.start() + 1
    return line, col

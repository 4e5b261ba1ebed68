"""Validate a query's ``filters`` into typed plan filters (``Condition``, ``And``, ``Or``).

Operators are checked against the member's type, values are checked and typed here (numbers
become numbers, booleans booleans, dates stay ``YYYY-MM-DD[ HH:MM[:SS]]`` strings) so that the
renderer only ever turns them into literals.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from crosstrack.cube.errors import QueryError
from crosstrack.cube.model import Resolved
from crosstrack.cube.plan import And, Condition, Filter, MemberRef, Or

OPERATORS = {
    "string": {"equals", "notEquals", "contains", "notContains", "startsWith", "notStartsWith", "endsWith",
               "notEndsWith", "set", "notSet"},
    "number": {"equals", "notEquals", "gt", "gte", "lt", "lte", "set", "notSet"},
    "boolean": {"equals", "notEquals", "set", "notSet"},
    "time": {"equals", "notEquals", "inDateRange", "notInDateRange", "beforeDate", "beforeOrOnDate", "afterDate",
             "afterOrOnDate", "set", "notSet", "gt", "gte", "lt", "lte"},
}
ONE_VALUE = ("gt", "gte", "lt", "lte", "beforeDate", "beforeOrOnDate", "afterDate", "afterOrOnDate")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$")

# resolve(name, kinds, where) -> the model's member, or a QueryError
Resolver = Callable[[Any, tuple[str, ...], str], Resolved]


def parse_filter(f: Any, resolve: Resolver, ref: Callable[[Resolved], MemberRef], seen: list[Resolved]) -> Filter:
    """One filter of the query; every member it names is appended to ``seen``."""
    if not isinstance(f, dict):
        raise QueryError("a filter is {member, operator, values} or {and: [...]} / {or: [...]}", member="filters",
                         code="invalid_query")
    if "and" in f or "or" in f:
        op = "and" if "and" in f else "or"
        if len(f) != 1 or not isinstance(f[op], list):
            raise QueryError(f"a logical filter is {{{op}: [filters...]}}", member="filters", code="invalid_query")
        parts = tuple(parse_filter(x, resolve, ref, seen) for x in f[op])
        return And(parts) if op == "and" else Or(parts)
    name = f.get("member", f.get("dimension"))
    r = resolve(name, ("dimension", "measure"), "filters")
    seen.append(r)
    op = f.get("operator")
    typ = "number" if r.kind == "measure" else r.member.type
    if op not in OPERATORS[typ]:
        raise QueryError(f"filters: operator '{op}' is not allowed for {typ} member '{r.full_name}'",
                         member=r.full_name, allowed=sorted(OPERATORS[typ]), code="invalid_operator")
    values = f.get("values", [])
    if not isinstance(values, list) or not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise QueryError(f"filters: values of '{r.full_name}' must be a list of strings or numbers",
                         member=r.full_name, code="invalid_value")
    if op in ("set", "notSet"):
        values = []
    elif not values:
        raise QueryError(f"filters: operator '{op}' on '{r.full_name}' needs values", member=r.full_name,
                         code="invalid_value")
    if op in ONE_VALUE and len(values) != 1:
        raise QueryError(f"filters: operator '{op}' on '{r.full_name}' takes exactly one value",
                         member=r.full_name, code="invalid_value")
    if op in ("inDateRange", "notInDateRange") and len(values) != 2:
        raise QueryError(f"filters: operator '{op}' on '{r.full_name}' takes two dates", member=r.full_name,
                         code="invalid_value")
    return Condition(ref(r), op, tuple(check_value(r, typ, op, v) for v in values))


def check_value(r: Resolved, typ: str, op: str, v: Any) -> Any:
    """The value as the renderer will write it, or a QueryError naming the member."""
    codes = r.meta.get("codes") if isinstance(r.meta, dict) else None
    if codes and op in ("equals", "notEquals"):
        allowed = [c["code"] for c in codes]
        if str(v) not in [str(a) for a in allowed]:
            raise QueryError(f"filters: '{v}' is not a code of '{r.full_name}'", member=r.full_name,
                             allowed=allowed, code="invalid_value")
    if typ == "number":
        try:
            num = float(v) if not isinstance(v, (int, float)) or isinstance(v, bool) else v
        except ValueError:
            raise QueryError(f"filters: '{v}' is not a number ('{r.full_name}' is numeric)", member=r.full_name,
                             code="invalid_value") from None
        if isinstance(num, float) and num != num or num in (float("inf"), float("-inf")):
            raise QueryError(f"filters: '{v}' is not a finite number", member=r.full_name, code="invalid_value")
        return int(num) if float(num).is_integer() else num
    if typ == "boolean":
        s = str(v).lower()
        if s not in ("true", "false", "1", "0"):
            raise QueryError(f"filters: '{v}' is not true or false", member=r.full_name,
                             allowed=["true", "false"], code="invalid_value")
        return s in ("true", "1")
    if typ == "time":
        if not isinstance(v, str) or not DATE_RE.match(v):
            raise QueryError(f"filters: '{v}' is not a date YYYY-MM-DD", member=r.full_name, code="invalid_value")
    return v if isinstance(v, str) else str(v)

"""Cube REST queries -> sqlglot trees (ClickHouse dialect).

Request values only ever enter the tree as ``exp.Literal`` nodes; member SQL comes from the
validated model. Measures of a cube whose rows a join multiplies are aggregated per primary key
first (Cube's approach), so fan-out never inflates a sum or a count.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp

from crosstrack.cube.errors import QueryError
from crosstrack.cube.model import GRANULARITIES, Cube, Dimension, Measure, Model, PreAggregation, Resolved
from crosstrack.cube.sqlexpr import DIALECT, substitute

DEFAULT_LIMIT = 10_000
QUERY_KEYS = {"measures", "dimensions", "filters", "segments", "timeDimensions", "order", "limit", "offset",
              "total", "timezone", "renewQuery", "ungrouped", "responseFormat"}
OPERATORS = {
    "string": {"equals", "notEquals", "contains", "notContains", "startsWith", "notStartsWith", "endsWith",
               "notEndsWith", "set", "notSet"},
    "number": {"equals", "notEquals", "gt", "gte", "lt", "lte", "set", "notSet"},
    "boolean": {"equals", "notEquals", "set", "notSet"},
    "time": {"equals", "notEquals", "inDateRange", "notInDateRange", "beforeDate", "beforeOrOnDate", "afterDate",
             "afterOrOnDate", "set", "notSet", "gt", "gte", "lt", "lte"},
}
TRUNC = {"second": "toStartOfSecond", "minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay",
         "week": "toMonday", "month": "toStartOfMonth", "quarter": "toStartOfQuarter", "year": "toStartOfYear"}
GROUPING_COL = "__grouping"  # rollup rows: bit i set = rollup dimension i is grouped
GROUPINGS_PER_INSERT = 4
# A measure's ``meta.distinct_within: [dims]`` says its distinct values rarely repeat inside one value
# of those dimensions (one custody row per person per snapshot): rollups then also keep a plain
# count/sum plus the few repeated values, which answer exactly and cheaply within one such value.
WITHIN_META = "distinct_within"
CHEAP_DISTINCT = {"uniqExact": "count", "sumDistinct": "sum"}
# aggregates whose states are small whatever the data (merging them is cheap)
LIGHT_AGGS = {"count", "sum", "avg", "min", "max", "any", "anylast", "uniq"}
SAFE_UNDER_FANOUT = {"count_distinct", "count_distinct_approx", "min", "max"}
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$")


@dataclass
class Column:
    alias: str  # SQL alias
    key: str  # row key (Cube's member name)
    kind: str  # measure | dimension | time
    type: str
    extra_keys: tuple[str, ...] = ()


@dataclass
class Compiled:
    tree: exp.Select
    columns: list[Column]
    rollup: str | None = None
    needs_join_nulls: bool = False
    count_tree: exp.Select | None = None
    members: dict[str, Resolved] = field(default_factory=dict)


def lit(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def same_alias(cube: str) -> str:
    """Each cube is aliased by its own name (every plan but the fan-out key subquery's outer side)."""
    return cube


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A ClickHouse function call by its exact name (sqlglot would rename e.g. length to lengthUTF8)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _agg(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.AnonymousAggFunc(this=name, expressions=list(args))


def outer_aggs(tree: exp.Expression) -> list[exp.Expression]:
    """Aggregate calls not nested in another aggregate, in tree order."""
    out = []
    for node in tree.walk():
        if isinstance(node, exp.AggFunc) and not any(isinstance(a, exp.AggFunc) for a in _ancestors(node)):
            out.append(node)
    return out


def _ancestors(node: exp.Expression):
    p = node.parent
    while p is not None:
        yield p
        p = p.parent


def _split_call(sql: str) -> tuple[str, str, str]:
    """'quantileExactInclusive(0.5)(x)' -> (name, '(0.5)', '(x)'); 'sum(x)' -> ('sum', '', '(x)')."""
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\(", sql)
    if not m:
        raise ValueError(f"not a function call: {sql}")
    name = m.group(1)
    depth, i = 0, len(name)
    for i in range(len(name), len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth == 0:
            break
    first, rest = sql[len(name):i + 1], sql[i + 1:]
    if name.isupper() or name.lower() in ("count", "sum", "avg", "min", "max", "any"):
        name = name.lower()
    return (name, first, rest) if rest.startswith("(") else (name, "", first)


def state_of(agg: exp.Expression) -> exp.Expression:
    name, params, args = _split_call(agg.sql(dialect=DIALECT))
    return sqlglot.parse_one(f"{name}State{params}{args}", read=DIALECT)


def merge_of(agg: exp.Expression, column: exp.Expression) -> exp.Expression:
    name, params, _ = _split_call(agg.sql(dialect=DIALECT))
    tree = sqlglot.parse_one(f"{name}Merge{params}(__state__)", read=DIALECT)
    return tree.transform(lambda n: column.copy() if isinstance(n, exp.Column) and n.name == "__state__" else n)


class Compiler:
    def __init__(self, model: Model):
        self.model = model
        # Member trees and rollup plans depend only on the (immutable) model: kept with it, so a
        # fresh Compiler does not rebuild them. Entries are handed out as copies.
        self._cache: dict[tuple, Any] = model.__dict__.setdefault("_compiler_cache", {})

    # --- member expressions -------------------------------------------------------------------
    def dim_expr(self, cube: str, name: str, alias_of) -> exp.Expression:
        if alias_of is same_alias:
            key = ("dim", cube, name)
            tree = self._cache.get(key)
            if tree is None:
                tree = self._cache[key] = self._dim_expr(cube, name, alias_of)
            return tree.copy()
        return self._dim_expr(cube, name, alias_of)

    def _dim_expr(self, cube: str, name: str, alias_of) -> exp.Expression:
        d: Dimension = self.model.cubes[cube].dimensions[name]
        own = alias_of(cube)
        sub = lambda t: substitute(t, own_alias=own, table_alias=alias_of,  # noqa: E731
                                   member_expr=lambda c, m: self.dim_expr(c, m, alias_of))
        if d.case_when:
            ifs = [exp.If(this=sub(cond), true=sub(label) if hasattr(label, "tree") else lit(label))
                   for cond, label in d.case_when]
            default = None
            if d.case_else is not None:
                default = sub(d.case_else) if hasattr(d.case_else, "tree") else lit(d.case_else)
            return exp.Case(ifs=ifs, default=default)
        return sub(d.sql)

    def measure_expr(self, cube: str, name: str, alias_of) -> exp.Expression:
        if alias_of is same_alias:
            key = ("measure", cube, name)
            tree = self._cache.get(key)
            if tree is None:
                tree = self._cache[key] = self._measure_expr(cube, name, alias_of)
            return tree.copy()
        return self._measure_expr(cube, name, alias_of)

    def _measure_expr(self, cube: str, name: str, alias_of) -> exp.Expression:
        m: Measure = self.model.cubes[cube].measures[name]
        own = alias_of(cube)
        within = m.meta.get("distinct_within") if isinstance(m.meta, dict) else None
        if m.type == "number":
            tree = substitute(m.sql, own_alias=own, table_alias=alias_of,
                              member_expr=lambda c, n: self.measure_expr(c, n, alias_of))
            for agg in outer_aggs(tree):  # aggregates of referenced measures carry their own hint
                agg.meta.setdefault(WITHIN_META, within)
            return tree
        arg = substitute(m.sql, own_alias=own, table_alias=alias_of,
                         member_expr=lambda c, n: self.dim_expr(c, n, alias_of)) if m.sql is not None else None
        if arg is None and m.type == "count":
            # As Cube: a count without sql counts the cube's primary key (several keys: their
            # concatenation), so the NULL row a LEFT JOIN adds for an unmatched one-side row is
            # not counted on the many side; without a primary key it counts rows.
            pks = [self.dim_expr(cube, pk.name, alias_of) for pk in self.model.cubes[cube].primary_keys]
            if len(pks) == 1:
                arg = pks[0]
            elif pks:
                arg = exp.func("concat", *[exp.func("toString", k) for k in pks])
        if m.filters:
            cond = exp.and_(*[exp.Paren(this=substitute(f, own_alias=own, table_alias=alias_of,
                                                         member_expr=lambda c, n: self.dim_expr(c, n, alias_of)))
                              for f in m.filters])
            arg = exp.Case(ifs=[exp.If(this=cond, true=arg if arg is not None else exp.Literal.number(1))])
        if m.type == "count":
            out = _agg("count", arg) if arg is not None else _agg("count")
        else:
            fn = {"count_distinct": "uniqExact", "count_distinct_approx": "uniq", "sum": "sum", "avg": "avg",
                  "min": "min", "max": "max"}[m.type]
            out = _agg(fn, arg)
        out.meta[WITHIN_META] = None if m.filters else within
        return out

    def leaf_types(self, cube: str, name: str) -> set[str]:
        m = self.model.cubes[cube].measures[name]
        if m.type != "number":
            return {m.type}
        refs = [r for r in m.sql.resolved if r and r[0] == "member"]
        if not refs:
            return {"number"}
        out: set[str] = set()
        for _, c, n in refs:
            out |= self.leaf_types(c, n)
        if outer_aggs(m.sql.tree):
            out.add("number")
        return out

    # --- query normalisation ------------------------------------------------------------------
    def _resolve(self, name: Any, kinds: tuple[str, ...], where: str, internal: bool) -> Resolved:
        if not isinstance(name, str) or "." not in name:
            raise QueryError(f"{where}: '{name}' is not a member name of the form view.member", member=str(name),
                             allowed=self.model.queryable(internal=internal), code="unknown_member")
        owner = name.split(".", 1)[0]
        if owner not in self.model.views and owner not in self.model.cubes or (
                not internal and owner not in self.model.queryable(internal=False)):
            raise QueryError(f"{where}: '{owner}' is not a dataset", member=name,
                             allowed=self.model.queryable(internal=internal), code="unknown_member")
        r = self.model.resolve(name)
        if r is not None and (r.public or internal) and r.kind in kinds:
            return r
        allowed = [n for k in kinds for n in self.model.members_of(owner, k, internal=internal)]
        if r is None or (not r.public and not internal):
            raise QueryError(f"{where}: '{owner}' has no {' or '.join(kinds)} '{name.split('.', 1)[1]}'", member=name,
                             allowed=allowed, code="unknown_member")
        if r.kind not in kinds:
            raise QueryError(f"{where}: '{name}' is a {r.kind}, not a {' or '.join(kinds)}", member=name,
                             allowed=allowed, code="wrong_member_kind")
        return r

    def compile(self, query: dict, *, database: str, internal: bool = False,
                rollups: set[str] | None = None) -> Compiled:
        if not isinstance(query, dict):
            raise QueryError("a query is a JSON object", code="invalid_query")
        for k in query:
            if k not in QUERY_KEYS:
                raise QueryError(f"unknown query key '{k}'", member=k, allowed=sorted(QUERY_KEYS), code="invalid_query")
        if query.get("ungrouped"):
            raise QueryError("ungrouped queries are not supported", member="ungrouped", code="invalid_query")
        if query.get("timezone") not in (None, "UTC", "Etc/UTC"):
            raise QueryError("only the UTC timezone is supported", member="timezone", allowed=["UTC"],
                             code="invalid_query")
        for key in ("measures", "dimensions", "segments", "timeDimensions"):
            if not isinstance(query.get(key, []), list):
                raise QueryError(f"'{key}' must be a list", member=key, code="invalid_query")
        measures = [self._resolve(n, ("measure",), "measures", internal) for n in query.get("measures", [])]
        dims = [self._resolve(n, ("dimension",), "dimensions", internal) for n in query.get("dimensions", [])]
        segments = [self._resolve(n, ("segment",), "segments", internal) for n in query.get("segments", [])]
        tds: list[tuple[Resolved, str | None, list | None]] = []
        for td in query.get("timeDimensions", []):
            if not isinstance(td, dict) or "dimension" not in td:
                raise QueryError("a timeDimension is {dimension, granularity?, dateRange?}", member="timeDimensions",
                                 code="invalid_query")
            extra = set(td) - {"dimension", "granularity", "dateRange"}
            if extra:
                raise QueryError(f"timeDimensions: '{sorted(extra)[0]}' is not supported", member=sorted(extra)[0],
                                 allowed=["dimension", "granularity", "dateRange"], code="invalid_query")
            r = self._resolve(td["dimension"], ("dimension",), "timeDimensions", internal)
            if r.member.type != "time":
                raise QueryError(f"timeDimensions: '{r.full_name}' is not a time dimension", member=r.full_name,
                                 allowed=[n for n in self.model.members_of(r.owner, "dimension", internal=internal)
                                          if self.model.resolve(n).member.type == "time"], code="wrong_member_kind")
            gran = td.get("granularity")
            if gran is not None and gran not in GRANULARITIES:
                raise QueryError(f"granularity '{gran}' is not supported", member=r.full_name,
                                 allowed=list(GRANULARITIES), code="invalid_value")
            rng = td.get("dateRange")
            if rng is not None:
                rng = self._date_range(r, rng)
            tds.append((r, gran, rng))
        seen: set[str] = set()
        dims = [d for d in dims if not (d.full_name in seen or seen.add(d.full_name))]
        if not measures and not dims and not any(g for _, g, _ in tds):
            raise QueryError("a query needs at least one measure or dimension", member="measures",
                             allowed=self.model.members_of(self.model.queryable(internal=internal)[0], "measure")
                             if self.model.queryable(internal=internal) else [], code="invalid_query")
        filters = query.get("filters", [])
        if not isinstance(filters, list):
            raise QueryError("'filters' must be a list", member="filters", code="invalid_query")
        filter_members: list[Resolved] = []
        parsed_filters = [self._parse_filter(f, internal, filter_members) for f in filters]

        all_members = measures + dims + segments + [t[0] for t in tds] + filter_members
        owners = {r.owner for r in all_members}
        if any(o in self.model.views for o in owners) and len(owners) > 1:
            raise QueryError("all members of a query must come from one dataset (view)", member=sorted(owners)[1],
                             allowed=sorted(owners)[:1], code="invalid_query")
        members = {r.full_name: r for r in all_members}

        limit = query.get("limit", DEFAULT_LIMIT)
        offset = query.get("offset", 0)
        for key, val in (("limit", limit), ("offset", offset)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise QueryError(f"'{key}' must be a non-negative integer", member=key, code="invalid_value")

        # output columns
        cols: list[Column] = []
        for r in dims:
            cols.append(Column(r.full_name.replace(".", "__"), r.full_name, "dimension", r.member.type))
        for r, gran, _ in tds:
            if gran:
                key = f"{r.full_name}.{gran}"
                extra = (r.full_name,) if not any(c.key == r.full_name for c in cols) else ()
                cols.append(Column(f"{r.full_name.replace('.', '__')}_{gran}", key, "time", "time", extra))
        for r in measures:
            if not any(c.key == r.full_name for c in cols):
                cols.append(Column(r.full_name.replace(".", "__"), r.full_name, "measure", r.member.type))
        order = self._order(query.get("order"), cols, measures, dims, tds)

        plan = _Plan(measures, dims, segments, tds, parsed_filters, cols, order, limit, offset, database,
                     bool(query.get("total")))
        rollup = self._match_rollup(plan, rollups) if rollups else None
        if rollup is not None:
            compiled = self._build_rollup(plan, rollup)
        else:
            compiled = self._build(plan, all_members)
        compiled.members = members
        return compiled

    def _date_range(self, r: Resolved, rng: Any) -> list[str]:
        if isinstance(rng, str):
            rng = [rng, rng]
        if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, str) and _DATE_RE.match(v) for v in rng)):
            raise QueryError(f"dateRange of '{r.full_name}' must be two dates YYYY-MM-DD (relative ranges are not "
                             "supported)", member=r.full_name, code="invalid_value")
        return list(rng)

    def _order(self, order: Any, cols: list[Column], measures, dims, tds) -> list[tuple[str, bool]]:
        by_key = {c.key: c for c in cols}
        for c in cols:
            for k in c.extra_keys:
                by_key.setdefault(k, c)
        pairs: list[tuple[str, str]] = []
        if order is None:
            # Cube's default: first time dimension with granularity asc, else first measure desc,
            # else first dimension asc.
            timecols = [c for c in cols if c.kind == "time"]
            if timecols:
                pairs = [(timecols[0].key, "asc")]
            elif measures:
                pairs = [(measures[0].full_name, "desc")]
            elif dims:
                pairs = [(dims[0].full_name, "asc")]
        elif isinstance(order, dict):
            pairs = list(order.items())
        elif isinstance(order, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in order):
            pairs = [tuple(p) for p in order]
        else:
            raise QueryError("'order' is {member: asc|desc} or [[member, asc|desc], ...]", member="order",
                             code="invalid_query")
        out: list[tuple[str, bool]] = []
        for key, direction in pairs:
            if key not in by_key:
                raise QueryError(f"order: '{key}' is not a member of this query", member=str(key),
                                 allowed=list(by_key), code="invalid_value")
            if direction not in ("asc", "desc"):
                raise QueryError(f"order: direction of '{key}' must be asc or desc", member=str(key),
                                 allowed=["asc", "desc"], code="invalid_value")
            out.append((by_key[key].alias, direction == "desc"))
        # Deterministic output: the same query always gives the same rows in the same order.
        for c in cols:
            if c.kind != "measure" and c.alias not in [a for a, _ in out]:
                out.append((c.alias, False))
        return out

    # --- filters --------------------------------------------------------------------------------
    def _parse_filter(self, f: Any, internal: bool, acc: list[Resolved]) -> tuple:
        if not isinstance(f, dict):
            raise QueryError("a filter is {member, operator, values} or {and: [...]} / {or: [...]}", member="filters",
                             code="invalid_query")
        if "and" in f or "or" in f:
            op = "and" if "and" in f else "or"
            if len(f) != 1 or not isinstance(f[op], list):
                raise QueryError(f"a logical filter is {{{op}: [filters...]}}", member="filters", code="invalid_query")
            return (op, [self._parse_filter(x, internal, acc) for x in f[op]])
        name = f.get("member", f.get("dimension"))
        r = self._resolve(name, ("dimension", "measure"), "filters", internal)
        acc.append(r)
        op = f.get("operator")
        typ = "number" if r.kind == "measure" else r.member.type
        allowed_ops = sorted(OPERATORS[typ])
        if op not in OPERATORS[typ]:
            raise QueryError(f"filters: operator '{op}' is not allowed for {typ} member '{r.full_name}'",
                             member=r.full_name, allowed=allowed_ops, code="invalid_operator")
        values = f.get("values", [])
        if not isinstance(values, list) or not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise QueryError(f"filters: values of '{r.full_name}' must be a list of strings or numbers",
                             member=r.full_name, code="invalid_value")
        if op in ("set", "notSet"):
            values = []
        elif not values:
            raise QueryError(f"filters: operator '{op}' on '{r.full_name}' needs values", member=r.full_name,
                             code="invalid_value")
        if op in ("gt", "gte", "lt", "lte", "beforeDate", "beforeOrOnDate", "afterDate", "afterOrOnDate") and len(values) != 1:
            raise QueryError(f"filters: operator '{op}' on '{r.full_name}' takes exactly one value",
                             member=r.full_name, code="invalid_value")
        if op in ("inDateRange", "notInDateRange") and len(values) != 2:
            raise QueryError(f"filters: operator '{op}' on '{r.full_name}' takes two dates", member=r.full_name,
                             code="invalid_value")
        typed = [self._check_value(r, typ, op, v) for v in values]
        return ("cond", r, op, typed)

    def _check_value(self, r: Resolved, typ: str, op: str, v: Any) -> Any:
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
            if not isinstance(v, str) or not _DATE_RE.match(v):
                raise QueryError(f"filters: '{v}' is not a date YYYY-MM-DD", member=r.full_name, code="invalid_value")
        return v if isinstance(v, str) else str(v)

    def _cond(self, f: tuple, expr_of) -> exp.Expression:
        if f[0] in ("and", "or"):
            parts = [self._cond(x, expr_of) for x in f[1]]
            if not parts:
                return exp.true()
            return exp.Paren(this=(exp.and_ if f[0] == "and" else exp.or_)(*parts))
        _, r, op, values = f
        col = expr_of(r)
        lits = [lit(v) for v in values]
        if r.member.type == "time" and r.kind == "dimension":
            lits = [self._time_lit(v, end=op in ("beforeOrOnDate", "lte") or (op.endswith("DateRange") and i == 1))
                    for i, v in enumerate(values)]

        def anyof(fn):
            return exp.Paren(this=exp.or_(*[fn(x) for x in lits])) if len(lits) > 1 else fn(lits[0])

        def like(pattern_parts):
            return exp.ILike(this=col.copy(), expression=exp.func("concat", *pattern_parts))

        if op == "equals":
            return col.isin(*lits) if len(lits) > 1 else exp.EQ(this=col, expression=lits[0])
        if op == "notEquals":
            base = exp.Not(this=col.isin(*lits)) if len(lits) > 1 else exp.NEQ(this=col, expression=lits[0])
            return exp.Paren(this=exp.or_(base, exp.Is(this=col.copy(), expression=exp.Null())))
        if op in ("contains", "notContains", "startsWith", "notStartsWith", "endsWith", "notEndsWith"):
            pct = exp.Literal.string("%")
            base = op[3].lower() + op[4:] if op.startswith("not") else op
            shape = {"contains": lambda x: [pct, x, pct.copy()], "startsWith": lambda x: [x, pct.copy()],
                     "endsWith": lambda x: [pct.copy(), x]}[base]
            if op.startswith("not"):
                inner = exp.and_(*[exp.Not(this=like(shape(x))) for x in lits])
                return exp.Paren(this=exp.or_(exp.Paren(this=inner), exp.Is(this=col.copy(), expression=exp.Null())))
            return exp.Paren(this=exp.or_(*[like(shape(x)) for x in lits]))
        if op == "set":
            return exp.Not(this=exp.Is(this=col, expression=exp.Null()))
        if op == "notSet":
            return exp.Is(this=col, expression=exp.Null())
        cmp = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE, "beforeDate": exp.LT,
               "beforeOrOnDate": exp.LTE, "afterDate": exp.GT, "afterOrOnDate": exp.GTE}
        if op in cmp:
            return cmp[op](this=col, expression=lits[0])
        if op == "inDateRange":
            return exp.Paren(this=exp.and_(exp.GTE(this=col, expression=lits[0]),
                                           exp.LTE(this=col.copy(), expression=lits[1])))
        if op == "notInDateRange":
            return exp.Paren(this=exp.or_(exp.LT(this=col, expression=lits[0]),
                                          exp.GT(this=col.copy(), expression=lits[1])))
        raise QueryError(f"operator '{op}' is not supported", member=r.full_name, code="invalid_operator")

    def _time_lit(self, v: str, end: bool) -> exp.Expression:
        text = v.replace("T", " ")
        if len(text) == 10:
            text += " 23:59:59.999" if end else " 00:00:00.000"
        return exp.func("toDateTime64", exp.Literal.string(text), exp.Literal.number(3), exp.Literal.string("UTC"))

    def _filter_members(self, f: tuple, out: list[Resolved]) -> None:
        if f[0] in ("and", "or"):
            for x in f[1]:
                self._filter_members(x, out)
        else:
            out.append(f[1])

    def _split_filters(self, plan: "_Plan") -> tuple[list[tuple], list[tuple]]:
        where, having = [], []
        for f in plan.filters:
            ms: list[Resolved] = []
            self._filter_members(f, ms)
            kinds = {m.kind for m in ms}
            if kinds == {"measure"}:
                having.append(f)
            elif kinds <= {"dimension"}:
                where.append(f)
            else:
                raise QueryError("a filter group may not mix measures and dimensions", member=ms[0].full_name,
                                 code="invalid_query")
        return where, having

    # --- joins ----------------------------------------------------------------------------------
    def _join_tree(self, members: list[Resolved]) -> tuple[str, list[tuple[str, str, Any]]]:
        """(root cube, [(from, to, Join)]) — edges in join order."""
        cubes = []
        for r in members:
            if r.cube not in cubes:
                cubes.append(r.cube)
        if any(r.owner in self.model.views for r in members):
            root = members[0].join_path[0]
            edges: list[tuple[str, str, Any]] = []
            for r in members:
                for a, b in zip(r.join_path, r.join_path[1:]):
                    if not any(e[0] == a and e[1] == b for e in edges):
                        edges.append((a, b, self._edge(a, b)))
            return root, edges
        for root in cubes:
            tree = self._bfs(root, set(cubes))
            if tree is not None:
                return root, tree
        raise QueryError("these cubes cannot be joined: " + ", ".join(cubes), member=members[-1].full_name,
                         code="invalid_query")

    def _edge(self, a: str, b: str):
        ca, cb = self.model.cubes[a], self.model.cubes[b]
        return ca.joins.get(b) or cb.joins.get(a)

    def _bfs(self, root: str, need: set[str]):
        prev: dict[str, str] = {root: root}
        queue = [root]
        while queue:
            cur = queue.pop(0)
            for tgt in self.model.cubes[cur].joins:
                if tgt not in prev:
                    prev[tgt] = cur
                    queue.append(tgt)
        if not need <= set(prev):
            return None
        edges = []
        for c in need:
            path = [c]
            while path[-1] != root:
                path.append(prev[path[-1]])
            path.reverse()
            for a, b in zip(path, path[1:]):
                if not any(e[0] == a and e[1] == b for e in edges):
                    edges.append((a, b, self._edge(a, b)))
        order = {c: i for i, c in enumerate(prev)}
        edges.sort(key=lambda e: order[e[1]])
        return edges

    def multiplied(self, cube: str, edges: list[tuple[str, str, Any]]) -> bool:
        """True when the join tree holds several rows for one row of ``cube`` (fan-out)."""
        adj: dict[str, list[tuple[str, bool]]] = {}
        for a, b, j in edges:
            # traversing owner->target is to-one for many_to_one/one_to_one; target->owner for one_to_many/one_to_one
            owner, target = j.owner, j.target
            adj.setdefault(owner, []).append((target, j.relationship in ("many_to_one", "one_to_one")))
            adj.setdefault(target, []).append((owner, j.relationship in ("one_to_many", "one_to_one")))
        seen, stack = {cube}, [cube]
        while stack:
            cur = stack.pop()
            for nxt, to_one in adj.get(cur, []):
                if nxt in seen:
                    continue
                if not to_one:
                    return True
                seen.add(nxt)
                stack.append(nxt)
        return False

    def _table(self, cube: Cube, database: str, alias: str) -> exp.Expression:
        if cube.sql_table:
            parts = cube.sql_table.split(".")
            db = parts[0] if len(parts) == 2 else database
            return exp.Table(this=exp.to_identifier(parts[-1]), db=exp.to_identifier(db),
                             alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        # A cube's own SQL is a whole SELECT: its columns belong to its tables, so nothing is qualified
        # except the tables themselves, which live in the published database.
        tree = cube.sql.tree.copy()
        for t in tree.find_all(exp.Table):
            if not t.args.get("db"):
                t.set("db", exp.to_identifier(database))
        return exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))

    def _from(self, select: exp.Select, root: str, edges, database: str, alias_of) -> exp.Select:
        select = select.from_(self._table(self.model.cubes[root], database, alias_of(root)), copy=False)
        for a, b, j in edges:
            tgt = b
            on = substitute(j.sql, own_alias=alias_of(j.owner), table_alias=alias_of,
                            member_expr=lambda c, n: self.dim_expr(c, n, alias_of))
            select = select.join(self._table(self.model.cubes[tgt], database, alias_of(tgt)), on=on, join_type="left", copy=False)
        return select

    # --- plans ----------------------------------------------------------------------------------
    def _build(self, plan: "_Plan", all_members: list[Resolved]) -> Compiled:
        root, edges = self._join_tree(all_members)
        alias_of = same_alias
        where_f, having_f = self._split_filters(plan)

        def dim_of(r: Resolved) -> exp.Expression:
            return self.dim_expr(r.cube, r.member.name, alias_of)

        def meas_of(r: Resolved) -> exp.Expression:
            return self.measure_expr(r.cube, r.member.name, alias_of)

        def expr_of(r: Resolved) -> exp.Expression:
            return meas_of(r) if r.kind == "measure" else dim_of(r)

        dim_cols = self._dim_selects(plan, dim_of)
        wheres = [self._cond(f, expr_of) for f in where_f]
        wheres += [substitute(s.member.sql, own_alias=alias_of(s.cube), table_alias=alias_of,
                              member_expr=lambda c, n: self.dim_expr(c, n, alias_of)) for s in plan.segments]
        wheres += self._td_ranges(plan, dim_of)
        having_members: list[Resolved] = []
        for f in having_f:
            self._filter_members(f, having_members)
        measure_rs = {r.full_name: r for r in plan.measures + having_members}
        mult = {n: r for n, r in measure_rs.items()
                if self.multiplied(r.cube, edges) and not self.leaf_types(r.cube, r.member.name) <= SAFE_UNDER_FANOUT}

        if not mult:
            sel = exp.select(*[exp.alias_(e, a, quoted=True) for a, e in dim_cols])
            sel = sel.select(*[exp.alias_(meas_of(r), r.full_name.replace(".", "__"), quoted=True)
                               for r in plan.measures if any(c.key == r.full_name for c in plan.cols)], copy=False)
            sel = self._from(sel, root, edges, plan.database, alias_of)
            for w in wheres:
                sel = sel.where(w, copy=False)
            if dim_cols:
                sel = sel.group_by(*[exp.column(a, quoted=True) for a, _ in dim_cols], copy=False)
            for f in having_f:
                sel = sel.having(self._cond(f, expr_of), copy=False)
            # Like Cube's ClickHouse driver: a LEFT JOIN miss is NULL, not the type's default.
            return self._finish(plan, sel, needs_nulls=bool(edges))

        # Fan-out: one aggregate subquery per group of measures, joined on the dimensions.
        groups: dict[str, list[Resolved]] = {}
        for r in measure_rs.values():
            groups.setdefault(r.cube if r.full_name in mult else "", []).append(r)
        subs: list[tuple[str, exp.Select]] = []
        for gi, (gcube, rs) in enumerate(groups.items()):
            q = f"q_{gi}"
            if gcube == "":
                s = exp.select(*[exp.alias_(e, a, quoted=True) for a, e in dim_cols])
                s = s.select(*[exp.alias_(meas_of(r), r.full_name.replace(".", "__"), quoted=True) for r in rs], copy=False)
                s = self._from(s, root, edges, plan.database, alias_of)
                for w in wheres:
                    s = s.where(w, copy=False)
            else:
                cube = self.model.cubes[gcube]
                pks = cube.primary_keys
                if not pks:
                    raise QueryError(f"cube '{gcube}' needs a primary_key dimension to aggregate measures across a "
                                     "one-to-many join", member=rs[0].full_name, code="invalid_query")
                keys = exp.select(*[exp.alias_(e, a, quoted=True) for a, e in dim_cols])
                keys = keys.select(*[exp.alias_(self.dim_expr(gcube, pk.name, alias_of), f"__pk_{i}", quoted=True)
                                     for i, pk in enumerate(pks)], copy=False).distinct()
                keys = self._from(keys, root, edges, plan.database, alias_of)
                for w in wheres:
                    keys = keys.where(w, copy=False)
                ka = "keys"
                inner_alias = same_alias
                on = exp.and_(*[exp.EQ(this=exp.column(f"__pk_{i}", table=ka, quoted=True),
                                       expression=self.dim_expr(gcube, pk.name, inner_alias)) for i, pk in enumerate(pks)])
                s = exp.select(*[exp.alias_(exp.column(a, table=ka, quoted=True), a, quoted=True) for a, _ in dim_cols])
                s = s.select(*[exp.alias_(meas_of(r), r.full_name.replace(".", "__"), quoted=True) for r in rs], copy=False)
                s = s.from_(exp.Subquery(this=keys, alias=exp.TableAlias(this=exp.to_identifier(ka, quoted=True))), copy=False)
                s = s.join(self._table(cube, plan.database, gcube), on=on, join_type="left", copy=False)
            if dim_cols:
                s = s.group_by(*[exp.column(a, quoted=True) for a, _ in dim_cols], copy=False)
            subs.append((q, s))
        # Cube joins the per-group aggregates with an INNER JOIN on assumeNotNull(dimension) (so a
        # NULL dimension value meets its NULL partner) and takes the dimensions from the first.
        first_q = subs[0][0]
        outer = exp.select(*[exp.alias_(exp.column(a, table=first_q, quoted=True), a, quoted=True) for a, _ in dim_cols])
        mcol = {r.full_name: exp.column(r.full_name.replace(".", "__"), table=f"q_{i}", quoted=True)
                for i, rs in enumerate(groups.values()) for r in rs}
        outer = outer.select(*[exp.alias_(mcol[r.full_name], r.full_name.replace(".", "__"), quoted=True)
                               for r in plan.measures if any(c.key == r.full_name for c in plan.cols)], copy=False)
        outer = outer.from_(exp.Subquery(this=subs[0][1], alias=exp.TableAlias(this=exp.to_identifier(first_q, quoted=True))), copy=False)
        for q, s in subs[1:]:
            sub = exp.Subquery(this=s, alias=exp.TableAlias(this=exp.to_identifier(q, quoted=True)))
            if dim_cols:
                on = exp.and_(*[exp.EQ(this=exp.func("assumeNotNull", exp.column(a, table=first_q, quoted=True)),
                                       expression=exp.func("assumeNotNull", exp.column(a, table=q, quoted=True)))
                                for a, _ in dim_cols])
                outer = outer.join(sub, on=on, join_type="inner", copy=False)
            else:
                outer = outer.join(sub, join_type="cross", copy=False)
        for f in having_f:
            outer = outer.where(self._cond(f, lambda r: mcol[r.full_name].copy()), copy=False)
        return self._finish(plan, outer, needs_nulls=True)

    def _dim_selects(self, plan: "_Plan", dim_of) -> list[tuple[str, exp.Expression]]:
        out = []
        for c in plan.cols:
            if c.kind == "dimension":
                r = next(d for d in plan.dims if d.full_name == c.key)
                out.append((c.alias, dim_of(r)))
            elif c.kind == "time":
                r, gran = next((t[0], t[1]) for t in plan.tds if f"{t[0].full_name}.{t[1]}" == c.key)
                out.append((c.alias, exp.func(TRUNC[gran], exp.func("toDateTime", dim_of(r), exp.Literal.string("UTC")))))
        return out

    def _td_ranges(self, plan: "_Plan", dim_of) -> list[exp.Expression]:
        out = []
        for r, _, rng in plan.tds:
            if rng:
                col = dim_of(r)
                out.append(exp.and_(exp.GTE(this=col, expression=self._time_lit(rng[0], end=False)),
                                    exp.LTE(this=col.copy(), expression=self._time_lit(rng[1], end=True))))
        return out

    def _finish(self, plan: "_Plan", sel: exp.Select, needs_nulls: bool) -> Compiled:
        count_tree = None
        if plan.total:
            count_tree = exp.select(exp.alias_(exp.AnonymousAggFunc(this="count", expressions=[]), "total", quoted=True)) \
                .from_(exp.Subquery(this=sel.copy(), alias=exp.TableAlias(this=exp.to_identifier("q", quoted=True))))
        if plan.order:
            sel = sel.order_by(*[exp.Ordered(this=exp.column(a, quoted=True), desc=d) for a, d in plan.order], copy=False)
        sel = sel.limit(exp.Literal.number(plan.limit), copy=False)
        if plan.offset:
            sel = sel.offset(exp.Literal.number(plan.offset), copy=False)
        return Compiled(sel, plan.cols, None, needs_nulls, count_tree)

    # --- rollups --------------------------------------------------------------------------------
    # A rollup table holds two kinds of rows, told apart by GROUPING_COL (a bit mask over the
    # rollup's dimensions, bit i = dimension i is grouped):
    # - base rows (every dimension grouped): one -State column per aggregate call of each measure
    #   (``<measure>__<i>``), plus for a ``distinct_within`` measure a plain count/sum
    #   (``__<i>s``) and the values repeated within one value of those dimensions (``__<i>d``);
    # - for every grouping (subset of its dimensions) and also on base rows: the measure's final
    #   value (``<measure>__f``), computed from the facts like the raw query computes it.
    # A query whose groups are exactly the rows of one grouping (its dimensions, plus dimensions
    # pinned to one value by a filter) reads the final values: no state is merged. Otherwise base
    # rows are merged, but only when every state is small (sums, means, counts, a distinct count
    # within one snapshot year); exact distinct and quantile states hold every value, merging
    # them costs as much as scanning the facts, so those queries read the facts.
    def rollup_groupings(self, pa: PreAggregation) -> list[tuple[str, ...]]:
        """Proper, non-empty subsets of the rollup's dimensions stored with final values, largest first.

        The cube's ``meta.rollup_subsets`` (``required: [snapshot_year]``, for all its rollups or for
        one) keeps only the subsets that contain those dimensions, which bounds the build cost.
        """
        key = ("groupings", pa.table)
        if key not in self._cache:
            required = set(rollup_required(self.model.cubes[pa.cube], pa.name))
            dims = list(pa.dimensions)
            out = []
            for mask in range((1 << len(dims)) - 2, 0, -1):
                subset = tuple(d for i, d in enumerate(dims) if mask >> i & 1)
                if required <= set(subset):
                    out.append(subset)
            self._cache[key] = (sorted(out, key=lambda s: -len(s)), {frozenset(x) for x in out})
        return list(self._cache[key][0])

    @staticmethod
    def _cheap_distinct(pa: PreAggregation, agg: exp.Expression) -> list[str] | None:
        """The ``distinct_within`` dimensions of a uniqExact/sumDistinct call a rollup can answer cheaply."""
        within = agg.meta.get(WITHIN_META)
        name = agg.this if isinstance(agg.this, str) else None
        if not within or name not in CHEAP_DISTINCT or len(agg.expressions) != 1 or \
                not set(within) <= set(pa.dimensions):
            return None
        return list(within)

    def _match_rollup(self, plan: "_Plan", available: set[str]) -> PreAggregation | None:
        if plan.segments or plan.tds:
            return None
        rs = plan.measures + plan.dims
        fm: list[Resolved] = []
        for f in plan.filters:
            self._filter_members(f, fm)
        rs = rs + fm
        cubes = {r.cube for r in rs}
        if len(cubes) != 1:
            return None
        cube = self.model.cubes[cubes.pop()]
        if any(len(r.join_path) > 1 for r in rs):
            return None
        need_m = {r.member.name for r in rs if r.kind == "measure"}
        need_d = {r.member.name for r in rs if r.kind == "dimension"}
        best, best_rank = None, None
        for pa in cube.pre_aggregations.values():
            if pa.time_dimension or pa.table not in available:
                continue
            if need_m <= set(pa.measures) and need_d <= set(pa.dimensions):
                # Final values beat merged states; then the fewest rows (dimensions). States that
                # hold every value (exact distinct counts, exact quantiles) cost as much to merge as
                # scanning the facts (measured: 1.2-2x slower), so such a rollup is not used.
                exact = self._grain_mask(plan, pa) is not None
                if not exact and not self._merges_cheaply(plan, pa, need_m):
                    continue
                rank = (not exact, len(pa.dimensions))
                if best_rank is None or rank < best_rank:
                    best, best_rank = pa, rank
        return best

    def _merges_cheaply(self, plan: "_Plan", pa: PreAggregation, measures: set[str]) -> bool:
        fixed = self._fixed_dims(plan)
        for name in measures:
            for agg in outer_aggs(self.measure_expr(pa.cube, name, same_alias)):
                within = self._cheap_distinct(pa, agg)
                if within and set(within) <= fixed:
                    continue
                fn = agg.this if isinstance(agg.this, str) else agg.key
                if str(fn).lower() not in LIGHT_AGGS:
                    return False
        return True

    def _fixed_dims(self, plan: "_Plan") -> set[str]:
        """Dimensions with one value in each output row: grouped, or pinned by an equals filter."""
        fixed = {r.member.name for r in plan.dims}
        for f in _flatten_and(plan.filters):
            if f[0] == "cond" and f[1].kind == "dimension" and f[2] == "equals" and len(f[3]) == 1:
                fixed.add(f[1].member.name)
        return fixed

    def _grain_mask(self, plan: "_Plan", pa: PreAggregation) -> int | None:
        """The GROUPING_COL value whose rows are exactly this query's groups, or None.

        Exact when every dimension filter either reads only grouped dimensions (it keeps or drops
        whole groups) or pins one dimension to a single value, and the grouped plus pinned
        dimensions form a grouping the rollup stores. A query without dimensions always has one
        row (even over no facts), so it merges states instead.
        """
        if not plan.dims:
            return None
        grouped = {r.member.name for r in plan.dims}
        pinned: set[str] = set()
        for f in _flatten_and(plan.filters):
            ms: list[Resolved] = []
            self._filter_members(f, ms)
            if all(m.kind == "measure" for m in ms) or all(m.kind == "dimension" and m.member.name in grouped
                                                            for m in ms):
                continue
            if f[0] == "cond" and f[1].kind == "dimension" and f[2] == "equals" and len(f[3]) == 1:
                pinned.add(f[1].member.name)
                continue
            return None
        wanted = grouped | pinned
        if wanted == set(pa.dimensions):
            return (1 << len(pa.dimensions)) - 1
        self.rollup_groupings(pa)
        if frozenset(wanted) not in self._cache[("groupings", pa.table)][1]:
            return None
        return sum(1 << i for i, d in enumerate(pa.dimensions) if d in wanted)

    def rollup_finals_select(self, pa: PreAggregation, database: str) -> exp.Select:
        """The measures' final values per group of the rollup (to learn their ClickHouse types)."""
        alias_of = same_alias
        sel = exp.select(*[exp.alias_(self.measure_expr(pa.cube, m, alias_of), f"{m}__f", quoted=True)
                           for m in pa.measures])
        sel = sel.from_(self._table(self.model.cubes[pa.cube], database, pa.cube), copy=False)
        if pa.dimensions:
            sel = sel.group_by(*[self.dim_expr(pa.cube, d, alias_of) for d in pa.dimensions], copy=False)
        return sel

    def rollup_select(self, pa: PreAggregation, database: str, final_types: dict[str, str] | None = None) -> exp.Select:
        """The SELECT that fills a rollup's base rows: dimensions, grouping mask, -State and final columns.

        ``final_types`` (column -> ClickHouse type, from ``rollup_finals_select``) stores each final
        value as ``SimpleAggregateFunction(anyLast, type)``: an AggregatingMergeTree keeps only key,
        state and simple-aggregate columns (the keys are unique, so anyLast never picks)."""
        alias_of = same_alias
        sel = exp.select(*[exp.alias_(self.dim_expr(pa.cube, d, alias_of), d, quoted=True) for d in pa.dimensions])
        sel = sel.select(exp.alias_(exp.func("toUInt64", exp.Literal.number((1 << len(pa.dimensions)) - 1)),
                                    GROUPING_COL, quoted=True), copy=False)
        for m in pa.measures:
            for i, agg in enumerate(outer_aggs(self.measure_expr(pa.cube, m, alias_of))):
                sel = sel.select(exp.alias_(state_of(agg), f"{m}__{i}", quoted=True), copy=False)
                within = self._cheap_distinct(pa, agg)
                if within:
                    arg = agg.expressions[0]
                    keys = [self.dim_expr(pa.cube, d, alias_of) for d in within] + [arg.copy()]
                    repeated = exp.select(*[k.copy() for k in keys]).from_(
                        self._table(self.model.cubes[pa.cube], database, pa.cube)).group_by(
                        *[k.copy() for k in keys]).having(exp.GT(this=_agg("count"), expression=exp.Literal.number(1)))
                    flag = exp.In(this=exp.Tuple(expressions=keys), query=exp.Subquery(this=repeated))
                    plain = _agg(f"{CHEAP_DISTINCT[agg.this]}State", arg.copy())
                    rep = _agg("groupArrayArrayState", exp.func("if", flag, exp.Array(expressions=[arg.copy()]),
                                                                exp.Array(expressions=[])))
                    sel = sel.select(exp.alias_(plain, f"{m}__{i}s", quoted=True),
                                     exp.alias_(rep, f"{m}__{i}d", quoted=True), copy=False)
        for m in pa.measures:
            final = self.measure_expr(pa.cube, m, alias_of)
            if final_types and f"{m}__f" in final_types:
                final = exp.Anonymous(this="CAST", expressions=[
                    final, exp.Literal.string(f"SimpleAggregateFunction(anyLast, {final_types[f'{m}__f']})")])
            sel = sel.select(exp.alias_(final, f"{m}__f", quoted=True), copy=False)
        sel = sel.from_(self._table(self.model.cubes[pa.cube], database, pa.cube), copy=False)
        if pa.dimensions:
            sel = sel.group_by(*[exp.column(d, quoted=True) for d in pa.dimensions], copy=False)
        return sel

    def rollup_groupings_selects(self, pa: PreAggregation, database: str, batch: int = GROUPINGS_PER_INSERT) -> list[exp.Select]:
        """SELECTs that add one row per group of every stored grouping, ``batch`` groupings each
        (GROUP BY GROUPING SETS holds every set's states at once, so batches bound the memory):
        final values only; the -State columns keep their empty default."""
        sets = self.rollup_groupings(pa)
        alias_of = same_alias
        out = []
        for start in range(0, len(sets), batch):
            chunk = sets[start:start + batch]
            # Only dimensions grouped somewhere in this batch are selected (the others keep their
            # column default); grouping(d) is 0 when d is grouped in the row's set (SQL standard).
            names = [d for d in pa.dimensions if any(d in s for s in chunk)]
            dims = [self.dim_expr(pa.cube, d, alias_of) for d in names]
            bit = {d: 1 << i for i, d in enumerate(pa.dimensions)}
            mask = exp.func("toUInt64", exp.Paren(this=_sum_exprs([
                exp.Mul(this=exp.Paren(this=exp.Sub(this=exp.Literal.number(1),
                                                    expression=exp.func("grouping", e.copy()))),
                        expression=exp.Literal.number(bit[d])) for d, e in zip(names, dims)])))
            sel = exp.select(*[exp.alias_(e, d, quoted=True) for e, d in zip(dims, names)])
            sel = sel.select(exp.alias_(mask, GROUPING_COL, quoted=True), copy=False)
            sel = sel.select(*[exp.alias_(self.measure_expr(pa.cube, m, alias_of), f"{m}__f", quoted=True)
                               for m in pa.measures], copy=False)
            sel = sel.from_(self._table(self.model.cubes[pa.cube], database, pa.cube), copy=False)
            index = dict(zip(names, dims))
            sets_sql = exp.GroupingSets(expressions=[exp.Tuple(expressions=[index[d].copy() for d in s])
                                                     for s in chunk])
            sel.set("group", exp.Group(grouping_sets=[sets_sql]))
            out.append(sel)
        return out

    def _rollup_measure(self, pa: PreAggregation, name: str, fixed: set[str] = frozenset()) -> exp.Expression:
        """A measure from merged base rows; ``fixed``: dimensions that are one value in every output row."""
        key = ("rollup_measure", pa.table, name, frozenset(fixed) & frozenset(pa.dimensions))
        tree = self._cache.get(key)
        if tree is None:
            tree = self._cache[key] = self._rollup_measure_tree(pa, name, fixed)
        return tree.copy()

    def _rollup_measure_tree(self, pa: PreAggregation, name: str, fixed: set[str]) -> exp.Expression:
        tree = self.measure_expr(pa.cube, name, same_alias)
        aggs = outer_aggs(tree)
        for i, agg in enumerate(aggs):
            within = self._cheap_distinct(pa, agg)
            if within and set(within) <= fixed:
                # Within one value of ``within``: distinct = plain count/sum minus the repeats.
                col = lambda suffix: exp.column(f"{name}__{i}{suffix}", table=pa.cube, quoted=True)  # noqa: E731
                reps = lambda: _agg("groupArrayArrayMerge", col("d"))  # noqa: E731
                if agg.this == "uniqExact":
                    plain, extra = _agg("countMerge", col("s")), exp.Sub(
                        this=_fn("length", reps()), expression=_fn("length", _fn("arrayDistinct", reps())))
                else:
                    plain, extra = _agg("sumMerge", col("s")), exp.Sub(
                        this=_fn("arraySum", reps()), expression=_fn("arraySum", _fn("arrayDistinct", reps())))
                merged = _fn("toUInt64", exp.Sub(this=plain, expression=exp.Paren(this=extra)))
            else:
                merged = merge_of(agg, exp.column(f"{name}__{i}", table=pa.cube, quoted=True))
            if agg is tree:
                return merged
            agg.replace(merged)
        return tree

    def _build_rollup(self, plan: "_Plan", pa: PreAggregation) -> Compiled:
        def dim_of(r: Resolved) -> exp.Expression:
            return exp.column(r.member.name, table=pa.cube, quoted=True)

        grain = self._grain_mask(plan, pa)
        exact = grain is not None
        if not exact:
            grain = (1 << len(pa.dimensions)) - 1  # base rows: merge their states

        fixed = self._fixed_dims(plan)

        def meas_of(r: Resolved) -> exp.Expression:
            if exact:
                return exp.column(f"{r.member.name}__f", table=pa.cube, quoted=True)
            return self._rollup_measure(pa, r.member.name, fixed)

        def expr_of(r: Resolved) -> exp.Expression:
            return meas_of(r) if r.kind == "measure" else dim_of(r)

        where_f, having_f = self._split_filters(plan)
        dim_cols = self._dim_selects(plan, dim_of)
        sel = exp.select(*[exp.alias_(e, a, quoted=True) for a, e in dim_cols])
        sel = sel.select(*[exp.alias_(meas_of(r), r.full_name.replace(".", "__"), quoted=True)
                           for r in plan.measures if any(c.key == r.full_name for c in plan.cols)], copy=False)
        sel = sel.from_(exp.Table(this=exp.to_identifier(pa.table), db=exp.to_identifier(plan.database),
                                  alias=exp.TableAlias(this=exp.to_identifier(pa.cube, quoted=True))), copy=False)
        sel = sel.where(exp.EQ(this=exp.column(GROUPING_COL, table=pa.cube, quoted=True),
                               expression=exp.Literal.number(grain)), copy=False)
        for f in where_f:
            sel = sel.where(self._cond(f, expr_of), copy=False)
        if exact:
            # One stored row per group: filters on measures read the final values directly.
            for f in having_f:
                sel = sel.where(self._cond(f, expr_of), copy=False)
        else:
            if dim_cols:
                sel = sel.group_by(*[exp.column(a, quoted=True) for a, _ in dim_cols], copy=False)
            for f in having_f:
                sel = sel.having(self._cond(f, expr_of), copy=False)
        compiled = self._finish(plan, sel, needs_nulls=False)
        compiled.rollup = pa.table
        return compiled


def rollup_required(cube: Cube, rollup: str) -> list[str]:
    """Dimensions every stored grouping of a rollup keeps: the cube's
    ``meta.rollup_subsets.<rollup>.required``, else ``meta.rollup_subsets.required``, else none."""
    spec = cube.meta.get("rollup_subsets") if isinstance(cube.meta, dict) else None
    if not isinstance(spec, dict):
        return []
    own = spec.get(rollup)
    req = own.get("required") if isinstance(own, dict) else spec.get("required")
    return [d for d in req if isinstance(d, str)] if isinstance(req, list) else []


def _flatten_and(filters: list[tuple]) -> list[tuple]:
    out = []
    for f in filters:
        out += _flatten_and(f[1]) if f[0] == "and" else [f]
    return out


def _sum_exprs(parts: list[exp.Expression]) -> exp.Expression:
    out = parts[0]
    for p in parts[1:]:
        out = exp.Add(this=out, expression=p)
    return out


@dataclass
class _Plan:
    measures: list[Resolved]
    dims: list[Resolved]
    segments: list[Resolved]
    tds: list[tuple[Resolved, str | None, list | None]]
    filters: list[tuple]
    cols: list[Column]
    order: list[tuple[str, bool]]
    limit: int
    offset: int
    database: str
    total: bool = False

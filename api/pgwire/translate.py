"""SQL (Cube SQL API style) -> the semantic question the URL API asks.

``SELECT race, MEASURE(people) FROM population WHERE snapshot_year = 2024 GROUP BY 1 ORDER BY 2
DESC LIMIT 10`` becomes ``dataset=population, dimensions=[race], measures=[people],
filters={snapshot_year: [2024]}, order=[-people], limit=10`` — exactly what
``/api/v1/population?dimensions=race&measures=people&snapshot_year=2024&order=-people&limit=10``
asks, and it is answered by the same service call, so disclosure control is the URL API's (K2).

Every WHERE predicate is evaluated against a dimension's published code list and becomes an
inclusion list of codes (``<>``, ``NOT``, ranges and ``LIKE`` included), so a question has one
canonical form however it is spelled (K3). Anything that could reach rows or undo protection
is refused with a Postgres error saying what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.tables import SUPPRESSED, Table

ALLOWED_SHAPE = (
    "allowed: SELECT <dimensions>, MEASURE(<measure>) [, suppressed] FROM <dataset> "
    "[WHERE <dimension> =, <>, IN, NOT IN, <, <=, >, >=, BETWEEN, LIKE <constant> combined with AND/OR/NOT] "
    "GROUP BY <the selected dimensions> [ORDER BY <selected columns>] [LIMIT n] [OFFSET n]"
)

# Cube measure types and the SQL aggregate that unambiguously names each (Cube's SQL API rule).
AGG_FOR_TYPE = {"countDistinct": "count_distinct", "countDistinctApprox": "count_distinct",
                "count_distinct": "count_distinct", "count_distinct_approx": "count_distinct",
                "count": "count", "sum": "sum", "avg": "avg"}


_AGG_SQL = {"count_distinct": "COUNT(DISTINCT ...)", "count": "COUNT(...)", "sum": "SUM(...)", "avg": "AVG(...)"}


def refuse(message: str, code: str = "sql.not_allowed", hint: str | None = ALLOWED_SHAPE) -> PgError:
    """A statement shape the surface does not answer (it could reach rows or undo protection)."""
    return PgError(code, message, hint=hint)


@dataclass(frozen=True)
class OutCol:
    name: str
    role: str  # "dimension" | "measure" | "suppressed"
    member: str


@dataclass
class Question:
    dataset: str
    dimensions: list[str]
    measures: list[str]
    filters: dict[str, list[str]]
    order: list[tuple[str, bool]] = field(default_factory=list)  # (member, descending)
    limit: int | None = None
    offset: int = 0
    output: list[OutCol] = field(default_factory=list)
    suppressed_filter: bool | None = None  # keep only rows whose suppressed flag equals this
    empty: bool = False  # the filters select no category at all
    values_only: bool = False  # SELECT DISTINCT <one dimension>: its published code list, no data

    def params(self, *, with_paging: bool = True) -> dict[str, str]:
        """The URL API's parameters for this question (one value per filtered dimension)."""
        p: dict[str, str] = {}
        if self.dimensions:
            p["dimensions"] = ",".join(self.dimensions)
        p["measures"] = ",".join(self.measures)
        for dim in sorted(self.filters):
            p[dim] = ",".join(self.filters[dim])
        if self.order:
            p["order"] = ",".join(("-" if desc else "") + m for m, desc in self.order)
        if with_paging and self.limit is not None:
            p["limit"] = str(self.limit)
        if with_paging and self.offset:
            p["offset"] = str(self.offset)
        return p

    def url(self) -> str:
        return f"/api/v1/{self.dataset}?" + urlencode(self.params(), safe=",")


# --- parameters --------------------------------------------------------------------------------
def bind_parameters(tree: exp.Expression, params: list[Any]) -> exp.Expression:
    """Replace $n with literal values in the tree (server-side binding; never text pasting)."""
    if not params:
        return tree

    def lit(v: Any) -> exp.Expression:
        if v is None:
            return exp.Null()
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if isinstance(v, (int, float)):
            return exp.Literal.number(v)
        return exp.Literal.string(str(v))

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Parameter):
            inner = node.this
            text = inner.name if isinstance(inner, exp.Expression) else str(inner)
            if text.isdigit():
                i = int(text) - 1
                if not 0 <= i < len(params):
                    raise PgError("sql.protocol_violation", f"there is no parameter ${i + 1}")
                return lit(params[i])
        return node

    return tree.transform(swap)


def parameter_count(tree: exp.Expression) -> int:
    n = 0
    for p in tree.find_all(exp.Parameter):
        inner = p.this
        text = inner.name if isinstance(inner, exp.Expression) else str(inner)
        if text.isdigit():
            n = max(n, int(text))
    return n


# --- the translator ----------------------------------------------------------------------------
class Translator:
    def __init__(self, tables: dict[str, Table], *, max_rows: int = 10_000):
        self.tables = tables
        self.max_rows = max_rows

    def table_for(self, select: exp.Select) -> Table:
        if select.args.get("joins"):
            raise refuse("joins are not allowed: each dataset is one table of published cells, "
                         "and a join could combine cells to reach withheld ones")
        src = select.args.get("from_") or select.args.get("from")
        if src is None:
            raise refuse("a dataset query needs FROM <dataset>")
        t = src.this
        if not isinstance(t, exp.Table) or not isinstance(t.this, exp.Identifier):
            raise refuse("subqueries and table functions are not allowed in FROM; query one dataset table directly")
        if t.db and t.db.lower() not in ("public", "crosstrack"):
            raise PgError("sql.unknown_relation", f"relation \"{t.db}.{t.name}\" does not exist",
                          hint="datasets are in schema public: " + ", ".join(sorted(self.tables)))
        name = t.name.lower()
        if name not in self.tables:
            raise PgError("sql.unknown_relation", f"relation \"{t.name}\" does not exist",
                          hint="datasets: " + ", ".join(sorted(self.tables)))
        return self.tables[name]

    def translate(self, select: exp.Expression) -> Question:
        if not isinstance(select, exp.Select):
            raise refuse("only SELECT from one dataset table is allowed (UNION, INTERSECT and EXCEPT are not)")
        if select.args.get("with_") or select.args.get("with"):
            raise refuse("WITH (common table expressions) is not allowed")
        table = self.table_for(select)
        for sub in select.find_all(exp.Subquery, exp.Select, exp.Exists):
            if sub is not select:
                raise refuse("subqueries are not allowed: a query reads published cells of one dataset only")
        for bad, what in ((exp.Window, "window functions"), (exp.Star, "SELECT * (row-level access)")):
            if any(not isinstance(n.parent, exp.Count) for n in select.find_all(bad)):  # COUNT(*) is no SELECT *
                raise refuse(f"{what} are not allowed: only published aggregate cells can be read"
                             if bad is exp.Window else
                             f"{what} is not allowed: only published aggregate cells can be read; "
                             f"columns of {table.name}: " + ", ".join(c for c, _, _ in table.columns))
        if select.args.get("having"):
            raise refuse("HAVING is not allowed; filter on dimensions in WHERE")
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            raise refuse("DISTINCT ON is not allowed")

        output: list[OutCol] = []
        for item in select.expressions:
            alias = item.alias if isinstance(item, exp.Alias) else None
            node = item.this if isinstance(item, exp.Alias) else item
            role, member = self.select_item(node, table)
            output.append(OutCol((alias or member), role, member))
        dims = [o.member for o in output if o.role == "dimension"]
        measures = [o.member for o in output if o.role == "measure"]
        group = select.args.get("group")
        if not measures and len(output) == 1 and output[0].role == "dimension" and (
                distinct is not None or group is not None):
            # A filter widget's value list: the dimension's published codes (metadata, not data).
            q = Question(table.name, dims, [], {}, output=output, values_only=True)
            if group is not None:
                for g in group.expressions:
                    if self.group_item(g, output, table) != dims[0]:
                        raise refuse("a value list groups by its one dimension only")
            where = select.args.get("where")
            if where is not None:
                self.where(where.this, table, q)
                if set(q.filters) - {dims[0]} or q.suppressed_filter is not None:
                    raise refuse("a dimension's value list can only be filtered on that dimension")
            self.order(select, table, output, q)
            q.limit = self.int_clause(select.args.get("limit"), "LIMIT")
            q.offset = self.int_clause(select.args.get("offset"), "OFFSET") or 0
            return q
        if not measures:
            raise refuse(
                "select at least one measure: row-level access is not available, only published cells "
                f"(measures of {table.name}: " + ", ".join(table.measures) + ")")
        if len(set(dims)) != len(dims) or len(set(measures)) != len(measures):
            raise refuse("select each dimension and measure once", code="sql.duplicate_alias")

        grouped: list[str] = []
        if group is not None:
            for g in group.expressions:
                grouped.append(self.group_item(g, output, table))
        if set(dims) - set(grouped):
            missing = sorted(set(dims) - set(grouped))[0]
            raise PgError("sql.grouping_error", f"column \"{missing}\" must appear in the GROUP BY clause",
                          hint="GROUP BY every selected dimension, e.g. GROUP BY 1, 2")
        if set(grouped) - set(dims):
            extra = sorted(set(grouped) - set(dims))[0]
            raise refuse(f"GROUP BY \"{extra}\" without selecting it is not allowed; select every grouped dimension")

        q = Question(table.name, dims, measures, {}, output=output)
        where = select.args.get("where")
        if where is not None:
            self.where(where.this, table, q)
        self.order(select, table, output, q)
        q.limit = self.int_clause(select.args.get("limit"), "LIMIT")
        q.offset = self.int_clause(select.args.get("offset"), "OFFSET") or 0
        return q

    # -- select list
    def select_item(self, node: exp.Expression, table: Table) -> tuple[str, str]:
        if isinstance(node, exp.Column):
            name = node.name.lower()
            if name in table.dimensions:
                return "dimension", name
            if name == SUPPRESSED:
                return "suppressed", SUPPRESSED
            if name in table.measures:
                raise PgError("sql.grouping_error", f"column \"{name}\" is a measure and must be aggregated",
                              hint=f"write MEASURE({name}) (or the aggregate matching its type)")
            raise self.no_column(node.name, table)
        measure = self.measure_of(node, table)
        if measure is not None:
            return "measure", measure
        if any(isinstance(n, exp.Column) and n.name.lower() in table.measures for n in node.walk()):
            raise refuse("functions of measures are not allowed (they could undo perturbation): "
                         "select MEASURE(<measure>) and compute in the client",
                         hint="allowed measure expressions: MEASURE(m), COUNT(DISTINCT m), COUNT(m), SUM(m), AVG(m) "
                              "where the aggregate matches the measure's type")
        if any(isinstance(n, exp.Column) for n in node.walk()):
            raise refuse("expressions over dimensions are not allowed in the select list; select the dimension itself")
        raise refuse("constant expressions are not allowed in a dataset query; select dimensions and measures")

    def measure_of(self, node: exp.Expression, table: Table) -> str | None:
        """The measure a MEASURE(...) call or a type-matching aggregate names, else None."""
        if isinstance(node, exp.Anonymous) and node.name.lower() == "measure":
            args = node.expressions
            if len(args) != 1 or not isinstance(args[0], exp.Column):
                raise refuse("MEASURE() takes one measure column")
            name = args[0].name.lower()
            if name not in table.measures:
                raise PgError("sql.unknown_column", f"\"{args[0].name}\" is not a measure of {table.name}",
                              hint="measures: " + ", ".join(table.measures))
            return name
        agg: str | None = None
        target: exp.Expression | None = None
        if isinstance(node, exp.Count):
            inner = node.this
            if isinstance(inner, exp.Distinct):
                agg, target = "count_distinct", (inner.expressions[0] if len(inner.expressions) == 1 else None)
            elif isinstance(inner, exp.Star) or inner is None:
                # COUNT(*) asks how many records a cell holds (R1: a person once per snapshot): the
                # dataset's records count, computed and protected like MEASURE(people).
                people = [m for m in table.measures.values() if m.kind == "people"]
                counts = [m for m in people if AGG_FOR_TYPE.get(m.agg) == "count"] or people or \
                         [m for m in table.measures.values() if AGG_FOR_TYPE.get(m.agg) == "count"]
                if len(counts) == 1:
                    return counts[0].name
                raise refuse("COUNT(*) is ambiguous here: name the measure with MEASURE(<measure>)",
                             hint="measures: " + ", ".join(table.measures))
            else:
                agg, target = "count", inner
        elif isinstance(node, exp.Sum):
            agg, target = "sum", node.this
        elif isinstance(node, exp.Avg):
            agg, target = "avg", node.this
        elif isinstance(node, (exp.Max, exp.Min, exp.Stddev, exp.Variance, exp.ArrayAgg, exp.GroupConcat)) or (
                isinstance(node, exp.Anonymous) and node.name.lower() in ("string_agg", "percentile_cont", "mode")):
            raise refuse("only the published statistics are available (P2): no min, max, list or other aggregate",
                         hint="use MEASURE(<measure>); measures: " + ", ".join(table.measures))
        if agg is None:
            return None
        if not isinstance(target, exp.Column) or target.name.lower() not in table.measures:
            raise refuse(f"{_AGG_SQL[agg]} must name one measure column of {table.name}",
                         hint="measures: " + ", ".join(table.measures))
        m = table.measures[target.name.lower()]
        if agg == "sum" and m.kind in ("people", "count"):
            # BI tools' default metric is SUM(column). The sum of a count over the cells of a grouping is
            # that count at the grouping: the engine computes it, under the same control as MEASURE(m).
            return m.name
        if AGG_FOR_TYPE.get(m.agg) != agg:
            raise refuse(f"{_AGG_SQL[agg]} does not match measure "
                         f"\"{m.name}\"; write MEASURE({m.name})",
                         hint=f"{m.name} is a {m.agg} measure")
        return m.name

    def no_column(self, name: str, table: Table) -> PgError:
        return PgError("sql.unknown_column", f"column \"{name}\" does not exist in {table.name}",
                       hint="columns: " + ", ".join(c for c, _, _ in table.columns))

    def group_item(self, g: exp.Expression, output: list[OutCol], table: Table) -> str:
        if isinstance(g, exp.Literal) and not g.is_string:
            pos = int(g.this)
            if not 1 <= pos <= len(output):
                raise PgError("sql.invalid_column_reference", f"GROUP BY position {pos} is not in select list")
            o = output[pos - 1]
        elif isinstance(g, exp.Column):
            name = g.name.lower()
            o = next((x for x in output if x.name.lower() == name and x.role == "dimension"), None)
            if o is None:
                if name in table.dimensions:
                    return name
                raise refuse(f"GROUP BY \"{g.name}\" is not a dimension of {table.name}",
                             hint="dimensions: " + ", ".join(table.dimensions))
        else:
            raise refuse("GROUP BY takes dimension columns or select-list positions")
        if o.role != "dimension":
            raise refuse(f"GROUP BY \"{o.name}\": only dimensions can be grouped")
        return o.member

    # -- ORDER BY / LIMIT
    def order(self, select: exp.Select, table: Table, output: list[OutCol], q: Question) -> None:
        order = select.args.get("order")
        if order is None:
            return
        for o in order.expressions:
            node, desc = o.this, bool(o.args.get("desc"))
            target: OutCol | None = None
            if isinstance(node, exp.Literal) and not node.is_string:
                pos = int(node.this)
                if not 1 <= pos <= len(output):
                    raise PgError("sql.invalid_column_reference", f"ORDER BY position {pos} is not in select list")
                target = output[pos - 1]
            elif isinstance(node, exp.Column):
                name = node.name.lower()
                target = next((x for x in output if x.name.lower() == name), None) or next(
                    (x for x in output if x.member == name), None)
            else:
                m = self.measure_of(node, table)
                target = next((x for x in output if x.member == m and x.role == "measure"), None)
            if target is None:
                raise refuse("ORDER BY must name a selected dimension or measure (by name, alias or position)")
            if target.role == "suppressed":
                raise refuse("ORDER BY suppressed is not supported; order by dimensions or measures")
            q.order.append((target.member, desc))

    def int_clause(self, node: exp.Expression | None, what: str) -> int | None:
        if node is None:
            return None
        value = node.expression if isinstance(node, (exp.Limit, exp.Offset)) else node
        if isinstance(value, exp.Null):
            return None
        if not isinstance(value, exp.Literal) or value.is_string and not str(value.this).isdigit():
            raise PgError("sql.syntax_error", f"{what} takes a non-negative integer constant")
        try:
            n = int(value.this)
        except ValueError:
            raise PgError("sql.syntax_error", f"{what} takes a non-negative integer constant") from None
        if n < 0:
            raise PgError("sql.invalid_limit" if what == "LIMIT" else "2201X", f"{what} must not be negative")
        return n

    # -- WHERE -> code lists
    def where(self, cond: exp.Expression, table: Table, q: Question) -> None:
        sets: dict[str, set[str]] = {}
        for conj in _conjuncts(cond):
            flag = _suppressed_predicate(conj)
            if flag is not None:
                if q.suppressed_filter is not None and q.suppressed_filter != flag:
                    q.empty = True
                q.suppressed_filter = flag
                continue
            dim, codes = self.predicate(conj, table)
            if dim is None:
                continue
            sets[dim] = sets[dim] & codes if dim in sets else codes
        for dim, codes in sets.items():
            d = table.dimensions[dim]
            if not codes:
                q.empty = True
            elif d.codes and codes >= set(d.codes):
                continue  # every category: the same question as no filter (K3)
            q.filters[dim] = [c for c in d.codes if c in codes] if d.codes else sorted(codes)

    def predicate(self, node: exp.Expression, table: Table) -> tuple[str | None, set[str]]:
        """(dimension, the set of its codes the predicate keeps); (None, ...) for TRUE."""
        if isinstance(node, exp.Paren):
            return self.predicate(node.this, table)
        if isinstance(node, exp.Boolean):
            if node.this:
                return None, set()
            return self._any_dim(table), set()
        if isinstance(node, exp.Not):
            dim, codes = self.predicate(node.this, table)
            if dim is None:
                return self._any_dim(table), set()
            return dim, set(self._all_codes(table, dim, "NOT")) - codes
        if isinstance(node, (exp.And, exp.Or)):
            ld, lc = self.predicate(node.left, table)
            rd, rc = self.predicate(node.right, table)
            if isinstance(node, exp.And):
                if ld is None:
                    return rd, rc
                if rd is None:
                    return ld, lc
                if ld == rd:
                    return ld, lc & rc
                raise refuse("AND inside OR/NOT must combine conditions on the same dimension")
            if ld is None or rd is None:
                return None, set()
            if ld != rd:
                raise refuse("OR may only combine conditions on the same dimension (e.g. race = 'W' OR race = 'B')")
            return ld, lc | rc
        if isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest"):
                raise refuse("subqueries are not allowed in IN; list constants")
            dim = self._dim(node.this, table)
            return dim, set().union(*(self._match(table, dim, v, "=") for v in node.expressions))
        if isinstance(node, exp.Between):
            dim = self._dim(node.this, table)
            return dim, self._match(table, dim, node.args["low"], ">=") & self._match(table, dim, node.args["high"], "<=")
        if isinstance(node, (exp.Like, exp.ILike)):
            dim = self._dim(node.this, table)
            pat = self._value(node.expression)
            rx = _like_regex(str(pat), isinstance(node, exp.ILike))
            values = self._all_codes(table, dim, "LIKE")
            labels = table.dimensions[dim].labels
            return dim, {c for c in values if rx.fullmatch(c) or rx.fullmatch(labels.get(c, c))}
        if isinstance(node, exp.Is):
            dim = self._dim(node.this, table)
            if isinstance(node.expression, exp.Null):
                return dim, set()  # dimensions are never NULL
            raise refuse("IS is only allowed as IS NULL / IS NOT NULL on dimensions")
        ops = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
        for cls, op in ops.items():
            if isinstance(node, cls):
                left, right = node.left, node.right
                if not isinstance(_strip_cast(left), exp.Column) and isinstance(_strip_cast(right), exp.Column):
                    left, right = right, left
                    op = {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(op, op)
                dim = self._dim(left, table)
                return dim, self._match(table, dim, right, op)
        raise refuse("WHERE may only compare dimensions with constants (=, <>, IN, NOT IN, <, <=, >, >=, "
                     "BETWEEN, LIKE, IS NULL) combined with AND, OR on one dimension, and NOT")

    def _any_dim(self, table: Table) -> str:
        return next(iter(table.dimensions))

    def _dim(self, node: exp.Expression, table: Table) -> str:
        node = _strip_cast(node)
        if not isinstance(node, exp.Column):
            raise refuse("WHERE conditions must have a dimension column on one side and constants on the other")
        name = node.name.lower()
        if name in table.measures:
            raise refuse(f"filtering on measure \"{name}\" is not allowed (it would reveal values around "
                         f"the threshold); filter on dimensions")
        if name == SUPPRESSED:
            raise refuse("suppressed may only be used as a top-level condition: suppressed = false, NOT suppressed")
        if name not in table.dimensions:
            raise self.no_column(node.name, table)
        return name

    def _all_codes(self, table: Table, dim: str, what: str) -> tuple[str, ...]:
        codes = table.dimensions[dim].codes
        if not codes:
            raise refuse(f"{what} is not available on \"{dim}\", which has no published code list; use = or IN")
        return codes

    def _value(self, node: exp.Expression) -> Any:
        node = _strip_cast(node)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
            return -float(node.this.this)
        if isinstance(node, exp.Literal):
            return node.this if node.is_string else (int(node.this) if re.fullmatch(r"-?\d+", node.this) else float(node.this))
        if isinstance(node, exp.Boolean):
            return node.this
        if isinstance(node, exp.Null):
            return None
        raise refuse("WHERE conditions compare dimensions with constants only (no expressions or columns)")

    def _match(self, table: Table, dim: str, node: exp.Expression, op: str) -> set[str]:
        d = table.dimensions[dim]
        value = self._value(node)
        if value is None:
            return set()  # comparison with NULL is never true
        if not d.codes:
            if op != "=":
                raise refuse(f"only = and IN are available on \"{dim}\", which has no published code list")
            return {str(value)}
        numeric = d.oid != 25
        if op in ("=", "<>"):
            hit = self._code_of(d, value)
            return {hit} if op == "=" else set(d.codes) - {hit}
        key = (lambda c: float(c)) if numeric else (lambda c: c)
        try:
            v = float(value) if numeric else str(value)
        except ValueError:
            raise PgError("sql.invalid_text", f"invalid value for {dim}: {str(value)[:40]!r}",
                          hint="allowed: " + ", ".join(d.codes)) from None
        cmp = {">": lambda a: a > v, ">=": lambda a: a >= v, "<": lambda a: a < v, "<=": lambda a: a <= v}[op]
        return {c for c in d.codes if cmp(key(c))}

    def _code_of(self, d, value: Any) -> str:
        text = str(value)
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if text in d.codes:
            return text
        for code, label in d.labels.items():
            if label == text:
                return code
        lowered = {c.lower(): c for c in d.codes} | {lab.lower(): c for c, lab in d.labels.items()}
        if text.lower() in lowered:
            return lowered[text.lower()]
        raise PgError("sql.invalid_value", f"{text[:40]!r} is not a value of {d.name}",
                      hint=f"allowed values of {d.name}: " + ", ".join(d.codes))


def _strip_cast(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Cast, exp.Paren)):
        node = node.this
    return node


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.this if isinstance(node, exp.Paren) and isinstance(node.this, exp.And) else node
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _suppressed_predicate(node: exp.Expression) -> bool | None:
    """suppressed / NOT suppressed / suppressed = true|false / IS [NOT] TRUE|FALSE: the flag kept."""
    negate = False
    while isinstance(node, (exp.Not, exp.Paren)):
        if isinstance(node, exp.Not):
            negate = not negate
        node = node.this
    value: bool | None = None
    if isinstance(node, exp.Column) and node.name.lower() == SUPPRESSED:
        value = True
    elif isinstance(node, (exp.EQ, exp.NEQ, exp.Is)) and isinstance(node.left, exp.Column) \
            and node.left.name.lower() == SUPPRESSED and isinstance(node.right, exp.Boolean):
        value = bool(node.right.this) if not isinstance(node, exp.NEQ) else not node.right.this
    if value is None:
        return None
    return (not value) if negate else value


def _like_regex(pattern: str, ci: bool) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL if ci else re.DOTALL)


__all__ = ["OutCol", "Question", "Translator", "bind_parameters", "parameter_count", "refuse"]

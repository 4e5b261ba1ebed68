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

from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.question import OutCol, Question, refuse
from crosstrack.api.pgwire.tables import SUPPRESSED, Table
from crosstrack.api.pgwire.where import no_column, read_where

# Cube measure types and the SQL aggregate that unambiguously names each (Cube's SQL API rule).
AGG_FOR_TYPE = {"countDistinct": "count_distinct", "countDistinctApprox": "count_distinct",
                "count_distinct": "count_distinct", "count_distinct_approx": "count_distinct",
                "count": "count", "sum": "sum", "avg": "avg"}


_AGG_SQL = {"count_distinct": "COUNT(DISTINCT ...)", "count": "COUNT(...)", "sum": "SUM(...)", "avg": "AVG(...)"}


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
                read_where(where.this, table, q)
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
            read_where(where.this, table, q)
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
            raise no_column(node.name, table)
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
        if agg == "sum" and m.kind in ("people", "count", "cohort", "event"):
            # BI tools' default metric is SUM(column). The sum of a count over the cells of a grouping is
            # that count at the grouping: the engine computes it, under the same control as MEASURE(m).
            return m.name
        if AGG_FOR_TYPE.get(m.agg) != agg:
            raise refuse(f"{_AGG_SQL[agg]} does not match measure "
                         f"\"{m.name}\"; write MEASURE({m.name})",
                         hint=f"{m.name} is a {m.agg} measure")
        return m.name

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
            raise PgError("sql.invalid_limit" if what == "LIMIT" else "sql.invalid_offset", f"{what} must not be negative")
        return n

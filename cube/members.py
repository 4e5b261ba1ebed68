"""Member SQL as sqlglot trees: dimensions, measures, a cube's table and a join's ON clause.

Every cube is aliased by its own name, so a member's tree depends only on the model and is
built once per model (kept in the ``ModelCache``) and handed out as a copy. Member SQL comes
from the validated model; request values never enter here.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from crosstrack.cube.model import Cube, Dimension, Measure
from crosstrack.cube.model_cache import ModelScope
from crosstrack.cube.plan import JoinEdge
from crosstrack.cube.sqlexpr import DIALECT, substitute
from sqlglot import exp

# A measure's ``meta.distinct_within: [dims]`` says its distinct values rarely repeat inside one value
# of those dimensions (one custody row per person per snapshot): rollups then also keep a plain
# count/sum plus the few repeated values, which answer exactly and cheaply within one such value.
WITHIN_META = "distinct_within"
AGG_FUNCTIONS = {"count_distinct": "uniqExact", "count_distinct_approx": "uniq", "sum": "sum", "avg": "avg",
                 "min": "min", "max": "max"}


def lit(value: Any) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def agg(name: str, *args: exp.Expression) -> exp.Expression:
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


def state_of(call: exp.Expression) -> exp.Expression:
    name, params, args = _split_call(call.sql(dialect=DIALECT))
    return sqlglot.parse_one(f"{name}State{params}{args}", read=DIALECT)


def merge_of(call: exp.Expression, column: exp.Expression) -> exp.Expression:
    name, params, _ = _split_call(call.sql(dialect=DIALECT))
    tree = sqlglot.parse_one(f"{name}Merge{params}(__state__)", read=DIALECT)
    return tree.transform(lambda n: column.copy() if isinstance(n, exp.Column) and n.name == "__state__" else n)


class MemberTrees:
    """The trees of one model's members; each call returns a fresh copy the caller may change."""

    def __init__(self, scope: ModelScope):
        self.scope = scope
        self.model = scope.model

    def dimension(self, cube: str, name: str) -> exp.Expression:
        return self.scope.get(("dim", cube, name), lambda: self._dimension(cube, name)).copy()

    def measure(self, cube: str, name: str) -> exp.Expression:
        return self.scope.get(("measure", cube, name), lambda: self._measure(cube, name)).copy()

    def _dimension(self, cube: str, name: str) -> exp.Expression:
        d: Dimension = self.model.cubes[cube].dimensions[name]
        if d.case_when:
            ifs = [exp.If(this=substitute(cond, cube, self.dimension),
                          true=substitute(label, cube, self.dimension) if hasattr(label, "tree") else lit(label))
                   for cond, label in d.case_when]
            default = None
            if d.case_else is not None:
                default = substitute(d.case_else, cube, self.dimension) if hasattr(d.case_else, "tree") \
                    else lit(d.case_else)
            return exp.Case(ifs=ifs, default=default)
        return substitute(d.sql, cube, self.dimension)

    def _measure(self, cube: str, name: str) -> exp.Expression:
        m: Measure = self.model.cubes[cube].measures[name]
        within = m.meta.get(WITHIN_META) if isinstance(m.meta, dict) else None
        if m.type == "number":
            tree = substitute(m.sql, cube, self.measure)
            for call in outer_aggs(tree):  # aggregates of referenced measures carry their own hint
                call.meta.setdefault(WITHIN_META, within)
            return tree
        arg = substitute(m.sql, cube, self.dimension) if m.sql is not None else None
        if arg is None and m.type == "count":
            # As Cube: a count without sql counts the cube's primary key (several keys: their
            # concatenation), so the NULL row a LEFT JOIN adds for an unmatched one-side row is
            # not counted on the many side; without a primary key it counts rows.
            pks = [self.dimension(cube, pk.name) for pk in self.model.cubes[cube].primary_keys]
            if len(pks) == 1:
                arg = pks[0]
            elif pks:
                arg = exp.func("concat", *[exp.func("toString", k) for k in pks])
        if m.filters:
            cond = exp.and_(*[exp.Paren(this=substitute(f, cube, self.dimension)) for f in m.filters])
            arg = exp.Case(ifs=[exp.If(this=cond, true=arg if arg is not None else exp.Literal.number(1))])
        if m.type == "count":
            out = agg("count", arg) if arg is not None else agg("count")
        else:
            out = agg(AGG_FUNCTIONS[m.type], arg)
        out.meta[WITHIN_META] = None if m.filters else within
        return out

    def join_on(self, edge: JoinEdge) -> exp.Expression:
        j = self.model.cubes[edge.owner].joins[edge.target if edge.owner == edge.source else edge.source]
        return substitute(j.sql, edge.owner, self.dimension)

    def table(self, cube_name: str, database: str) -> exp.Expression:
        """The cube's table (or its own SELECT) in ``database``, aliased by the cube's name."""
        cube: Cube = self.model.cubes[cube_name]
        if cube.sql_table:
            parts = cube.sql_table.split(".")
            db = parts[0] if len(parts) == 2 else database
            return exp.Table(this=exp.to_identifier(parts[-1]), db=exp.to_identifier(db),
                             alias=exp.TableAlias(this=exp.to_identifier(cube_name, quoted=True)))
        # A cube's own SQL is a whole SELECT: its columns belong to its tables, so nothing is qualified
        # except the tables themselves, which live in the published database.
        tree = cube.sql.tree.copy()
        for t in tree.find_all(exp.Table):
            if not t.args.get("db"):
                t.set("db", exp.to_identifier(database))
        return exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier(cube_name, quoted=True)))

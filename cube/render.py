"""Render a ``QueryPlan`` as a sqlglot SELECT (ClickHouse dialect). Nothing is validated here.

Measures of a cube whose rows a join multiplies (``plan.fan_out``) are aggregated per primary
key first (Cube's approach), so fan-out never inflates a sum or a count. A plan that reads a
rollup is rendered by ``cube/rollup_read.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from crosstrack.cube.members import MemberTrees
from crosstrack.cube.plan import Column, MemberRef, QueryPlan, filter_members
from crosstrack.cube.render_filters import render_filter, time_lit
from crosstrack.cube.sqlexpr import substitute
from sqlglot import exp

TRUNC = {"second": "toStartOfSecond", "minute": "toStartOfMinute", "hour": "toStartOfHour", "day": "toStartOfDay",
         "week": "toMonday", "month": "toStartOfMonth", "quarter": "toStartOfQuarter", "year": "toStartOfYear"}


@dataclass
class Compiled:
    """A rendered plan: the SELECT, its output columns, and how to run it."""

    tree: exp.Select
    columns: list[Column]
    rollup: str | None = None  # the rollup table read, if any
    needs_join_nulls: bool = False  # run with join_use_nulls = 1 (a LEFT JOIN miss is NULL)
    count_tree: exp.Select | None = None  # the row count of the whole answer (``total``)


def _alias(tree: exp.Expression, name: str) -> exp.Expression:
    return exp.alias_(tree, name, quoted=True)


def _subquery(tree: exp.Select, alias: str) -> exp.Subquery:
    return exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))


def dimension_selects(plan: QueryPlan, dim_of: Callable[[MemberRef], exp.Expression]) -> list[tuple[str, exp.Expression]]:
    """(alias, expression) of every dimension and time-dimension column, in column order."""
    out = []
    for c in plan.columns:
        if c.kind == "dimension":
            r = next(d for d in plan.dimensions if d.full_name == c.key)
            out.append((c.alias, dim_of(r)))
        elif c.kind == "time":
            td = next(t for t in plan.time_dimensions if f"{t.member.full_name}.{t.granularity}" == c.key)
            out.append((c.alias, exp.func(TRUNC[td.granularity],
                                          exp.func("toDateTime", dim_of(td.member), exp.Literal.string("UTC")))))
    return out


def finish(plan: QueryPlan, sel: exp.Select, needs_nulls: bool, rollup: str | None = None) -> Compiled:
    """Order, limit and offset; the ``total`` count over the unpaged answer."""
    count_tree = None
    if plan.total:
        count_tree = exp.select(_alias(exp.AnonymousAggFunc(this="count", expressions=[]), "total")) \
            .from_(_subquery(sel.copy(), "q"))
    if plan.order:
        sel = sel.order_by(*[exp.Ordered(this=exp.column(o.alias, quoted=True), desc=o.desc) for o in plan.order],
                           copy=False)
    sel = sel.limit(exp.Literal.number(plan.limit), copy=False)
    if plan.offset:
        sel = sel.offset(exp.Literal.number(plan.offset), copy=False)
    return Compiled(sel, list(plan.columns), rollup, needs_nulls, count_tree)


class Renderer:
    """Renders plans of one model (its member trees come from ``MemberTrees``)."""

    def __init__(self, trees: MemberTrees):
        self.trees = trees
        self.model = trees.model

    def dim_of(self, r: MemberRef) -> exp.Expression:
        return self.trees.dimension(r.cube, r.name)

    def meas_of(self, r: MemberRef) -> exp.Expression:
        return self.trees.measure(r.cube, r.name)

    def expr_of(self, r: MemberRef) -> exp.Expression:
        return self.meas_of(r) if r.kind == "measure" else self.dim_of(r)

    def _from(self, select: exp.Select, plan: QueryPlan) -> exp.Select:
        select = select.from_(self.trees.table(plan.joins.root, plan.database), copy=False)
        for e in plan.joins.edges:
            select = select.join(self.trees.table(e.target, plan.database), on=self.trees.join_on(e),
                                 join_type="left", copy=False)
        return select

    def _wheres(self, plan: QueryPlan) -> list[exp.Expression]:
        wheres = [render_filter(f, self.expr_of) for f in plan.where]
        wheres += [substitute(self.model.cubes[s.cube].segments[s.name].sql, s.cube, self.trees.dimension)
                   for s in plan.segments]
        for td in plan.time_dimensions:
            if td.date_range:
                col = self.dim_of(td.member)
                wheres.append(exp.and_(exp.GTE(this=col, expression=time_lit(td.date_range[0], end=False)),
                                       exp.LTE(this=col.copy(), expression=time_lit(td.date_range[1], end=True))))
        return wheres

    def render(self, plan: QueryPlan) -> Compiled:
        dim_cols = dimension_selects(plan, self.dim_of)
        wheres = self._wheres(plan)
        having = plan.having
        if not plan.fan_out:
            sel = exp.select(*[_alias(e, a) for a, e in dim_cols])
            sel = sel.select(*[_alias(self.meas_of(r), r.alias) for r in plan.output_measures], copy=False)
            sel = self._from(sel, plan)
            for w in wheres:
                sel = sel.where(w, copy=False)
            if dim_cols:
                sel = sel.group_by(*[exp.column(a, quoted=True) for a, _ in dim_cols], copy=False)
            for f in having:
                sel = sel.having(render_filter(f, self.expr_of), copy=False)
            # Like Cube's ClickHouse driver: a LEFT JOIN miss is NULL, not the type's default.
            return finish(plan, sel, needs_nulls=bool(plan.joins.edges))
        return self._render_fan_out(plan, dim_cols, wheres)

    def _render_fan_out(self, plan: QueryPlan, dim_cols, wheres) -> Compiled:
        """One aggregate subquery per group of measures (the multiplied ones of each cube, and all
        others together), joined on the dimensions."""
        measures = {r.full_name: r for r in plan.measures + tuple(m for f in plan.having for m in filter_members(f))}
        groups: dict[str, list[MemberRef]] = {}
        for r in measures.values():
            groups.setdefault(r.cube if r.full_name in plan.fan_out else "", []).append(r)
        subs: list[tuple[str, exp.Select]] = []
        for gi, (gcube, rs) in enumerate(groups.items()):
            q = f"q_{gi}"
            if gcube == "":
                s = exp.select(*[_alias(e, a) for a, e in dim_cols])
                s = s.select(*[_alias(self.meas_of(r), r.alias) for r in rs], copy=False)
                s = self._from(s, plan)
                for w in wheres:
                    s = s.where(w, copy=False)
            else:
                s = self._per_key(plan, gcube, rs, dim_cols, wheres)
            if dim_cols:
                s = s.group_by(*[exp.column(a, quoted=True) for a, _ in dim_cols], copy=False)
            subs.append((q, s))
        # Cube joins the per-group aggregates with an INNER JOIN on assumeNotNull(dimension) (so a
        # NULL dimension value meets its NULL partner) and takes the dimensions from the first.
        first_q = subs[0][0]
        outer = exp.select(*[_alias(exp.column(a, table=first_q, quoted=True), a) for a, _ in dim_cols])
        mcol = {r.full_name: exp.column(r.alias, table=f"q_{i}", quoted=True)
                for i, rs in enumerate(groups.values()) for r in rs}
        outer = outer.select(*[_alias(mcol[r.full_name], r.alias) for r in plan.output_measures], copy=False)
        outer = outer.from_(_subquery(subs[0][1], first_q), copy=False)
        for q, s in subs[1:]:
            if dim_cols:
                on = exp.and_(*[exp.EQ(this=exp.func("assumeNotNull", exp.column(a, table=first_q, quoted=True)),
                                       expression=exp.func("assumeNotNull", exp.column(a, table=q, quoted=True)))
                                for a, _ in dim_cols])
                outer = outer.join(_subquery(s, q), on=on, join_type="inner", copy=False)
            else:
                outer = outer.join(_subquery(s, q), join_type="cross", copy=False)
        for f in plan.having:
            outer = outer.where(render_filter(f, lambda r: mcol[r.full_name].copy()), copy=False)
        return finish(plan, outer, needs_nulls=True)

    def _per_key(self, plan: QueryPlan, gcube: str, rs: list[MemberRef], dim_cols, wheres) -> exp.Select:
        """The measures of ``gcube`` over its distinct primary keys per group (no repeated rows)."""
        pks = self.model.cubes[gcube].primary_keys
        keys = exp.select(*[_alias(e, a) for a, e in dim_cols])
        keys = keys.select(*[_alias(self.trees.dimension(gcube, pk.name), f"__pk_{i}") for i, pk in enumerate(pks)],
                           copy=False).distinct()
        keys = self._from(keys, plan)
        for w in wheres:
            keys = keys.where(w, copy=False)
        on = exp.and_(*[exp.EQ(this=exp.column(f"__pk_{i}", table="keys", quoted=True),
                               expression=self.trees.dimension(gcube, pk.name)) for i, pk in enumerate(pks)])
        s = exp.select(*[_alias(exp.column(a, table="keys", quoted=True), a) for a, _ in dim_cols])
        s = s.select(*[_alias(self.meas_of(r), r.alias) for r in rs], copy=False)
        s = s.from_(_subquery(keys, "keys"), copy=False)
        return s.join(self.trees.table(gcube, plan.database), on=on, join_type="left", copy=False)

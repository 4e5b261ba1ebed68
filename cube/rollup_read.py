"""Render a plan that reads a rollup (``plan.rollup``): final values of one stored grouping, or
base rows whose states are merged. The layout of a rollup table is in ``cube/rollup_match.py``."""

from __future__ import annotations

from crosstrack.cube.members import MemberTrees, agg, merge_of, outer_aggs
from crosstrack.cube.model import PreAggregation
from crosstrack.cube.plan import MemberRef, QueryPlan
from crosstrack.cube.render import Compiled, dimension_selects, finish
from crosstrack.cube.render_filters import render_filter
from crosstrack.cube.rollup_match import GROUPING_COL, cheap_distinct
from crosstrack.sql import fn
from sqlglot import exp


class RollupReader:
    def __init__(self, trees: MemberTrees):
        self.trees = trees
        self.model = trees.model

    def merged_measure(self, pa: PreAggregation, name: str, fixed: tuple[str, ...]) -> exp.Expression:
        """A measure from merged base rows; ``fixed``: rollup dimensions that are one value in every output row."""
        key = ("rollup_measure", pa.table, name, frozenset(fixed))
        return self.trees.scope.get(key, lambda: self._merged_measure(pa, name, set(fixed))).copy()

    def _merged_measure(self, pa: PreAggregation, name: str, fixed: set[str]) -> exp.Expression:
        tree = self.trees.measure(pa.cube, name)
        for i, call in enumerate(outer_aggs(tree)):
            within = cheap_distinct(pa, call)
            if within and set(within) <= fixed:
                # Within one value of ``within``: distinct = plain count/sum minus the repeats.
                def col(suffix: str, i: int = i) -> exp.Expression:
                    return exp.column(f"{name}__{i}{suffix}", table=pa.cube, quoted=True)

                def reps(col=col) -> exp.Expression:
                    return agg("groupArrayArrayMerge", col("d"))

                if call.this == "uniqExact":
                    plain, extra = agg("countMerge", col("s")), exp.Sub(
                        this=fn("length", reps()), expression=fn("length", fn("arrayDistinct", reps())))
                else:
                    plain, extra = agg("sumMerge", col("s")), exp.Sub(
                        this=fn("arraySum", reps()), expression=fn("arraySum", fn("arrayDistinct", reps())))
                merged = fn("toUInt64", exp.Sub(this=plain, expression=exp.Paren(this=extra)))
            else:
                merged = merge_of(call, exp.column(f"{name}__{i}", table=pa.cube, quoted=True))
            if call is tree:
                return merged
            call.replace(merged)
        return tree

    def render(self, plan: QueryPlan) -> Compiled:
        choice = plan.rollup
        pa = self.model.cubes[choice.cube].pre_aggregations[choice.name]

        def dim_of(r: MemberRef) -> exp.Expression:
            return exp.column(r.name, table=pa.cube, quoted=True)

        def meas_of(r: MemberRef) -> exp.Expression:
            if choice.exact:
                return exp.column(f"{r.name}__f", table=pa.cube, quoted=True)
            return self.merged_measure(pa, r.name, choice.fixed)

        def expr_of(r: MemberRef) -> exp.Expression:
            return meas_of(r) if r.kind == "measure" else dim_of(r)

        dim_cols = dimension_selects(plan, dim_of)
        sel = exp.select(*[exp.alias_(e, a, quoted=True) for a, e in dim_cols])
        sel = sel.select(*[exp.alias_(meas_of(r), r.alias, quoted=True) for r in plan.output_measures], copy=False)
        sel = sel.from_(exp.Table(this=exp.to_identifier(pa.table), db=exp.to_identifier(plan.database),
                                  alias=exp.TableAlias(this=exp.to_identifier(pa.cube, quoted=True))), copy=False)
        sel = sel.where(exp.EQ(this=exp.column(GROUPING_COL, table=pa.cube, quoted=True),
                               expression=exp.Literal.number(choice.grain)), copy=False)
        for f in plan.where:
            sel = sel.where(render_filter(f, expr_of), copy=False)
        if choice.exact:
            # One stored row per group: filters on measures read the final values directly.
            for f in plan.having:
                sel = sel.where(render_filter(f, expr_of), copy=False)
        else:
            if dim_cols:
                sel = sel.group_by(*[exp.column(a, quoted=True) for a, _ in dim_cols], copy=False)
            for f in plan.having:
                sel = sel.having(render_filter(f, expr_of), copy=False)
        return finish(plan, sel, needs_nulls=False, rollup=pa.table)

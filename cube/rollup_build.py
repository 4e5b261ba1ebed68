"""The SELECTs that fill a rollup table (its layout: ``cube/rollup_match.py``); the statements
around them (CREATE, INSERT, cluster DDL) are in ``cube/rollups.py``."""

from __future__ import annotations

from crosstrack.cube.members import MemberTrees, agg, outer_aggs, state_of
from crosstrack.cube.model import PreAggregation
from crosstrack.cube.rollup_match import CHEAP_DISTINCT, GROUPING_COL, RollupMatcher, cheap_distinct
from sqlglot import exp

GROUPINGS_PER_INSERT = 4


def _sum_exprs(parts: list[exp.Expression]) -> exp.Expression:
    out = parts[0]
    for p in parts[1:]:
        out = exp.Add(this=out, expression=p)
    return out


def _alias(tree: exp.Expression, name: str) -> exp.Expression:
    return exp.alias_(tree, name, quoted=True)


class RollupBuilder:
    def __init__(self, trees: MemberTrees):
        self.trees = trees
        self.model = trees.model

    def _facts(self, pa: PreAggregation, database: str) -> exp.Expression:
        return self.trees.table(pa.cube, database)

    def finals_select(self, pa: PreAggregation, database: str) -> exp.Select:
        """The measures' final values per group of the rollup (to learn their ClickHouse types)."""
        sel = exp.select(*[_alias(self.trees.measure(pa.cube, m), f"{m}__f") for m in pa.measures])
        sel = sel.from_(self._facts(pa, database), copy=False)
        if pa.dimensions:
            sel = sel.group_by(*[self.trees.dimension(pa.cube, d) for d in pa.dimensions], copy=False)
        return sel

    def base_select(self, pa: PreAggregation, database: str, final_types: dict[str, str] | None = None) -> exp.Select:
        """The SELECT that fills a rollup's base rows: dimensions, grouping mask, -State and final columns.

        ``final_types`` (column -> ClickHouse type, from ``finals_select``) stores each final
        value as ``SimpleAggregateFunction(anyLast, type)``: an AggregatingMergeTree keeps only key,
        state and simple-aggregate columns (the keys are unique, so anyLast never picks)."""
        trees = self.trees
        sel = exp.select(*[_alias(trees.dimension(pa.cube, d), d) for d in pa.dimensions])
        sel = sel.select(_alias(exp.func("toUInt64", exp.Literal.number((1 << len(pa.dimensions)) - 1)),
                                GROUPING_COL), copy=False)
        for m in pa.measures:
            for i, call in enumerate(outer_aggs(trees.measure(pa.cube, m))):
                sel = sel.select(_alias(state_of(call), f"{m}__{i}"), copy=False)
                within = cheap_distinct(pa, call)
                if within:
                    arg = call.expressions[0]
                    keys = [trees.dimension(pa.cube, d) for d in within] + [arg.copy()]
                    repeated = exp.select(*[k.copy() for k in keys]).from_(self._facts(pa, database)).group_by(
                        *[k.copy() for k in keys]).having(exp.GT(this=agg("count"), expression=exp.Literal.number(1)))
                    flag = exp.In(this=exp.Tuple(expressions=keys), query=exp.Subquery(this=repeated))
                    plain = agg(f"{CHEAP_DISTINCT[call.this]}State", arg.copy())
                    rep = agg("groupArrayArrayState", exp.func("if", flag, exp.Array(expressions=[arg.copy()]),
                                                               exp.Array(expressions=[])))
                    sel = sel.select(_alias(plain, f"{m}__{i}s"), _alias(rep, f"{m}__{i}d"), copy=False)
        for m in pa.measures:
            final = trees.measure(pa.cube, m)
            if final_types and f"{m}__f" in final_types:
                final = exp.Anonymous(this="CAST", expressions=[
                    final, exp.Literal.string(f"SimpleAggregateFunction(anyLast, {final_types[f'{m}__f']})")])
            sel = sel.select(_alias(final, f"{m}__f"), copy=False)
        sel = sel.from_(self._facts(pa, database), copy=False)
        if pa.dimensions:
            sel = sel.group_by(*[exp.column(d, quoted=True) for d in pa.dimensions], copy=False)
        return sel

    def groupings_selects(self, pa: PreAggregation, database: str,
                          batch: int = GROUPINGS_PER_INSERT) -> list[exp.Select]:
        """SELECTs that add one row per group of every stored grouping, ``batch`` groupings each
        (GROUP BY GROUPING SETS holds every set's states at once, so batches bound the memory):
        final values only; the -State columns keep their empty default."""
        sets = RollupMatcher(self.trees).groupings(pa)
        out = []
        for start in range(0, len(sets), batch):
            chunk = sets[start:start + batch]
            # Only dimensions grouped somewhere in this batch are selected (the others keep their
            # column default); grouping(d) is 0 when d is grouped in the row's set (SQL standard).
            names = [d for d in pa.dimensions if any(d in s for s in chunk)]
            dims = [self.trees.dimension(pa.cube, d) for d in names]
            bit = {d: 1 << i for i, d in enumerate(pa.dimensions)}
            mask = exp.func("toUInt64", exp.Paren(this=_sum_exprs([
                exp.Mul(this=exp.Paren(this=exp.Sub(this=exp.Literal.number(1),
                                                    expression=exp.func("grouping", e.copy()))),
                        expression=exp.Literal.number(bit[d])) for d, e in zip(names, dims)])))
            sel = exp.select(*[_alias(e, d) for e, d in zip(dims, names)])
            sel = sel.select(_alias(mask, GROUPING_COL), copy=False)
            sel = sel.select(*[_alias(self.trees.measure(pa.cube, m), f"{m}__f") for m in pa.measures], copy=False)
            sel = sel.from_(self._facts(pa, database), copy=False)
            index = dict(zip(names, dims))
            sets_sql = exp.GroupingSets(expressions=[exp.Tuple(expressions=[index[d].copy() for d in s])
                                                     for s in chunk])
            sel.set("group", exp.Group(grouping_sets=[sets_sql]))
            out.append(sel)
        return out

"""Choose the rollup a plan reads, if any (a ``RollupChoice`` on the plan).

A rollup table holds two kinds of rows, told apart by GROUPING_COL (a bit mask over the
rollup's dimensions, bit i = dimension i is grouped):
- base rows (every dimension grouped): one -State column per aggregate call of each measure
  (``<measure>__<i>``), plus for a ``distinct_within`` measure a plain count/sum
  (``__<i>s``) and the values repeated within one value of those dimensions (``__<i>d``);
- for every grouping (subset of its dimensions) and also on base rows: the measure's final
  value (``<measure>__f``), computed from the facts like the raw query computes it.
A query whose groups are exactly the rows of one grouping (its dimensions, plus dimensions
pinned to one value by a filter) reads the final values: no state is merged. Otherwise base
rows are merged, but only when every state is small (sums, means, counts, a distinct count
within one snapshot year); exact distinct and quantile states hold every value, merging them
costs as much as scanning the facts, so those queries read the facts.
"""

from __future__ import annotations

from dataclasses import replace

from crosstrack.cube.members import WITHIN_META, MemberTrees, outer_aggs
from crosstrack.cube.model import Cube, PreAggregation
from crosstrack.cube.plan import QueryPlan, RollupChoice, filter_members, flatten_and, pins_one_value
from sqlglot import exp

GROUPING_COL = "__grouping"  # rollup rows: bit i set = rollup dimension i is grouped
CHEAP_DISTINCT = {"uniqExact": "count", "sumDistinct": "sum"}
# aggregates whose states are small whatever the data (merging them is cheap)
LIGHT_AGGS = {"count", "sum", "avg", "min", "max", "any", "anylast", "uniq"}


def rollup_required(cube: Cube, rollup: str) -> list[str]:
    """Dimensions every stored grouping of a rollup keeps: the cube's
    ``meta.rollup_subsets.<rollup>.required``, else ``meta.rollup_subsets.required``, else none."""
    spec = cube.meta.get("rollup_subsets") if isinstance(cube.meta, dict) else None
    if not isinstance(spec, dict):
        return []
    own = spec.get(rollup)
    req = own.get("required") if isinstance(own, dict) else spec.get("required")
    return [d for d in req if isinstance(d, str)] if isinstance(req, list) else []


def cheap_distinct(pa: PreAggregation, call: exp.Expression) -> list[str] | None:
    """The ``distinct_within`` dimensions of a uniqExact/sumDistinct call a rollup can answer cheaply."""
    within = call.meta.get(WITHIN_META)
    name = call.this if isinstance(call.this, str) else None
    if not within or name not in CHEAP_DISTINCT or len(call.expressions) != 1 or \
            not set(within) <= set(pa.dimensions):
        return None
    return list(within)


class RollupMatcher:
    def __init__(self, trees: MemberTrees):
        self.trees = trees
        self.model = trees.model

    def groupings(self, pa: PreAggregation) -> list[tuple[str, ...]]:
        """Proper, non-empty subsets of the rollup's dimensions stored with final values, largest first.

        The cube's ``meta.rollup_subsets`` (``required: [snapshot_year]``, for all its rollups or for
        one) keeps only the subsets that contain those dimensions, which bounds the build cost.
        """
        return list(self._groupings(pa)[0])

    def _groupings(self, pa: PreAggregation) -> tuple[list[tuple[str, ...]], set[frozenset]]:
        def build():
            required = set(rollup_required(self.model.cubes[pa.cube], pa.name))
            dims = list(pa.dimensions)
            out = []
            for mask in range((1 << len(dims)) - 2, 0, -1):
                subset = tuple(d for i, d in enumerate(dims) if mask >> i & 1)
                if required <= set(subset):
                    out.append(subset)
            return sorted(out, key=lambda s: -len(s)), {frozenset(x) for x in out}
        return self.trees.scope.get(("groupings", pa.table), build)

    def choose(self, plan: QueryPlan, available: set[str]) -> QueryPlan:
        """The plan with the best rollup among ``available`` tables, or unchanged when none fits."""
        pa = self.match(plan, available)
        if pa is None:
            return plan
        grain = self.grain_mask(plan, pa)
        fixed = self.fixed_dims(plan)
        return replace(plan, rollup=RollupChoice(
            pa.table, pa.cube, pa.name, grain is not None,
            grain if grain is not None else (1 << len(pa.dimensions)) - 1,
            tuple(d for d in pa.dimensions if d in fixed)))

    def match(self, plan: QueryPlan, available: set[str]) -> PreAggregation | None:
        if plan.segments or plan.time_dimensions:
            return None
        rs = plan.measures + plan.dimensions + tuple(m for f in plan.filters for m in filter_members(f))
        cubes = {r.cube for r in rs}
        if len(cubes) != 1:
            return None
        cube = self.model.cubes[cubes.pop()]
        if any(len(r.join_path) > 1 for r in rs):
            return None
        need_m = {r.name for r in rs if r.kind == "measure"}
        need_d = {r.name for r in rs if r.kind == "dimension"}
        best, best_rank = None, None
        for pa in cube.pre_aggregations.values():
            if pa.time_dimension or pa.table not in available:
                continue
            if need_m <= set(pa.measures) and need_d <= set(pa.dimensions):
                # Final values beat merged states; then the fewest rows (dimensions). States that
                # hold every value (exact distinct counts, exact quantiles) cost as much to merge as
                # scanning the facts (measured: 1.2-2x slower), so such a rollup is not used.
                exact = self.grain_mask(plan, pa) is not None
                if not exact and not self._merges_cheaply(plan, pa, need_m):
                    continue
                rank = (not exact, len(pa.dimensions))
                if best_rank is None or rank < best_rank:
                    best, best_rank = pa, rank
        return best

    def _merges_cheaply(self, plan: QueryPlan, pa: PreAggregation, measures: set[str]) -> bool:
        fixed = self.fixed_dims(plan)
        for name in measures:
            for call in outer_aggs(self.trees.measure(pa.cube, name)):
                within = cheap_distinct(pa, call)
                if within and set(within) <= fixed:
                    continue
                fn = call.this if isinstance(call.this, str) else call.key
                if str(fn).lower() not in LIGHT_AGGS:
                    return False
        return True

    @staticmethod
    def fixed_dims(plan: QueryPlan) -> set[str]:
        """Dimensions with one value in each output row: grouped, or pinned by an equals filter."""
        fixed = {r.name for r in plan.dimensions}
        for f in flatten_and(plan.filters):
            if pins_one_value(f):
                fixed.add(f.member.name)
        return fixed

    def grain_mask(self, plan: QueryPlan, pa: PreAggregation) -> int | None:
        """The GROUPING_COL value whose rows are exactly this query's groups, or None.

        Exact when every dimension filter either reads only grouped dimensions (it keeps or drops
        whole groups) or pins one dimension to a single value, and the grouped plus pinned
        dimensions form a grouping the rollup stores. A query without dimensions always has one
        row (even over no facts), so it merges states instead.
        """
        if not plan.dimensions:
            return None
        grouped = {r.name for r in plan.dimensions}
        pinned: set[str] = set()
        for f in flatten_and(plan.filters):
            ms = filter_members(f)
            if all(m.kind == "measure" for m in ms) or all(m.kind == "dimension" and m.name in grouped for m in ms):
                continue
            if pins_one_value(f):
                pinned.add(f.member.name)
                continue
            return None
        wanted = grouped | pinned
        if wanted == set(pa.dimensions):
            return (1 << len(pa.dimensions)) - 1
        if frozenset(wanted) not in self._groupings(pa)[1]:
            return None
        return sum(1 << i for i, d in enumerate(pa.dimensions) if d in wanted)

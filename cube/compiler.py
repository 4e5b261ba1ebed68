"""Cube REST queries -> sqlglot trees (ClickHouse dialect), in three steps of their own:

1. ``cube/planner.py`` validates the query and builds a ``QueryPlan`` (``cube/plan.py``: frozen
   dataclasses of members, filters, time dimensions, joins, order and limit; no SQL in it);
2. ``cube/rollup_match.py`` picks the rollup the plan reads, if one fits (``plan.rollup``);
3. ``cube/render.py`` (facts) or ``cube/rollup_read.py`` (a rollup) renders the plan as a tree,
   without validating anything.

Request values only ever enter the tree as ``exp.Literal`` nodes; member SQL comes from the
validated model (``cube/members.py``). Everything derived from the model alone is kept in the
explicit ``ModelCache`` (``cube/model_cache.py``), never on the model.
"""

from __future__ import annotations

from typing import Any

from crosstrack.cube.members import MemberTrees
from crosstrack.cube.model import Model, PreAggregation
from crosstrack.cube.model_cache import ModelCache, ModelScope
from crosstrack.cube.plan import Column, QueryPlan
from crosstrack.cube.planner import DEFAULT_LIMIT, QUERY_KEYS, Planner
from crosstrack.cube.render import Compiled, Renderer
from crosstrack.cube.rollup_build import GROUPINGS_PER_INSERT, RollupBuilder
from crosstrack.cube.rollup_match import GROUPING_COL, RollupMatcher, rollup_required
from crosstrack.cube.rollup_read import RollupReader
from sqlglot import exp

__all__ = ["Compiler", "Compiled", "Column", "QueryPlan", "GROUPING_COL", "GROUPINGS_PER_INSERT", "DEFAULT_LIMIT",
           "QUERY_KEYS", "rollup_required"]


class Compiler:
    """The three steps for one model. ``cache`` holds what is derived from the model (shared by
    every Compiler given the same cache; a fresh one when omitted)."""

    def __init__(self, model: Model, cache: ModelCache | None = None):
        self.model = model
        self.scope = ModelScope.of(model, cache)
        trees = MemberTrees(self.scope)
        self.planner = Planner(model)
        self.matcher = RollupMatcher(trees)
        self.renderer = Renderer(trees)
        self.reader = RollupReader(trees)
        self.builder = RollupBuilder(trees)

    def plan(self, query: Any, *, database: str, internal: bool = False,
             rollups: set[str] | None = None) -> QueryPlan:
        """The validated plan of ``query``, reading one of the ``rollups`` tables when one fits."""
        plan = self.planner.plan(query, database=database, internal=internal)
        return self.matcher.choose(plan, rollups) if rollups else plan

    def render(self, plan: QueryPlan) -> Compiled:
        return self.reader.render(plan) if plan.rollup is not None else self.renderer.render(plan)

    def compile(self, query: Any, *, database: str, internal: bool = False,
                rollups: set[str] | None = None) -> Compiled:
        return self.render(self.plan(query, database=database, internal=internal, rollups=rollups))

    # --- rollup tables ------------------------------------------------------------------------
    def rollup_groupings(self, pa: PreAggregation) -> list[tuple[str, ...]]:
        return self.matcher.groupings(pa)

    def rollup_finals_select(self, pa: PreAggregation, database: str) -> exp.Select:
        return self.builder.finals_select(pa, database)

    def rollup_select(self, pa: PreAggregation, database: str,
                      final_types: dict[str, str] | None = None) -> exp.Select:
        return self.builder.base_select(pa, database, final_types)

    def rollup_groupings_selects(self, pa: PreAggregation, database: str,
                                 batch: int = GROUPINGS_PER_INSERT) -> list[exp.Select]:
        return self.builder.groupings_selects(pa, database, batch)

"""Render step: a plan becomes exactly the SQL main's compiler emitted (tests/golden/sql/step_*.sql)."""

from __future__ import annotations

import pytest
from crosstrack.cube.compiler import Compiler
from cube_golden_cases import CASES, DATABASE, GOLDEN, check_golden, model_of, rollup_tables


def _sql(tree) -> str:
    return tree.sql(dialect="clickhouse", pretty=True) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_sql_is_golden(name):
    which, query, with_rollups = CASES[name]
    model = model_of(which)
    comp = Compiler(model)
    plan = comp.plan(query, database=DATABASE, internal=True, rollups=rollup_tables(model) if with_rollups else None)
    compiled = comp.render(plan)
    assert compiled.rollup == (plan.rollup.table if plan.rollup else None)
    text = _sql(compiled.tree)
    if compiled.count_tree is not None:
        text += "-- total\n" + _sql(compiled.count_tree)
    check_golden(GOLDEN / "sql" / f"step_{name}.sql", text)


@pytest.mark.parametrize("table", ["custody_snapshot__by_demographics", "charge_snapshot__by_offense"])
def test_rollup_build_sql_is_golden(table):
    model = model_of("models")
    pa = next(p for c in model.cubes.values() for p in c.pre_aggregations.values() if p.table == table)
    comp = Compiler(model)
    finals = {f"{m}__f": "Nullable(Float64)" for m in pa.measures}
    parts = [_sql(comp.rollup_finals_select(pa, DATABASE)), _sql(comp.rollup_select(pa, DATABASE)),
             _sql(comp.rollup_select(pa, DATABASE, finals))]
    parts += [_sql(s) for s in comp.rollup_groupings_selects(pa, DATABASE)]
    check_golden(GOLDEN / "sql" / f"build_{table}.sql", "-- next\n".join(parts))

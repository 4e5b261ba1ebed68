"""Rollup-match step: on a plan, the matcher picks the rollup (table, grouping mask, final values
or merged states) or none — the same choices main's compiler made (the SQL goldens of
test_cube_render_golden.py read these tables and masks)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from crosstrack.cube.compiler import Compiler
from crosstrack.cube.plan import RollupChoice
from crosstrack.cube.planner import Planner
from cube_golden_cases import CASES, DATABASE, model_of, rollup_tables

AGENCY = ("custody_snapshot__by_agency", "custody_snapshot", "by_agency")
DEMOGRAPHICS = ("custody_snapshot__by_demographics", "custody_snapshot", "by_demographics")
EXPECTED = {
    "rollup_hit_final_values": RollupChoice(*AGENCY, True, 0b0101, ("snapshot_year", "offender_status")),
    "rollup_hit_pinned_filter": RollupChoice(*AGENCY, True, 0b0111, ("snapshot_year", "agency", "offender_status")),
    "rollup_hit_merged_no_dimensions": RollupChoice(*AGENCY, False, 0b1111, ("snapshot_year",)),
    "rollup_hit_merged_states": RollupChoice(*DEMOGRAPHICS, False, 0b111111, ("snapshot_year", "race")),
    "rollup_hit_charges": RollupChoice("charge_snapshot__by_offense", "charge_snapshot", "by_offense", True, 0b0011,
                                       ("snapshot_year", "offense_type")),
    "rollup_miss_distinct_across_years": None,  # an exact distinct count across years would merge value sets
    "rollup_miss_not_built": None,
    "rollup_miss_segment": None,  # rollups store no segments
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rollup_choice_on_the_plan(name):
    which, query, built = CASES[name]
    model = model_of(which)
    comp = Compiler(model)
    plan = Planner(model).plan(query, database=DATABASE, internal=True)
    chosen = comp.matcher.choose(plan, rollup_tables(model) if built else set())
    assert chosen.rollup == EXPECTED[name]
    assert replace(chosen, rollup=None) == plan  # matching adds the choice and changes nothing else


def test_a_missing_table_moves_the_choice():
    """Without the table it preferred, the matcher takes the next rollup that answers exactly."""
    which, query, _ = CASES["rollup_hit_final_values"]
    model = model_of(which)
    plan = Planner(model).plan(query, database=DATABASE, internal=True)
    # by_governing_offense (snapshot year, offender status, ...) would answer it too: without both
    tables = rollup_tables(model) - {"custody_snapshot__by_agency", "custody_snapshot__by_governing_offense"}
    choice = Compiler(model).matcher.choose(plan, tables).rollup
    assert choice == RollupChoice(*DEMOGRAPHICS, True, 0b000011, ("snapshot_year", "offender_status"))

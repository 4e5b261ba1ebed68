"""The validator knows the facts (issue 14, finding 3): every column a model ``sql`` names is
checked against the fact schema loaders/ publishes (loaders.schema.FACT_TABLES), with types for
numeric aggregations; an unknown column is an error at its own file:line:col with a "did you mean"."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crosstrack import cube
from crosstrack.cube.factcheck import fact_columns
from crosstrack.cube.loader import collect
from crosstrack.loaders.schema import FACT_TABLES

ROOT = Path(__file__).resolve().parent.parent


def _copy(tmp_path: Path) -> Path:
    for f in (ROOT / "models").glob("*.yml"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def _where(path: Path, needle: str, inside: str) -> tuple[int, int]:
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return i, line.index(needle) + line[line.index(needle):].index(inside) + 1
    raise AssertionError(needle)


def test_the_schema_is_the_loaders_own():
    assert fact_columns() == {t: dict(cols) for t, (cols, _) in FACT_TABLES.items()}


def test_misspelt_column_is_an_error_at_its_position_with_did_you_mean(tmp_path):
    d = _copy(tmp_path)
    f = d / "custody.yml"
    f.write_text(f.read_text().replace("sql: '{CUBE}.enrollments_total'", "sql: '{CUBE}.total_enrollments'", 1))
    _, diags = collect(d)
    line, col = _where(f, "{CUBE}.total_enrollments", "total_enrollments")
    got = [str(x) for x in diags]
    assert got == [f"{f}:{line}:{col}: error[model.unknown_column] cubes[custody_snapshot].measures[total_enrollments].sql: "
                   "column 'total_enrollments' is not a column of the fact table 'custody_facts' "
                   "(did you mean 'enrollments_total'?)"], got
    # and the command line says so, with a non-zero exit
    proc = subprocess.run([str(Path(sys.executable).with_name("crosstrack")), "model", "validate", str(d)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and f"{line}:{col}" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_bare_columns_filters_case_and_joined_cube_columns_are_checked(tmp_path):
    (tmp_path / "m.yml").write_text("""\
cubes:
  - name: c
    sql_table: custody_facts
    joins:
      - name: ch
        relationship: one_to_many
        sql: "{CUBE}.person_key = {ch}.person_kee"
    dimensions:
      - name: kind
        type: string
        case:
          when:
            - sql: "{CUBE}.agencyy = 'DOC'"
              label: DOC
          else:
            label: other
      - name: race
        type: string
        sql: raec
    measures:
      - name: n
        type: count
        filters:
          - sql: "{CUBE}.offender_statuss = 'PRETRIAL'"
      - name: days
        type: sum
        sql: "{CUBE}.incarceration_days"
      - name: agency_sum
        type: sum
        sql: "{CUBE}.agency"
  - name: ch
    sql_table: charge_facts
    dimensions:
      - name: person_key
        type: number
        sql: person_key
        primary_key: true
""")
    _, diags = collect(tmp_path / "m.yml")
    got = [f"{d.line}:{d.col}: {d.code} {d.message}" for d in diags]
    assert got == [
        "7:40: model.unknown_column column 'person_kee' is not a column of the fact table 'charge_facts' "
        "(did you mean 'person_key'?)",
        "13:28: model.unknown_column column 'agencyy' is not a column of the fact table 'custody_facts' "
        "(did you mean 'agency'?)",
        "19:14: model.unknown_column column 'raec' is not a column of the fact table 'custody_facts' (did you mean 'race'?)",
        "24:26: model.unknown_column column 'offender_statuss' is not a column of the fact table 'custody_facts' "
        "(did you mean 'offender_status'?)",
        "30:22: model.type_mismatch a 'sum' measure needs a numeric column; 'agency' is LowCardinality(String)",
    ], got


def test_a_model_that_validates_answers_every_member(engine_with_facts):
    """The project's model validates, and every public measure and dimension of every view runs."""
    model = cube.load_model(ROOT / "models")
    qe, db = engine_with_facts
    for vname, view in model.views.items():
        for mname, vm in view.members.items():
            if vm.kind not in ("measure", "dimension"):
                continue
            q = {"measures": [f"{vname}.{mname}"]} if vm.kind == "measure" else {
                "dimensions": [f"{vname}.{mname}"], "measures": [f"{vname}.{view.meta['disclosure']['people']}"]}
            qe.load(q, database=db, internal=True)


@pytest.fixture(scope="module")
def engine_with_facts(engine):
    from crosstrack.cube.query import QueryEngine
    from cube_data import build_synthetic
    build_synthetic(engine, "factcheck_db", n_people=30, seed=2)
    return QueryEngine(cube.load_model(ROOT / "models"), engine), "factcheck_db"

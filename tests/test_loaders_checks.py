"""Pre-publish checks of built facts (contracts.md "Published data"): a fact database with an
unknown or empty code, a zero person_key, a missing snapshot or a person counted twice on one
snapshot (R1) must fail ``check_database`` with the exact number of offending rows, and a clean
one must pass. The checks first look at each column's distinct values and count rows only when
a bad value exists; these tests pin both paths."""

from __future__ import annotations

import uuid

import pytest

from crosstrack.engine import Engine
from crosstrack.loaders.facts import fact_ddl
from crosstrack.loaders.publish import check_database
from crosstrack.sql import qi
from tests.fixtures_loaders import memory_settings

GOOD_CUSTODY = dict(agency="DOC", facility_type="PRISON", security_level="MEDIUM", offender_status="SENTENCED",
                    age_group="30-39", assigned_sex="M", gender_identity="MALE", race="W", ethnicity="N",
                    governing_offense_type="PERSON", governing_offense_subtype="ASSAULT",
                    governing_offense_severity="F", leading_charge_type="NOT_APPLICABLE",
                    leading_charge_subtype="NOT_APPLICABLE", leading_charge_severity="NOT_APPLICABLE")
GOOD_CHARGE = dict(agency="DOC", facility_type="PRISON", age_group="30-39", assigned_sex="M", gender_identity="MALE",
                   race="W", ethnicity="N", offense_type="PERSON", offense_subtype="ASSAULT", severity="F",
                   disposition="CONVICTED")


def _values(row: dict) -> str:
    return ", ".join("'" + str(v).replace("'", "") + "'" if isinstance(v, str) else str(int(v)) for v in row.values())


def _build(engine: Engine, custody: list[dict], charges: list[dict]) -> str:
    db = f"chk_{uuid.uuid4().hex[:10]}"
    engine.command(f"CREATE DATABASE {qi(db)}")
    engine.command(fact_ddl(db, "custody_facts"))
    engine.command(fact_ddl(db, "charge_facts"))
    engine.command(fact_ddl(db, "release_facts"))  # the release cohort (docs/recidivism.md), empty here
    for table, rows in (("custody_facts", custody), ("charge_facts", charges)):
        for r in rows:
            engine.command(f"INSERT INTO {qi(db)}.{qi(table)} ({', '.join(qi(c) for c in r)}) VALUES ({_values(r)})")
    return db


def _custody(year: int, key: int, **over) -> dict:
    return {"snapshot_year": year, "person_key": key, "record_key": 7, **GOOD_CUSTODY, **over}


def _charge(year: int, key: int, **over) -> dict:
    return {"snapshot_year": year, "person_key": key, "record_key": 7, **GOOD_CHARGE, **over}


@pytest.fixture()
def env(tmp_path):
    settings = memory_settings(tmp_path / "d", years=[2022, 2023])
    return settings, Engine.from_settings(settings)


def test_clean_facts_pass_the_publish_checks(env):
    """A complete fact database passes: counts are returned and no problem is reported."""
    settings, engine = env
    db = _build(engine, [_custody(2022, 1), _custody(2023, 1), _custody(2023, 2)], [_charge(2023, 1)])
    counts, problems = check_database(engine, settings, db)
    assert problems == []
    assert counts == {"custody_facts": 3, "charge_facts": 1, "release_facts": 0}


def test_unknown_and_empty_codes_are_counted_exactly(env):
    """An unknown code and an empty code each fail the check with the number of rows carrying them."""
    settings, engine = env
    db = _build(engine, [_custody(2022, 1), _custody(2023, 1, agency="XXX"), _custody(2023, 2, agency="XXX"),
                         _custody(2023, 3, race="")],
                [_charge(2023, 1, offense_type="NOPE")])
    _, problems = check_database(engine, settings, db)
    assert "custody_facts.agency: 2 rows with an empty or unknown code" in problems
    assert "custody_facts.race: 1 rows with an empty or unknown code" in problems
    assert "charge_facts.offense_type: 1 rows with an empty or unknown code" in problems
    assert len(problems) == 3


def test_zero_person_key_missing_snapshot_and_r1_double_count_fail(env):
    """R1: a person counted twice on one snapshot fails; so do a zero person_key and a configured
    snapshot year with no rows."""
    settings, engine = env
    db = _build(engine, [_custody(2023, 5), _custody(2023, 5, agency="SUF", facility_type="HOC",
                                                      security_level="NOT_APPLICABLE"), _custody(2023, 0)], [])
    _, problems = check_database(engine, settings, db)
    assert "custody_facts.person_key: 1 rows with an empty or unknown code" in problems
    assert "custody_facts has no rows for snapshot year(s) 2022" in problems
    assert "custody_facts has 1 people counted twice on one snapshot" in problems

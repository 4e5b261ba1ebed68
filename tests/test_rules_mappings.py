"""Issue 17: every code mapping in the fact build's SQL is generated from loaders/schema.py.

Each generated expression runs on chDB for every source code (plus empty and an unknown code) and
must give what schema.py's table says; and no rule file or loader module spells a mapped code list
as a SQL literal of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlglot import exp

from crosstrack.engine import DIALECT, Engine
from crosstrack.loaders import mappings, rules, schema
from tests.fixtures_loaders import memory_settings

LOADERS = Path(__file__).resolve().parent.parent / "loaders"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return Engine.from_settings(memory_settings(tmp_path_factory.mktemp("mappings")))


def _run(engine: Engine, build, inputs: list) -> list:
    """Apply a generated mapping to each input on chDB (the inputs travel as an array literal)."""
    x = exp.column("x")
    values = exp.Array(expressions=[exp.convert(v) for v in inputs])
    # arrayJoin keeps the order of the array: one output row per input, in order
    query = exp.select(build(x).as_("y")).from_(exp.select(
        exp.alias_(exp.Anonymous(this="arrayJoin", expressions=[values]), "x")).subquery())
    return [r[0] for r in engine.query(query.sql(DIALECT)).rows]


def test_r4_race_mapping_equals_schema(engine):
    codes = list(schema.SOURCE_RACES) + ["", "ZZ"]
    want = [schema.SOURCE_RACES.get(c, schema.RACE_DEFAULT) for c in codes]
    assert _run(engine, mappings.race_group, codes) == want
    assert set(want) <= set(schema.RACES)
    assert "OU" in want and want[codes.index("H")] == "OU"  # R4: Hispanic as a race is Other / Unknown


def test_r4_ethnicity_and_gender_mappings_equal_schema(engine):
    codes = list(schema.SOURCE_ETHNICITIES) + [""]
    assert _run(engine, mappings.ethnicity_group, codes) == [schema.SOURCE_ETHNICITIES.get(c, "U") for c in codes]
    labels = [lab for code, lab in schema.GENDER_IDENTITIES.items() if code != "UNKNOWN"] + [""]
    got = _run(engine, mappings.gender_code, labels)
    by_label = {lab: code for code, lab in schema.GENDER_IDENTITIES.items()}
    assert got == [by_label.get(lab, "UNKNOWN") for lab in labels]


def test_r5_agency_mapping_equals_schema(engine):
    codes = list(schema.SOURCE_AGENCIES)
    got = _run(engine, mappings.agency_group, codes)
    assert got == [schema.SOURCE_AGENCIES[c] for c in codes]
    assert set(got) == set(schema.AGENCIES)  # every fact agency is reachable, and nothing else
    assert {c: g for c, g in zip(codes, got) if c in ("BAR", "DUK", "FRA", "HMP")} == \
        {"BAR": "CAI", "DUK": "CAI", "FRA": "NWT", "HMP": "NWT"}


def test_r3_age_groups_equal_schema(engine):
    ages = list(range(18, 100))
    got = _run(engine, mappings.age_group, ages)
    # the group whose range (from its code, e.g. 25-29 or 60+) holds the age
    def group(age: int) -> str:
        for code in schema.AGE_GROUPS:
            lo, _, hi = code.rstrip("+").partition("-")
            if int(lo) <= age and (not hi or age <= int(hi)):
                return code
        raise AssertionError(age)
    assert got == [group(a) for a in ages]
    assert set(got) == set(schema.AGE_GROUPS)


def test_r12_chapter_types_and_other_subtypes_equal_schema(engine):
    chapters = list(schema.CHAPTER_TYPES) + ["209A", "CMR", "MUNI"]
    assert _run(engine, mappings.chapter_type, chapters) == [schema.CHAPTER_TYPES.get(c, "OTHER") for c in chapters]
    types = list(schema.OTHER_SUBTYPE_OF_TYPE)
    got = _run(engine, mappings.other_subtype, types)
    assert got == [schema.OTHER_SUBTYPE_OF_TYPE[t] for t in types]
    assert all(schema.OFFENSE_SUBTYPES[s][1] == t for s, t in zip(got, types))


# codes only a mapping may produce: a rule file or loader module that spells one as a literal is
# repeating a mapping instead of calling it
MAPPED_OUTPUTS = {"CAI", "NWT", "API", "OU", "18-24", "25-29", "30-39", "40-49", "50-59", "60+",
                  "OTHER_PERSON", "OTHER_PROPERTY", "OTHER_DRUG", "MOTOR_VEHICLE_OTHER", "OTHER_WEAPON"}


def _string_literals(tree: exp.Expression) -> set[str]:
    return {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}


def test_rule_files_spell_no_mapped_code():
    for name in rules.rule_names():
        tree = rules._parsed(name)
        assert not (_string_literals(tree) & MAPPED_OUTPUTS), name


def test_loader_modules_spell_no_mapped_code():
    for module in ("facts.py", "validate.py", "court.py", "recidivism.py"):
        text = (LOADERS / module).read_text()
        quoted = set(re.findall(r"'([^'\\]{1,24})'", text)) | set(re.findall(r'"([^"\\]{1,24})"', text))
        assert not (quoted & MAPPED_OUTPUTS), (module, quoted & MAPPED_OUTPUTS)


def test_validation_allows_exactly_the_schema_source_codes():
    from crosstrack.loaders.validate import single_row_rules
    allowed = {(c, m) for c, r, m, _ in single_row_rules("people") + single_row_rules("custody_episodes") if r == "code"}
    msg = dict(allowed)
    assert msg["race"] == f"not an allowed code ({', '.join(schema.SOURCE_RACES)} or empty)"
    assert msg["ethnicity"] == f"not an allowed code ({', '.join(schema.SOURCE_ETHNICITIES)} or empty)"
    assert msg["agency"] == f"not an allowed code ({', '.join(schema.SOURCE_AGENCIES)})"

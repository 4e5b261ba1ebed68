"""The semantic layer's model: crosstrack's models load, describe themselves in Cube's /v1/meta
shape, carry the FAQ's definitions, code lists and disclosure metadata, and invalid models are
reported completely, each problem at its line and column."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crosstrack import cube
from crosstrack.cube.loader import collect
from crosstrack.cube.validate import validate_cli
from crosstrack.loaders import schema

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
INVALID = Path(__file__).resolve().parent / "models_invalid"
VIEWS = ("population", "custody", "incarceration_time", "charges", "programs", "recidivism")
R13_DIMS = ("governing_offense_type", "governing_offense_subtype", "governing_offense_severity",
            "leading_charge_type", "leading_charge_subtype", "leading_charge_severity")
CODE_LISTS = {
    "agency": schema.AGENCIES, "facility_type": schema.FACILITY_TYPES, "security_level": schema.SECURITY_LEVELS,
    "offender_status": schema.OFFENDER_STATUSES, "age_group": schema.AGE_GROUPS, "assigned_sex": schema.ASSIGNED_SEX,
    "gender_identity": schema.GENDER_IDENTITIES, "race": schema.RACES, "ethnicity": schema.ETHNICITIES,
    "severity": schema.SEVERITIES, "disposition": schema.DISPOSITIONS, "offense_type": schema.OFFENSE_TYPES,
    "offense_subtype": {k: v[0] for k, v in schema.OFFENSE_SUBTYPES.items()},
    "governing_offense_type": schema.OFFENSE_TYPES, "leading_charge_type": schema.OFFENSE_TYPES,
    "governing_offense_subtype": {k: v[0] for k, v in schema.OFFENSE_SUBTYPES.items()},
    "leading_charge_subtype": {k: v[0] for k, v in schema.OFFENSE_SUBTYPES.items()},
    "governing_offense_severity": schema.SEVERITIES, "leading_charge_severity": schema.SEVERITIES,
}


@pytest.fixture(scope="module")
def meta(model) -> dict:
    return model.meta()


def _owner(meta: dict, name: str) -> dict:
    return next(c for c in meta["cubes"] if c["name"] == name)


def test_models_load_and_public_views_are_the_datasets(model, meta):
    assert [c["name"] for c in meta["cubes"]] == list(VIEWS)
    assert all(c["type"] == "view" for c in meta["cubes"])
    assert set(model.views) == set(VIEWS)


def test_meta_has_cube_v1_meta_shape(meta):
    for owner in meta["cubes"]:
        assert {"name", "title", "description", "type", "measures", "dimensions", "segments", "meta"} <= set(owner)
        for m in owner["measures"] + owner["dimensions"]:
            assert m["name"].startswith(owner["name"] + ".")
            assert {"name", "type", "title", "shortTitle", "description", "format", "meta", "public"} <= set(m)
        for m in owner["measures"]:
            assert m["type"] == "number" and m["aggType"]


def test_every_member_has_a_title_and_a_faq_description(meta):
    faq = (Path("/work/shared/spec/cross-tracking-faq.txt").read_text() if
           Path("/work/shared/spec/cross-tracking-faq.txt").exists() else "")
    for owner in meta["cubes"]:
        assert owner["title"] and owner["description"]
        for m in owner["measures"] + owner["dimensions"] + owner["segments"]:
            assert m["shortTitle"] and len(m["description"] or "") > 20, m["name"]
    if faq:  # spot-check that definitions are the FAQ's words, not paraphrase
        pop = _owner(meta, "population")
        race = next(d for d in pop["dimensions"] if d["name"] == "population.race")
        assert "If the records management system indicated that the race was Hispanic" in race["description"]
        assert "If the records management system indicated that the race was Hispanic" in faq


def test_R4_R5_R12_code_lists_agree_with_loaders_schema(model):
    """Every coded dimension's meta.codes equals loaders/schema.py's list (codes, labels, order)."""
    checked = 0
    for c in model.cubes.values():
        for d in c.dimensions.values():
            if d.name in CODE_LISTS:
                want = [{"code": k, "label": v} for k, v in CODE_LISTS[d.name].items()]
                assert d.meta.get("codes") == want, f"{c.name}.{d.name}"
                checked += 1
    assert checked >= 25


def test_disclosure_meta_per_contract(model, meta):
    """P1/P4: each view names its people count and hidden cell key; each measure its kind and governing count."""
    for name in VIEWS:
        v = model.views[name]
        disc = v.meta["disclosure"]
        people = model.resolve(f"{name}.{disc['people']}")
        cell = model.resolve(f"{name}.{disc['cell_key']}")
        assert people.member.kind == "measure" and people.public
        assert cell.member.kind == "measure" and not cell.public
        assert "sumDistinct" in cell.member.sql.text and "4294967296" in cell.member.sql.text
        owner = _owner(meta, name)
        assert f"{name}.{disc['cell_key']}" not in [m["name"] for m in owner["measures"]]
        for m in owner["measures"]:
            d = m["meta"]["disclosure"]
            assert d["kind"] in ("people", "count", "mean", "median", "cohort", "event", "rate")
            assert model.resolve(f"{name}.{d['governed_by']}").member.type in ("count", "count_distinct", "number")


def test_R7_median_is_exact_inclusive(model):
    m = model.cubes["custody_snapshot"].measures["median_days"]
    assert m.sql.text.startswith("quantileExactInclusive(0.5)")


def test_R13_governing_and_leading_dims_require_single_status(model):
    pop = model.views["population"]
    for d in R13_DIMS:
        r = model.resolve(f"population.{d}")
        assert r.meta["requires"] == {"dimension": "offender_status", "single_filter": True}
    assert "offender_status" in pop.members


def test_views_have_the_required_members(model):
    want = {
        "population": {"people", "snapshot_year", "agency", "offender_status", "age_group", "assigned_sex",
                       "gender_identity", "race", "ethnicity", "facility_type", "security_level", *R13_DIMS},
        "custody": {"people", "snapshot_year", "agency", "facility_type", "security_level", "race"},
        "incarceration_time": {"people", "mean_days", "median_days"},
        "charges": {"charges", "convictions", "people", "offense_type", "offense_subtype", "severity", "disposition",
                    "snapshot_year", "agency", "race"},
        "programs": {"record_count", "total_enrollments", "enrollments_beh", "enrollments_edu", "enrollments_sup",
                     "enrollments_work", "enrollments_reinv", "enrollments_relig"},
    }
    for view, members in want.items():
        assert members <= set(model.views[view].members), view


def test_models_are_valid_cube_yaml_shape():
    """The files stay plain Cube syntax: top-level cubes/views only, crosstrack extras under meta."""
    for f in MODELS.glob("*.yml"):
        data = yaml.safe_load(f.read_text())
        assert set(data) <= {"cubes", "views"}


@pytest.mark.parametrize("fixture", sorted(p.stem for p in INVALID.glob("*.yml")))
def test_invalid_model_fixture_reports_every_error_at_its_position(fixture):
    """Each invalid fixture gives exactly its expected diagnostics, all at once, file:line:col: error[code] path: msg."""
    model, diags = collect(INVALID / f"{fixture}.yml")
    got = [str(d) for d in diags]
    assert all(g.split(":", 1)[0].endswith(f"{fixture}.yml") for g in got)
    expected = (INVALID / f"{fixture}.expected").read_text().strip().splitlines()
    assert [g.split(":", 1)[1] for g in got] == expected
    with pytest.raises(cube.ModelError) as err:
        cube.load_model(INVALID / f"{fixture}.yml")
    assert err.value.diagnostics == got


def test_invalid_fixtures_report_several_errors_at_once():
    counts = [len(collect(p)[1]) for p in INVALID.glob("*.yml")]
    assert sum(1 for c in counts if c >= 3) >= 5


class _Console:
    def __init__(self):
        self.lines: list[str] = []

    def print(self, text, **_):
        self.lines.append(str(text))


def test_validate_cli_exit_codes(tmp_path):
    ok = _Console()
    assert validate_cli(MODELS, ok) == 0 and ok.lines[-1].startswith("ok:")
    (tmp_path / "a.yml").write_text((INVALID / "bad_refs.yml").read_text())
    bad = _Console()
    assert validate_cli(tmp_path, bad) == 1
    assert any("error[model.cyclic_ref]" in line and ":23:9:" in line for line in bad.lines)

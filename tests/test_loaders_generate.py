"""The synthetic generator: deterministic, every edge case present, and calibrated (scale 1,
seed 7) to calibration.yml after loading: counts per year and agency within 2%, shares close."""

from __future__ import annotations

import hashlib

import pyarrow.csv as pacsv
import pytest
import yaml

from crosstrack.engine import Engine
from crosstrack.loaders.generate import CALIBRATION, generate_extracts
from tests.fixtures_loaders import synthetic_scale1  # noqa: F401 - fixture

YEARS = list(range(2017, 2025))


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_generator_is_deterministic_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_extracts(a, seed=11, scale=0.05, years=YEARS)
    generate_extracts(b, seed=11, scale=0.05, years=YEARS)
    generate_extracts(c, seed=12, scale=0.05, years=YEARS)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def _read(folder, name):
    return pacsv.read_csv(folder / f"{name}.csv", convert_options=pacsv.ConvertOptions(
        strings_can_be_null=False, column_types={"charge_number": "int32"})).to_pylist()


def test_generator_writes_every_edge_case(synthetic_scale1):  # noqa: F811
    """Edge cases of R1-R12 appear in the raw files."""
    _, _, out = synthetic_scale1
    eps = _read(out, "custody_episodes")
    people = _read(out, "people")
    charges = _read(out, "charges")
    statuses = {e["custody_status"] for e in eps}
    assert {"CIVIL", "SAFE_KEEP", "FEDERAL", "COMPACT_IN", "COMPACT_OUT", "PRETRIAL", "SENTENCED"} <= statuses
    assert {"TRANSFER", "PAROLE_VIOLATION", "STATUS_CHANGE", "NEW"} <= {e["admission_type"] for e in eps}
    agencies = {e["agency"] for e in eps}
    assert "DUK" in agencies and "NAN" not in agencies  # R5
    assert any(str(e["release_date"]).endswith("-01-01") for e in eps)  # released on a snapshot date (R1)
    assert "H" in {p["race"] for p in people}  # R4
    assert "Y" in {c["governing"] for c in charges}  # R9 IMS flag
    dockets = {}
    for c in charges:
        dockets.setdefault((c["episode_id"], str(c["filing_date"])), set()).add(c["docket_number"])
    assert any(len(v) > 1 for v in dockets.values())  # dockets filed the same day (R9)


def _cal():
    return yaml.safe_load(CALIBRATION.read_text())


def test_calibration_counts_per_year_and_agency_within_2_percent(synthetic_scale1):  # noqa: F811
    """Loaded snapshot counts per year and agency (R5 merged) match calibration.yml within 2% at scale 1."""
    settings, version, _ = synthetic_scale1
    cal = _cal()
    county = cal["sheriffs"]["by_county"]
    code = {"BER": ["Berkshire"], "BRI": ["Bristol"], "CAI": ["Barnstable", "Dukes"], "ESS": ["Essex"],
            "HMD": ["Hampden"], "MID": ["Middlesex"], "NOR": ["Norfolk"], "NWT": ["Franklin", "Hampshire"],
            "PLY": ["Plymouth"], "SUF": ["Suffolk"], "WOR": ["Worcester"]}
    engine = Engine.from_settings(settings)
    got = {(y, a): n for y, a, n in engine.query(
        f"SELECT snapshot_year, agency, count() FROM `{version.database}`.custody_facts GROUP BY ALL").rows}
    for y in YEARS:
        want = {"DOC": cal["doc"]["custody_crosstracking_basis"][y]}
        want.update({c: sum(county[n][y] for n in names) for c, names in code.items()})
        for agency, n in want.items():
            assert abs(got[(y, agency)] - n) <= 0.02 * n, (y, agency, got[(y, agency)], n)


def test_calibration_shares_close_to_the_figures(synthetic_scale1):  # noqa: F811
    """Status, sex, race/ethnicity, age band, offense mix, length of stay and program shares are close."""
    settings, version, _ = synthetic_scale1
    cal = _cal()
    engine = Engine.from_settings(settings)
    db = f"`{version.database}`"

    def share(where: str, cond: str) -> float:
        return engine.scalar(f"SELECT countIf({cond}) / count() FROM {db}.custody_facts WHERE {where}")

    for y in (2017, 2022, 2024):
        sher = f"snapshot_year = {y} AND agency != 'DOC'"
        doc = f"snapshot_year = {y} AND agency = 'DOC'"
        assert share(sher, "offender_status = 'PRETRIAL'") == pytest.approx(cal["sheriffs"]["pretrial_share"][y], abs=0.05)
        assert share(sher, "assigned_sex = 'F'") == pytest.approx(cal["sheriffs"]["female_share"][y], abs=0.015)
        assert share(doc, "assigned_sex = 'F'") == pytest.approx(cal["doc"]["female_share"][y], abs=0.015)
        if y in (2017, 2022, 2024):
            for band, p in cal["doc"]["age_bands"][y].items():
                assert share(doc, f"age_group = '{band}'") == pytest.approx(p, abs=0.05), (y, band)
    doc22 = "snapshot_year = 2022 AND agency = 'DOC'"
    re_ = cal["doc"]["race_ethnicity_combined"]
    assert share(doc22, "ethnicity = 'H'") == pytest.approx(re_["hispanic"], abs=0.03)
    assert share(doc22, "race = 'B'") == pytest.approx(re_["black"] + re_["hispanic"] * 0.10, abs=0.03)
    # offense mix of DOC sentenced governing offenses, 2017 (other includes Public Order under R12)
    mix = cal["offense_mix"]["doc_2017"]
    s17 = "snapshot_year = 2017 AND agency = 'DOC' AND offender_status = 'SENTENCED'"
    for key, types in (("person", "'PERSON'"), ("drug", "'DRUG'"), ("property", "'PROPERTY'"),
                       ("weapon", "'WEAPONS'"), ("other", "'OTHER', 'PUBLIC_ORDER'")):
        assert share(s17, f"governing_offense_type IN ({types})") == pytest.approx(mix[key], abs=0.03), key
    # length of stay: medians in the calibrated range
    los = cal["length_of_stay_days"]
    med = engine.scalar(f"SELECT median(incarceration_days) FROM {db}.custody_facts WHERE agency = 'DOC' AND offender_status = 'SENTENCED'")
    assert 0.6 * los["doc_sentenced"]["approx_median"] <= med <= 1.4 * los["doc_sentenced"]["approx_median"]
    med = engine.scalar(f"SELECT median(incarceration_days) FROM {db}.custody_facts WHERE agency != 'DOC' AND offender_status = 'SENTENCED'")
    assert 0.7 * los["hoc_sentenced"]["median"] <= med <= 1.4 * los["hoc_sentenced"]["median"]
    # programs: share of people with at least one enrollment
    for key, where in (("doc_sentenced", "agency = 'DOC' AND offender_status = 'SENTENCED'"),
                       ("hoc_sentenced", "agency != 'DOC' AND offender_status = 'SENTENCED'"),
                       ("pretrial", "offender_status = 'PRETRIAL'")):
        assert share(where, "enrollments_total > 0") == pytest.approx(cal["programs"][key]["any"], abs=0.06), key


def test_large_scales_are_generated_in_chunks_that_load_cleanly(tmp_path, monkeypatch):
    """--scale beyond one chunk (100x must fit a 24 GiB machine): the chunks are deterministic,
    their ids never collide (unique ids are validated on load, R1 counts each person once) and
    the whole extract loads with no rejected row; the snapshot counts are the chunks' sum."""
    import crosstrack.loaders.generate as gen
    from crosstrack.loaders.publish import current_version
    from tests.fixtures_loaders import load, memory_settings

    monkeypatch.setattr(gen, "CHUNK_SCALE", 0.04)
    a, b = tmp_path / "a", tmp_path / "b"
    counts = generate_extracts(a, seed=5, scale=0.08, years=[2023, 2024])  # two chunks of 0.04
    assert generate_extracts(b, seed=5, scale=0.08, years=[2023, 2024]) == counts
    assert _digest(a) == _digest(b)
    people = [r["person_id"] for r in _read(a, "people")]
    episodes = [r["episode_id"] for r in _read(a, "custody_episodes")]
    assert len(people) == counts["people"] == len(set(people))
    assert len(episodes) == counts["custody_episodes"] == len(set(episodes))
    settings = memory_settings(tmp_path / "d", years=[2023, 2024])
    assert load(settings, a) == 0
    monkeypatch.setattr(gen, "CHUNK_SCALE", 10.0)
    one = generate_extracts(tmp_path / "one", seed=5, scale=0.04, years=[2023, 2024])
    assert one["people"] < counts["people"] < 3 * one["people"]
    version = current_version(Engine.from_settings(settings), settings)
    assert version.rejected_rows == 0 and version.row_counts["custody_facts"] > 0

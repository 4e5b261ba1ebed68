"""Extract validation: every bad input is rejected with file, row, column and rule; nothing is
published and the published version stays as it was (contracts.md "Published data")."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from crosstrack.engine import Engine
from crosstrack.loaders.publish import current_version
from tests.fixtures_loaders import charge, episode, load, memory_settings, person, program, write_extract

GOOD = dict(
    people=[person("SID000000001", dob="1980-06-15"), person("SID000000002", dob="1975-02-02", sex="F", gi="Female")],
    episodes=[episode("E1", "SID000000001", "2022-06-01"), episode("E2", "SID000000002", "2022-09-01", status="PRETRIAL")],
    charges=[charge("SID000000001", "E1", docket="2201CR123456"),
             charge("SID000000002", "E2", docket="2201CR654321", disp="PENDING", sentence="")],
    programs=[program("SID000000001", "2022-07-01")],
)
SECRETS = ("SID000000001", "SID000000002", "1980-06-15", "1975-02-02", "2201CR123456", "2201CR654321")


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A database with one good published version; returns (settings, version, good folder).

    Built once for the module: every rejected load must leave the published version as it was
    (``_rejected`` checks it, against the version current when the load starts), and the two
    tests whose loads publish compare with this first version, not with whatever is current."""
    base = tmp_path_factory.mktemp("rejects")
    settings = memory_settings(base / "data")
    good = write_extract(base / "good", **GOOD)
    assert load(settings, good) == 0
    return settings, current_version(Engine.from_settings(settings), settings), good


def _bad_copy(tmp_path: Path, good: Path) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(good, bad)
    return bad


def _set(folder: Path, name: str, row: int, column: str, value: str) -> None:
    path = folder / f"{name}.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    rows[row - 1][column] = value
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _rejected(settings, bad: Path, tmp_path: Path, expect_code: int = 1, **kw) -> list[dict]:
    report = tmp_path / "rejects.csv"
    before = current_version(Engine.from_settings(settings), settings)
    rc = load(settings, bad, rejects_report=report, **kw)
    assert rc == expect_code
    after = current_version(Engine.from_settings(settings), settings)
    assert after == before, "a rejected load changed the published version"
    text = report.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in text, "a rejects report must not name a person id, birth date or docket"
    return list(csv.DictReader(text.splitlines()))


def _has(rows, file, row, column, rule):
    return any(r["file"] == file and int(r["row"]) == row and r["column"] == column and r["code"].startswith("extract." + rule.replace(".", "_"))
               for r in rows)


@pytest.mark.parametrize("name,row,column,value,rule", [
    ("people", 1, "date_of_birth", "1980-02-30", "format.date"),
    ("people", 2, "date_of_birth", "15/06/1980", "format.date"),
    ("people", 1, "assigned_sex", "X", "code"),
    ("people", 1, "gender_identity", "male", "code"),
    ("people", 1, "person_id", "", "required"),
    ("custody_episodes", 1, "agency", "NAN", "R5.nantucket"),
    ("custody_episodes", 1, "custody_status", "PAROLE", "code"),
    ("custody_episodes", 1, "release_date", "2022-05-01", "order.release"),
    ("custody_episodes", 1, "security_level", "MAXIMUM", "consistency.security_level"),
    ("custody_episodes", 1, "person_id", "SID999999999", "reference.person"),
    ("custody_episodes", 1, "admission_date", "1970-01-01", "order.birth"),
    ("charges", 1, "charge_number", "0", "format.integer"),
    ("charges", 1, "episode_id", "E404", "reference.episode"),
    ("charges", 1, "person_id", "SID000000002", "reference.person"),
    ("charges", 1, "statute", "chapter 265", "format.statute"),
    ("charges", 2, "sentence", "INCARCERATION", "consistency.sentence"),
    ("charges", 1, "governing", "Y", "consistency.governing"),
    ("program_enrollments", 1, "psi_area", "GYM", "code"),
    ("program_enrollments", 1, "end_date", "2022-01-01", "order.end"),
    ("program_enrollments", 1, "person_id", "SID999999999", "reference.person"),
    ("people", 1, "race", "x" * 5000, "length"),
])
def test_bad_value_is_rejected_with_file_row_column_rule(published, tmp_path, name, row, column, value, rule):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    _set(bad, name, row, column, value)
    rows = _rejected(settings, bad, tmp_path)
    assert _has(rows, f"{name}.csv", row, column, rule), rows


def test_duplicate_ids_and_duplicate_rows(published, tmp_path):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    with (bad / "people.csv").open("a", encoding="utf-8") as f:
        f.write("SID000000001,1980-06-15,M,Male,W,N\n")          # exact duplicate of row 1
        f.write("SID000000002,1990-01-01,M,Male,W,N\n")          # same id, different person
    rows = _rejected(settings, bad, tmp_path)
    assert _has(rows, "people.csv", 3, "*", "duplicate.row")
    assert _has(rows, "people.csv", 2, "person_id", "unique") and _has(rows, "people.csv", 4, "person_id", "unique")
    # the rejected person's episode is rejected too, and says why
    assert _has(rows, "custody_episodes.csv", 2, "person_id", "reference.person")


def test_wrong_encoding_names_the_row(published, tmp_path):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    with (bad / "custody_episodes.csv").open("ab") as f:
        f.write("E9,SID000000001,OMS,SUF,Caf\u00e9 unit,HOC,,SENTENCED,NEW,2022-01-01,2022-02-01\n".encode("latin-1"))
    rows = _rejected(settings, bad, tmp_path)
    assert _has(rows, "custody_episodes.csv", 3, "facility", "encoding.utf8")


def test_truncated_file_is_rejected(published, tmp_path):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    with (bad / "charges.csv").open("a", encoding="utf-8") as f:
        f.write('SID000000001,E1,2201CR000777,2022-01-01,2,"265/1')  # cut off inside a quoted field
    rows = _rejected(settings, bad, tmp_path)
    assert _has(rows, "charges.csv", 3, "*", "format.csv")


def test_row_with_missing_fields_is_rejected(published, tmp_path):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    with (bad / "program_enrollments.csv").open("a", encoding="utf-8") as f:
        f.write("SID000000001,SUF,Bible Study\n")
    rows = _rejected(settings, bad, tmp_path)
    assert _has(rows, "program_enrollments.csv", 2, "*", "format.fields")


@pytest.mark.parametrize("header,rule", [
    ("person_id;date_of_birth;assigned_sex;gender_identity;race;ethnicity", "format.delimiter"),
    ("person_id,date_of_birth,assigned_sex,gender_identity,race", "columns.missing"),
    ("person_id,date_of_birth,assigned_sex,gender_identity,race,ethnicity,name", "columns.extra"),
])
def test_wrong_header_stops_the_load(published, tmp_path, header, rule):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    (bad / "people.csv").write_text(header + "\n", encoding="utf-8")
    rows = _rejected(settings, bad, tmp_path, expect_code=2)
    assert any(r["file"] == "people.csv" and r["code"] == "extract." + rule.replace(".", "_") for r in rows)


def test_missing_file_stops_the_load(published, tmp_path):
    settings, _, good = published
    bad = _bad_copy(tmp_path, good)
    (bad / "charges.csv").unlink()
    rows = _rejected(settings, bad, tmp_path, expect_code=2)
    assert any(r["file"] == "charges.csv" and r["code"] == "extract.files_missing" for r in rows)


def test_max_rejects_publishes_without_the_rejected_rows(published, tmp_path):
    """--max-rejects N: publish with up to N rejected rows left out (and listed in the report)."""
    settings, before, good = published
    bad = _bad_copy(tmp_path, good)
    _set(bad, "custody_episodes", 2, "custody_status", "PAROLE")
    report = tmp_path / "r.csv"
    # the episode and the charge held under it (which now points at a rejected row): 2 rows
    assert load(settings, bad, max_rejects=1, rejects_report=report) == 1
    assert load(settings, bad, max_rejects=2, rejects_report=report) == 0
    after = current_version(Engine.from_settings(settings), settings)
    assert after.version_number > before.version_number
    assert after.row_counts["custody_facts"] == before.row_counts["custody_facts"] - 1
    text = report.read_text()
    assert "custody_status" in text and "extract.reference_episode" in text


def test_parquet_extract_loads_like_csv(published, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    settings, before, good = published
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    for p in good.glob("*.csv"):
        t = pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
        pq.write_table(t, pq_dir / (p.stem + ".parquet"))
    assert load(settings, pq_dir) == 0
    after = current_version(Engine.from_settings(settings), settings)
    assert after.row_counts == before.row_counts

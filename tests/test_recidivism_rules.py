"""docs/recidivism.md RC1–RC12 on hand-made extracts: each rule has a person (or a group) whose
release facts or published answer it decides. Real loads on chDB; facts read straight from the
published version database, answers through ``api.service.Service`` (the one path every
surface uses)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from crosstrack.engine import Engine
from fixtures_loaders import charge, episode, load, memory_settings, person, program, write_extract
from crosstrack.loaders.extract import COLUMNS
from crosstrack.loaders.publish import current_version

YEARS = [2020, 2021, 2022, 2023]


def court(pid: str, docket: str, arr: str, disp: str = "CONVICTED", disp_date: str = "", no: int = 1) -> dict:
    return dict(person_id=pid, docket_number=docket, arraignment_date=arr, charge_number=str(no), statute="266/30",
                severity="M", disposition=disp, disposition_date=disp_date)


def write_court(folder: Path, rows: list[dict]) -> None:
    with (folder / "court_charges.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS["court_charges"])
        w.writeheader()
        w.writerows(rows)


def cases() -> tuple[list, list, list, list, list]:
    people = [person(p) for p in "ABCDFGHIJKLMZ"] + [person("E", dob="2003-01-01")]
    eps = [
        episode("ANC", "Z", "2015-01-01", agency="DOC", sec="MEDIUM"),  # in custody on every snapshot
        episode("LAST", "Z", "2024-06-30", status="PRETRIAL", agency="SUF"),  # the data's last date (RC8)
        # A: a parole violation on the last day of the one-year window (RC4, RC7)
        episode("A1", "A", "2019-06-01", "2020-03-10"),
        episode("A2", "A", "2021-03-09", "2021-05-01", agency="DOC", adm_type="PAROLE_VIOLATION", sec="MEDIUM"),
        # B: a new sentence on the first anniversary: not within one year, within two (RC7)
        episode("B1", "B", "2019-06-01", "2020-04-01"),
        episode("B2", "B", "2021-04-01", "2021-06-01"),
        # C: released and admitted elsewhere the next day: a transfer, one release from the DOC (RC2)
        episode("C1", "C", "2019-06-01", "2020-05-01"),
        episode("C2", "C", "2020-05-02", "2020-09-01", agency="DOC", adm_type="TRANSFER", sec="MINIMUM"),
        # D: released twice in 2020 (RC1)
        episode("D1", "D", "2019-06-01", "2020-02-01"),
        episode("D2", "D", "2020-03-01", "2020-06-01"),
        # E: 17 on the release date; F: civil; G: pretrial (RC3)
        episode("E1", "E", "2019-06-01", "2020-06-01"),
        episode("F1", "F", "2019-06-01", "2020-06-01", status="CIVIL", agency="DOC", system="IMS"),
        episode("G1", "G", "2019-06-01", "2020-06-01", status="PRETRIAL"),
        # H: released on January 1 (RC1: in custody on that snapshot, and in the 2021 cohort)
        episode("H1", "H", "2020-06-01", "2021-01-01"),
        # I: court events around the release (RC5, RC6)
        episode("I1", "I", "2019-06-01", "2020-07-01"),
        # J: released in 2022, followed one year only (RC8)
        episode("J1", "J", "2021-06-01", "2022-05-01"),
        # K: a pretrial hold after release is not reincarceration; the sentence that follows is (RC4)
        episode("K1", "K", "2019-06-01", "2020-08-01"),
        episode("K2", "K", "2020-10-01", "2020-12-01", status="PRETRIAL"),
        episode("K3", "K", "2020-12-01", "2021-03-01", adm_type="STATUS_CHANGE"),
        # L: a long DOC stay with programs and a governing offense (RC9, RC10, RC11)
        episode("L1", "L", "2018-01-01", "2020-09-30", agency="DOC", sec="PRE_RELEASE"),
        # M: a transfer the same day (RC2)
        episode("M1", "M", "2019-06-01", "2020-10-01"),
        episode("M2", "M", "2020-10-01", "2020-11-15", adm_type="TRANSFER", agency="MID"),
    ]
    charges = [charge("L", "L1", docket="1701CR000001", filing="2017-11-01", statute="266/30", sev="F"),
               charge("Z", "ANC", docket="1401CR000001", filing="2014-11-01", statute="265/1", sev="F")]
    programs = [program("L", "2019-01-01", psi="EDU", agency="DOC"),
                program("L", "2017-06-01", psi="BEH", agency="DOC")]
    courts = [
        court("I", "2001CR000001", "2020-06-15", disp_date="2020-08-01"),  # arraigned before release
        court("I", "2001CR000002", "2020-07-01", disp="DISMISSED", disp_date="2020-07-20"),  # on the release day
        court("I", "2101CR000003", "2021-01-10", disp_date="2022-02-01"),  # after: rearraigned, reconvicted in year 2
    ]
    return people, eps, charges, programs, courts


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rc")
    people, eps, charges, programs, courts = cases()
    folder = write_extract(tmp / "x", people=people, episodes=eps, charges=charges, programs=programs)
    write_court(folder, courts)
    settings = memory_settings(tmp, years=YEARS)
    assert load(settings, folder) == 0
    engine = Engine.from_settings(settings)
    db = current_version(engine, settings).database
    # the facts carry only hashes: tell the people apart by the HMAC key of their id
    from crosstrack.loaders.facts import person_keys
    keys, _ = person_keys(settings.secret_bytes(), list("ABCDEFGHIJKLMZ"))
    who = dict(zip((int(k) for k in keys), "ABCDEFGHIJKLMZ"))
    rows = engine.query(f"SELECT * FROM `{db}`.release_facts ORDER BY release_year, stay_days").dicts()
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(who[int(r["person_key"])], []).append(r)
    return out


def test_RC1_one_row_per_release_twice_in_a_year_and_release_on_january_1(facts):
    assert len(facts["D"]) == 2 and {r["release_year"] for r in facts["D"]} == {2020}
    assert [r["release_year"] for r in facts["H"]] == [2021]
    assert "Z" not in facts  # still in custody


def test_RC2_a_release_followed_within_a_day_by_an_admission_is_a_transfer(facts):
    assert [(r["agency"], r["security_level"]) for r in facts["C"]] == [("DOC", "MINIMUM")]
    assert [r["agency"] for r in facts["M"]] == ["MID"]


def test_RC3_juveniles_civil_and_pretrial_releases_are_not_in_a_cohort(facts):
    assert "E" not in facts and "F" not in facts and "G" not in facts
    assert facts["A"][0]["age_group"] == "30-39"


def test_RC4_parole_violation_and_new_sentence_count_pretrial_hold_does_not(facts):
    assert facts["A"][0]["reincarcerated_1y"] == 1 and facts["A"][0]["days_to_reincarceration"] == 365
    k = facts["K"][0]
    # the pretrial hold (2020-10-01) is not the event; the sentence that followed it (2020-12-01) is
    assert k["days_to_reincarceration"] == 123 and k["reincarcerated_1y"] == 1
    d1 = min(facts["D"], key=lambda r: r["stay_days"] if r["stay_days"] > 100 else 10**6)
    assert d1["reincarcerated_1y"] == 1


def test_RC5_RC6_rearraignment_after_the_release_day_and_reconviction_at_disposition(facts):
    i = facts["I"][0]
    # the charge arraigned before release and the one arraigned on the release day do not count
    assert i["days_to_rearraignment"] == 194 and i["rearraigned_1y"] == 1
    # convicted 2022-02-01: after the first anniversary (2021-07-01), within two years
    assert i["days_to_reconviction"] == 581
    assert i["reconvicted_1y"] == 0 and i["reconvicted_2y"] == 1 and i["reconvicted_3y"] == 1


def test_RC7_last_day_of_a_window_counts_the_anniversary_does_not(facts):
    b = facts["B"][0]
    assert b["reincarcerated_1y"] == 0 and b["reincarcerated_2y"] == 1
    assert facts["A"][0]["reincarcerated_1y"] == 1


def test_RC8_windows_not_yet_passed_are_null_not_zero(facts):
    j = facts["J"][0]
    assert (j["followed_1y"], j["followed_2y"], j["followed_3y"]) == (1, 0, 0)
    assert j["reincarcerated_1y"] == 0 and j["reincarcerated_2y"] is None and j["reincarcerated_3y"] is None
    h = facts["H"][0]  # the 2021 cohort: two years have passed by 2024-06-30, three have not
    assert (h["followed_2y"], h["followed_3y"]) == (1, 0) and h["rearraigned_3y"] is None


def test_RC9_RC10_RC11_stay_offense_and_programs_during_the_stay(facts):
    (l,) = facts["L"]
    assert l["stay_days"] == 1004 and l["stay_band"] == "2-5Y"
    assert (l["governing_offense_type"], l["governing_offense_severity"]) == ("PROPERTY", "F")
    assert (l["program_any"], l["program_edu"], l["program_beh"]) == ("Y", "Y", "N")
    assert facts["B"][0]["program_any"] == "N" and facts["B"][0]["governing_offense_type"] == "NOT_APPLICABLE"


def test_release_facts_hold_no_date_or_identifier_column(facts):
    from crosstrack.loaders.schema import RELEASE_FACTS
    assert not [c for c, t in RELEASE_FACTS.items() if "Date" in t or c in ("person_id", "docket_number")]


# --- RC12 on groups big enough to publish ---------------------------------------------------------
def _group(prefix: str, agency: str, n: int, with_event: int) -> tuple[list, list]:
    ppl, eps = [], []
    for i in range(n):
        pid = f"{prefix}{i:02d}"
        ppl.append(person(pid))
        eps.append(episode(f"{pid}a", pid, "2019-06-01", "2020-03-01", agency=agency))
        if i < with_event:  # still held: no second release to dilute the group
            eps.append(episode(f"{pid}b", pid, "2020-09-01", agency=agency))
    return ppl, eps


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service

    tmp = tmp_path_factory.mktemp("rc12")
    people, eps = [person("Z")], [episode("ANC", "Z", "2015-01-01", agency="DOC"),
                                  episode("LAST", "Z", "2024-06-30", status="PRETRIAL")]
    for prefix, agency, n, ev in (("H", "SUF", 20, 6), ("N", "WOR", 7, 0), ("L", "ESS", 8, 8), ("F", "MID", 10, 3),
                                  ("S", "PLY", 3, 1), ("E", "NOR", 14, 6)):
        p, e = _group(prefix, agency, n, ev)
        people += p
        eps += e
    folder = write_extract(tmp / "x", people=people, episodes=eps)  # version 1: no court_charges
    settings = memory_settings(tmp, years=YEARS)
    assert load(settings, folder) == 0
    return build_service(settings, cache=ResultCache(0))


MEASURES = "people,released,followed_1y,reincarcerated_1y,reincarceration_rate_1y"


def _by_agency(service) -> dict[str, dict]:
    r = service.answer("recidivism", {"dimensions": "agency", "release_year": "2020", "measures": MEASURES})
    return {row["agency"]: row for row in r.rows}


def test_RC12_event_counts_need_k_with_and_k_without_the_event(service):
    rows = _by_agency(service)
    suf = rows["SUF"]  # 6 of 20: k had it, k + 2 x the noise (11) did not
    assert not suf["suppressed"] and suf["reincarcerated_1y"] is not None
    assert suf["reincarcerated_1y"] < suf["followed_1y"]
    # none of 7, all of 8, 3 of 10, and 6 of 14 (only 8 did not: the published count could reach the cohort)
    for agency in ("WOR", "ESS", "MID", "NOR"):
        row = rows[agency]
        assert not row["suppressed"] and row["people"] is not None and row["released"] is not None
        assert row["reincarcerated_1y"] is None and row["reincarceration_rate_1y"] is None, row
    assert rows["PLY"]["suppressed"] and rows["PLY"]["released"] is None  # P1: 3 people


def test_RC12_rate_is_computed_from_the_published_counts_only(service):
    rows = _by_agency(service)
    suf = rows["SUF"]
    assert suf["reincarceration_rate_1y"] == round(100 * suf["reincarcerated_1y"] / suf["followed_1y"], 1)
    alone = service.answer("recidivism", {"agency": "SUF", "release_year": "2020",
                                          "measures": "reincarceration_rate_1y"}).rows[0]
    assert alone["reincarceration_rate_1y"] == suf["reincarceration_rate_1y"]  # same counts, same rate (K3)
    assert not [c for c in alone if c.startswith("\0") or c.endswith("_key")]  # hidden counts never leave


def test_RC12_several_codes_add_published_cells_and_withhold_when_any_part_is(service):
    both = service.answer("recidivism", {"agency": "SUF,ESS", "release_year": "2020", "measures": MEASURES}).rows[0]
    rows = _by_agency(service)
    assert both["released"] == rows["SUF"]["released"] + rows["ESS"]["released"]
    assert both["reincarcerated_1y"] is None and both["reincarceration_rate_1y"] is None


def test_RC8_court_measures_of_a_version_1_extract_are_unavailable_not_zero(service):
    from crosstrack.api.app import describe_dataset

    ds, version = service.dataset("recidivism"), service.version()
    meta = describe_dataset(service, ds, version, service.extra_codes(ds, version))
    assert "rearraigned_1y" in meta["unavailable_measures"] and "reconviction_rate_3y" in meta["unavailable_measures"]
    entry = next(m for m in meta["measures"] if m["name"] == "rearraigned_1y")
    assert entry["available"] is False and "court_charges" in entry["unavailable_because"]
    assert "reincarcerated_1y" not in meta["unavailable_measures"]
    row = service.answer("recidivism", {"agency": "SUF", "release_year": "2020",
                                        "measures": "released,rearraigned_1y,rearraignment_rate_1y"}).rows[0]
    assert row["released"] is not None and row["rearraigned_1y"] is None and row["rearraignment_rate_1y"] is None


def test_court_charges_rejects_name_file_row_column_and_rule_never_a_value(tmp_path):
    people, eps, charges, programs, courts = cases()
    folder = write_extract(tmp_path / "x", people=people, episodes=eps, charges=charges, programs=programs)
    bad = [court("I", "2001CR000009", "2021-01-10", disp_date="2020-01-01"),       # disposed before arraigned
           court("NOBODY", "2001CR000010", "2021-01-10", disp_date="2021-02-01"),   # not in people
           court("I", "2001CR000011", "2021-13-10"),                                # not a date
           court("I", "2001CR000012", "2021-01-10", disp="PENDING", disp_date="2021-02-01")]
    write_court(folder, courts + bad)
    settings = memory_settings(tmp_path, years=YEARS)
    report = tmp_path / "rejects.csv"
    before = current_version(Engine.from_settings(settings), settings)
    assert load(settings, folder, rejects_report=report) == 1
    assert current_version(Engine.from_settings(settings), settings) == before  # nothing published
    got = {(r["file"], r["row"], r["column"], r["code"]) for r in csv.DictReader(report.open())}
    assert ("court_charges.csv", "4", "disposition_date", "extract.order_disposition") in got
    assert ("court_charges.csv", "5", "person_id", "extract.reference_person") in got
    assert ("court_charges.csv", "6", "arraignment_date", "extract.format_date") in got
    assert ("court_charges.csv", "7", "disposition_date", "extract.consistency_disposition_date") in got
    text = report.read_text()
    assert "NOBODY" not in text and "2001CR" not in text and "2021-13-10" not in text

"""R1-R12 on hand-written extracts, each loaded through the real pipeline into chDB."""

from __future__ import annotations

from tests.fixtures_loaders import charge, episode, key_of, load_facts, person, program

S = "2023-01-01"


def _one(rows, pid):
    hits = [r for r in rows if r["person_key"] == key_of(pid)]
    return hits


def test_r1_in_custody_admitted_on_or_before_s_and_not_released_before_s(tmp_path):
    """R1: released exactly on S counts; released the day before, or admitted the day after, does not."""
    people = [person(p) for p in ("P1", "P2", "P3", "P4", "P5")]
    episodes = [
        episode("E1", "P1", "2022-06-01", "2023-01-01"),   # released on S: in custody
        episode("E2", "P2", "2022-06-01", "2022-12-31"),   # released before S
        episode("E3", "P3", "2023-01-02"),                  # admitted after S
        episode("E4", "P4", "2023-01-01"),                  # admitted on S
        episode("E5", "P5", "2020-01-01"),                  # still in custody
    ]
    rows = load_facts(tmp_path, people=people, episodes=episodes)
    assert len(_one(rows, "P1")) == 1
    assert _one(rows, "P2") == [] and _one(rows, "P3") == []
    assert _one(rows, "P4")[0]["incarceration_days"] == 1
    assert len(rows) == 3


def test_r1_one_row_per_person_per_snapshot_over_several_years(tmp_path):
    """R1: a long stay is counted on every January 1 it spans, once each."""
    rows = load_facts(tmp_path, years=[2021, 2022, 2023], people=[person("P1")],
                      episodes=[episode("E1", "P1", "2020-03-01")])
    assert [r["snapshot_year"] for r in rows] == [2021, 2022, 2023]


def test_r2_exclusions_civil_safe_keep_federal_compact_juvenile(tmp_path):
    """R2: civil, safe keep, federal, compact in/out and under-18 placements are not counted."""
    statuses = ["CIVIL", "SAFE_KEEP", "FEDERAL", "COMPACT_IN", "COMPACT_OUT"]
    people = [person(f"X{i}") for i in range(len(statuses))] + [person("J1", dob="2005-06-01"), person("OK")]
    episodes = [episode(f"E{i}", f"X{i}", "2022-10-01", status=s, agency="DOC" if s.startswith("COMPACT") or s == "CIVIL" else "SUF",
                        ftype="PRISON" if s.startswith("COMPACT") or s == "CIVIL" else "JAIL")
                for i, s in enumerate(statuses)]
    episodes += [episode("EJ", "J1", "2022-10-01", status="PRETRIAL"), episode("EOK", "OK", "2022-10-01")]
    rows = load_facts(tmp_path, people=people, episodes=episodes)
    assert [r["person_key"] for r in rows] == [key_of("OK")]


def test_r2_juvenile_turning_18_is_counted_from_the_snapshot_after(tmp_path):
    """R2/R3: 17 on one January 1 (excluded), 18 on the next (counted); an 18th birthday on S counts."""
    rows = load_facts(tmp_path, years=[2022, 2023],
                      people=[person("J1", dob="2004-07-01"), person("J2", dob="2005-01-01"), person("A1")],
                      episodes=[episode("E1", "J1", "2021-11-01", status="PRETRIAL"),
                                episode("E2", "J2", "2021-11-01", status="PRETRIAL"),
                                episode("E3", "A1", "2021-11-01")])  # every snapshot must have someone
    assert [(r["snapshot_year"], r["age_group"]) for r in _one(rows, "J1")] == [(2023, "18-24")]
    assert [r["snapshot_year"] for r in _one(rows, "J2")] == [2023]


def test_r2_pretrial_people_are_not_in_charge_facts(tmp_path):
    """R2: the charges-and-convictions view holds sentenced people only."""
    rows = load_facts(tmp_path, table="charge_facts", people=[person("P1"), person("P2")],
                      episodes=[episode("E1", "P1", "2022-10-01", status="PRETRIAL"), episode("E2", "P2", "2022-10-01")],
                      charges=[charge("P1", "E1", disp="PENDING", sentence=""), charge("P2", "E2", no=1),
                               charge("P2", "E2", no=2, disp="DISMISSED", sentence="")])
    assert {r["person_key"] for r in rows} == {key_of("P2")}
    assert sorted((r["disposition"], r["convicted"]) for r in rows) == [("CONVICTED", 1), ("DISMISSED", 0)]


def test_r3_age_groups_at_the_boundaries(tmp_path):
    """R3: age on S decides the group; 24 -> 18-24, 25 -> 25-29 (birthday on S counts), 60 -> 60+."""
    dobs = {"A": "1998-01-02", "B": "1998-01-01", "C": "1963-01-01", "D": "1963-01-02", "E": "1990-05-05"}
    rows = load_facts(tmp_path, people=[person(p, dob=d) for p, d in dobs.items()],
                      episodes=[episode(f"E{p}", p, "2022-12-01") for p in dobs])
    got = {p: _one(rows, p)[0]["age_group"] for p in dobs}
    assert got == {"A": "18-24", "B": "25-29", "C": "60+", "D": "50-59", "E": "30-39"}


def test_r4_hispanic_as_a_race_becomes_other_unknown(tmp_path):
    """R4: race H/O/U/empty -> OU, AS and PI -> API; ethnicity empty -> U (Unavailable)."""
    races = {"A": "H", "B": "AS", "C": "PI", "D": "", "E": "B", "F": "AI", "G": "W", "H": "U"}
    rows = load_facts(tmp_path, people=[person(p, race=r, eth="" if p == "D" else "H") for p, r in races.items()],
                      episodes=[episode(f"E{p}", p, "2022-12-01") for p in races])
    got = {p: (_one(rows, p)[0]["race"], _one(rows, p)[0]["ethnicity"]) for p in races}
    assert got == {"A": ("OU", "H"), "B": ("API", "H"), "C": ("API", "H"), "D": ("OU", "U"), "E": ("B", "H"),
                   "F": ("AI", "H"), "G": ("W", "H"), "H": ("OU", "H")}


def test_r5_cape_and_islands_and_northwestern(tmp_path):
    """R5: Barnstable + Dukes -> CAI, Franklin + Hampshire -> NWT, others keep their code."""
    ags = {"A": "BAR", "B": "DUK", "C": "FRA", "D": "HMP", "E": "HMD", "F": "DOC"}
    rows = load_facts(tmp_path, people=[person(p) for p in ags],
                      episodes=[episode(f"E{p}", p, "2022-12-01", agency=a) for p, a in ags.items()])
    got = {p: _one(rows, p)[0]["agency"] for p in ags}
    assert got == {"A": "CAI", "B": "CAI", "C": "NWT", "D": "NWT", "E": "HMD", "F": "DOC"}


def test_r6_faq_example_admitted_dec_30_is_3_days(tmp_path):
    """R6: admitted December 30, snapshot January 1 -> 3 days (both ends counted)."""
    rows = load_facts(tmp_path, people=[person("P1")], episodes=[episode("E1", "P1", "2022-12-30")])
    assert rows[0]["incarceration_days"] == 3


def test_r6_transfer_counts_only_the_newest_facility(tmp_path):
    """R6: after a transfer only the time since admission to the most recent facility counts."""
    rows = load_facts(tmp_path, people=[person("P1")],
                      episodes=[episode("E1", "P1", "2022-01-01", "2022-12-01", agency="SUF"),
                                episode("E2", "P1", "2022-12-01", agency="MID", adm_type="TRANSFER")])
    assert len(rows) == 1 and rows[0]["agency"] == "MID" and rows[0]["incarceration_days"] == 32


def test_r6_transfer_on_the_snapshot_day_counts_once_at_the_new_agency(tmp_path):
    """R1/R6: released from one agency and admitted to the next on S itself: one row, 1 day, new agency."""
    rows = load_facts(tmp_path, people=[person("P1")],
                      episodes=[episode("E1", "P1", "2022-01-01", S, agency="SUF"),
                                episode("E2", "P1", S, agency="DOC", adm_type="TRANSFER")])
    assert [(r["agency"], r["incarceration_days"]) for r in rows] == [("DOC", 1)]


def test_r6_sentenced_time_excludes_pretrial_jail_credit(tmp_path):
    """R6: a pretrial stay that becomes a sentence counts only from the sentenced placement."""
    rows = load_facts(tmp_path, people=[person("P1")],
                      episodes=[episode("E1", "P1", "2022-03-01", "2022-11-01", status="PRETRIAL"),
                                episode("E2", "P1", "2022-11-01", adm_type="STATUS_CHANGE")])
    assert [(r["offender_status"], r["incarceration_days"]) for r in rows] == [("SENTENCED", 62)]


def test_r6_parole_violator_counts_from_the_violation_admission(tmp_path):
    """R6: parole violators count only the time since the parole-violation admission."""
    rows = load_facts(tmp_path, people=[person("P1")],
                      episodes=[episode("E1", "P1", "2015-01-01", "2021-05-01", agency="DOC"),
                                episode("E2", "P1", "2022-12-22", agency="DOC", adm_type="PAROLE_VIOLATION")])
    assert [r["incarceration_days"] for r in rows] == [11]


def test_r7_median_of_an_even_count_is_the_mean_of_the_two_middle_values(tmp_path):
    """R7: the facts carry exact days, so quantileExactInclusive(0.5) gives the FAQ's median."""
    from crosstrack.engine import Engine
    from crosstrack.loaders.publish import current_version
    from tests.fixtures_loaders import load, memory_settings, write_extract
    settings = memory_settings(tmp_path / "d")
    adms = ["2022-12-30", "2022-12-29", "2022-12-20", "2022-12-01"]  # 3, 4, 13, 32 days
    folder = write_extract(tmp_path / "x", people=[person(f"P{i}") for i in range(4)],
                           episodes=[episode(f"E{i}", f"P{i}", a) for i, a in enumerate(adms)])
    assert load(settings, folder) == 0
    engine = Engine.from_settings(settings)
    db = current_version(engine, settings).database
    med = engine.scalar(f"SELECT quantileExactInclusive(0.5)(incarceration_days) FROM `{db}`.custody_facts")
    assert med == 8.5


def test_r8_programs_since_admission_current_or_completed(tmp_path):
    """R8: enrollments that started between the latest admission and S count, per PSI area; people with none count zero."""
    rows = load_facts(tmp_path, people=[person("P1"), person("P2")],
                      episodes=[episode("E1", "P1", "2022-06-01"), episode("E2", "P2", "2022-06-01")],
                      programs=[program("P1", "2022-06-01", psi="EDU"),
                                program("P1", "2022-07-01", psi="WORK", end="2022-09-01", status="COMPLETED"),
                                program("P1", "2023-01-01", psi="BEH"),             # on S: counts
                                program("P1", "2023-01-02", psi="BEH"),             # after S
                                program("P1", "2022-05-31", psi="RELIG", end="2022-06-30", status="COMPLETED"),  # before admission
                                ])
    p1, p2 = _one(rows, "P1")[0], _one(rows, "P2")[0]
    assert (p1["enrollments_total"], p1["enrollments_edu"], p1["enrollments_work"], p1["enrollments_beh"],
            p1["enrollments_relig"]) == (3, 1, 1, 1, 0)
    assert p2["enrollments_total"] == 0


def test_r8_programs_before_a_transfer_do_not_count(tmp_path):
    """R8: the window starts at the most recent admission, so a transfer resets it."""
    rows = load_facts(tmp_path, people=[person("P1")],
                      episodes=[episode("E1", "P1", "2022-01-01", "2022-10-01", agency="SUF"),
                                episode("E2", "P1", "2022-10-01", agency="MID", adm_type="TRANSFER")],
                      programs=[program("P1", "2022-03-01"), program("P1", "2022-11-01", agency="MID")])
    assert rows[0]["enrollments_total"] == 1


def test_r9_ims_flag_wins_over_docket_order(tmp_path):
    """R9: in IMS the DOC's governing flag decides, even when an earlier charge was also incarcerated."""
    rows = load_facts(tmp_path, people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01", agency="DOC")],
                      charges=[charge("P1", "E1", docket="2101CR000001", filing="2021-01-01", statute="266/30A", gov="N"),
                               charge("P1", "E1", docket="2101CR000002", filing="2021-03-01", statute="265/1",
                                     sev="F", gov="Y")])
    r = rows[0]
    assert (r["governing_offense_type"], r["governing_offense_subtype"], r["governing_offense_severity"]) == \
        ("PERSON", "MURDER_MANSLAUGHTER", "F")
    assert r["leading_charge_type"] == "NOT_APPLICABLE"


def test_r9_first_incarceration_charge_by_filing_date_then_docket_then_charge_number(tmp_path):
    """R9 without a flag: earliest filing date, then lowest docket number (same-day dockets), then lowest charge number;
    charges not sentenced to incarceration are skipped."""
    c = [
        charge("P1", "E1", docket="2201CR000009", filing="2022-02-01", no=1, statute="266/30A", sentence="PROBATION"),
        charge("P1", "E1", docket="2201CR000009", filing="2022-02-01", no=3, statute="269/10(a)", sev="F"),
        charge("P1", "E1", docket="2201CR000009", filing="2022-02-01", no=2, statute="266/14", sev="F"),
        charge("P1", "E1", docket="2201CR000005", filing="2022-02-01", no=4, statute="272/53", disp="DISMISSED", sentence=""),
        charge("P1", "E1", docket="2201CR000001", filing="2022-03-01", no=1, statute="265/1", sev="F"),
    ]
    rows = load_facts(tmp_path, people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")], charges=c)
    assert (rows[0]["governing_offense_type"], rows[0]["governing_offense_subtype"]) == ("PROPERTY", "BNE_BURGLARY")


def test_r10_leading_charge_is_the_first_felony(tmp_path):
    """R10: pretrial leading charge = first felony in docket order, even after misdemeanours."""
    c = [charge("P1", "E1", docket="2201CR000001", filing="2022-01-01", no=1, statute="266/30A", disp="PENDING", sentence=""),
         charge("P1", "E1", docket="2201CR000001", filing="2022-01-01", no=2, statute="269/10(a)", sev="F", disp="PENDING", sentence=""),
         charge("P1", "E1", docket="2201CR000002", filing="2022-01-01", no=1, statute="265/1", sev="F", disp="PENDING", sentence="")]
    rows = load_facts(tmp_path, people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01", status="PRETRIAL")], charges=c)
    r = rows[0]
    assert (r["leading_charge_type"], r["leading_charge_subtype"], r["leading_charge_severity"]) == ("WEAPONS", "FIREARM", "F")
    assert r["governing_offense_type"] == "NOT_APPLICABLE"


def test_r10_no_felony_gives_the_first_misdemeanour(tmp_path):
    """R10: a pretrial person with no felony gets the first misdemeanour."""
    c = [charge("P1", "E1", docket="2201CR000002", filing="2022-01-01", statute="209A/7", disp="PENDING", sentence=""),
         charge("P1", "E1", docket="2201CR000001", filing="2022-01-01", statute="266/120", disp="PENDING", sentence="")]
    rows = load_facts(tmp_path, people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01", status="PRETRIAL")], charges=c)
    assert (rows[0]["leading_charge_subtype"], rows[0]["leading_charge_severity"]) == ("TRESPASSING", "M")


def test_r11_severity_comes_from_the_charge(tmp_path):
    """R11: felony/misdemeanour as graded on the charge (a third OUI is a felony under the same statute)."""
    c = [charge("P1", "E1", no=1, statute="90/24(1)(a)(1)", sev="F"), charge("P1", "E1", no=2, statute="90/24(1)(a)(1)", sev="M")]
    rows = load_facts(tmp_path, table="charge_facts", people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")], charges=c)
    assert sorted(r["severity"] for r in rows) == ["F", "M"]
    assert {r["offense_subtype"] for r in rows} == {"MV_OUI"}


def test_r12_offense_types_from_the_reference_table_and_the_chapter(tmp_path):
    """R12: listed statutes take their sub-type's type (Forgery -> Property, 265/13½ -> Motor Vehicle);
    unlisted ones take their chapter's type and its Other sub-type; CMR/MUNI -> Other."""
    statutes = {"267/1": ("PROPERTY", "FORGERY"), "265/13½": ("MOTOR_VEHICLE", "MV_HOMICIDE"),
                "268/32B": ("PUBLIC_ORDER", "PUBLIC_ORDER"), "272/99": ("PUBLIC_ORDER", "PUBLIC_ORDER"),
                "265/99Z": ("PERSON", "OTHER_PERSON"), "94C/99": ("DRUG", "OTHER_DRUG"),
                "90/99": ("MOTOR_VEHICLE", "MOTOR_VEHICLE_OTHER"), "269/99": ("WEAPONS", "OTHER_WEAPON"),
                "266/126A": ("PROPERTY", "OTHER_PROPERTY"), "CMR/501-18.00": ("OTHER", "OTHER"),
                "MUNI/BOS-1": ("OTHER", "OTHER"), "112/65": ("OTHER", "LICENSE_VIOLATION"),
                "94G/13": ("DRUG", "POSSESS_MARIJUANA")}
    c = [charge("P1", "E1", no=i + 1, statute=s) for i, s in enumerate(statutes)]
    rows = load_facts(tmp_path, table="charge_facts", people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")], charges=c)
    assert sorted((r["offense_type"], r["offense_subtype"]) for r in rows) == sorted(statutes.values())


def test_r12_reference_table_covers_every_sub_type_and_agrees_with_the_schema():
    """R12: every sub-type has a statute; each statute's type is its sub-type's type."""
    from crosstrack.loaders.schema import OFFENSE_SUBTYPES
    from crosstrack.loaders.statutes import load_statutes
    table = load_statutes()
    assert {s.offense_subtype for s in table.values()} == set(OFFENSE_SUBTYPES) - {"NOT_APPLICABLE"}
    for s in table.values():
        assert OFFENSE_SUBTYPES[s.offense_subtype][1] == s.offense_type


def test_no_person_id_in_facts(tmp_path):
    """P3: facts hold HMAC keys, not ids, birth dates or dockets."""
    rows = load_facts(tmp_path, table="charge_facts", people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")],
                      charges=[charge("P1", "E1")])
    text = repr(rows)
    assert "P1" not in text and "1980-06-15" not in text and "2201CR" not in text
    assert rows[0]["person_key"] == key_of("P1")

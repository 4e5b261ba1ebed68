"""Release-cohort facts (docs/recidivism.md, RC1-RC12), in ClickHouse SQL, in the same publish.

Built from the typed staging tables by ``loaders.facts.build_facts``'s ``before_sync`` hook (the
person keys and the statute types are there by then; on a cluster every fact table, this one
included, is synced once after the last insert) into ``<target>.release_facts`` of the version being built, so
the cohort is published, or not, together with the snapshot facts (one load_history row). One
row per release (RC1); every date becomes a day count or a flag here, and no id leaves the
staging database but the keyed hashes (P3).
"""

from __future__ import annotations

from sqlglot import exp

from crosstrack.config import Settings
from crosstrack.engine import DIALECT, Engine
from crosstrack.loaders.charge_order import charge_key, charge_key_felony, charge_key_tc
from crosstrack.loaders.cluster import Layout
from crosstrack.loaders.mappings import age_group
from crosstrack.loaders.schema import RECIDIVISM_EVENTS, RECIDIVISM_WINDOWS, RELEASE_FACTS
from crosstrack.sql import qi

# K7: each release carries its own key (a hash of the person's secret-keyed hashes and the
# release's own dates), so release and event counts are perturbed from what they count and the
# same extract loaded again gets the same keys (K3).
RELEASE_KEY = "toUInt32(sipHash64(r.person_key, r.record_key, 'release', r.adm, r.rel) % 4294967296)"
REINCARCERATING = ("NEW", "STATUS_CHANGE", "PAROLE_VIOLATION")  # RC4 admission types


def build_release_facts(engine: Engine, settings: Settings, stage: str, target: str,
                        court_present: bool) -> dict[str, object]:
    s, t = qi(stage), qi(target)
    layout = Layout.for_settings(settings)
    first_year = min(settings.snapshot_years)
    # RC8: the data's last date is the latest date the extract holds; a window is published only
    # for cohorts whose window has fully passed by it
    last = engine.scalar(
        f"SELECT toString(greatest((SELECT max(adm) FROM {s}.t_episodes), "
        f"(SELECT ifNull(max(rel), toDate32('1900-01-01')) FROM {s}.t_episodes), "
        f"(SELECT ifNull(max(arr), toDate32('1900-01-01')) FROM {s}.t_court), "
        f"(SELECT ifNull(max(disp), toDate32('1900-01-01')) FROM {s}.t_court)))")
    last_date = f"toDate32('{str(last)[:10]}')"  # a date the engine computed, not an extract value

    # RC1-RC3: sentenced placements released in a cohort year; RC2: a release followed by an
    # admission of the same person on the release day or the next is a transfer, not a release
    engine.command(
        f"CREATE TABLE {s}.transfers ENGINE = Memory AS SELECT DISTINCT a.eid AS eid FROM {s}.t_episodes AS a "
        f"INNER JOIN {s}.t_episodes AS b ON b.pid = a.pid "
        f"WHERE a.rel IS NOT NULL AND b.eid != a.eid AND b.adm >= assumeNotNull(a.rel) "
        f"AND b.adm <= assumeNotNull(a.rel) + 1")
    engine.command(
        f"CREATE TABLE {s}.rels ENGINE = Memory AS SELECT e.eid AS eid, e.pid AS pid, e.adm AS adm, "
        f"assumeNotNull(e.rel) AS rel, toUInt16(toYear(rel)) AS release_year, e.agency5 AS agency, "
        f"e.facility_type AS facility_type, e.security AS security_level, k.person_key AS person_key, "
        f"k.record_key AS record_key, p.sex AS assigned_sex, p.gi AS gender_identity, p.race5 AS race, "
        f"p.eth3 AS ethnicity, "
        # RC3: age in whole years on the release date (501 CMR 18.03 "Age of Offender Exiting Custody")
        f"toInt32(toYear(rel)) - toInt32(toYear(p.dob)) - toInt32((toMonth(rel), toDayOfMonth(rel)) < "
        f"(toMonth(p.dob), toDayOfMonth(p.dob))) AS age "
        f"FROM {s}.t_episodes AS e INNER JOIN {s}.t_people AS p ON p.pid = e.pid "
        f"INNER JOIN {s}.keys AS k ON k.pid = e.pid "
        f"WHERE e.rel IS NOT NULL AND e.status = 'SENTENCED' AND toYear(assumeNotNull(e.rel)) >= {int(first_year)} "
        f"AND e.eid NOT IN (SELECT eid FROM {s}.transfers) AND age >= 18")
    counts = engine.query(f"SELECT count(), (SELECT count() FROM {s}.transfers) FROM {s}.rels").rows[0]

    # RC4: the first later sentenced admission (new, from pretrial, or a parole violation) to the
    # DOC or any Sheriff's Office; a transfer is the same stay, so it is not one
    types = "[" + ", ".join(f"'{x}'" for x in REINCARCERATING) + "]"
    engine.command(
        f"CREATE TABLE {s}.reinc ENGINE = Memory AS SELECT r.eid AS eid, min(b.adm) AS at FROM {s}.rels AS r "
        f"INNER JOIN {s}.t_episodes AS b ON b.pid = r.pid "
        f"WHERE b.adm > r.rel AND b.status = 'SENTENCED' AND has({types}, b.admission_type) GROUP BY r.eid")
    # RC5: the first Trial Court arraignment after the release day; RC6: the first conviction on a
    # charge arraigned after the release day, at its disposition date
    engine.command(
        f"CREATE TABLE {s}.court_ev ENGINE = Memory AS SELECT r.eid AS eid, min(c.arr) AS arraigned, "
        f"minIf(assumeNotNull(c.disp), c.convicted = 1 AND c.disp IS NOT NULL) AS convicted_at, "
        f"countIf(c.convicted = 1 AND c.disp IS NOT NULL) AS n_conv "
        f"FROM {s}.rels AS r INNER JOIN {s}.t_court AS c ON c.pid = r.pid WHERE c.arr > r.rel GROUP BY r.eid")

    # RC11: program participation during the stay (R8: enrollments that started between the
    # placement's admission and its release), yes/no per PSI area
    engine.command(
        f"CREATE TABLE {s}.rel_prog ENGINE = Memory AS SELECT r.eid AS eid, count() AS n, "
        f"countIf(pr.psi = 'BEH') AS beh, countIf(pr.psi = 'EDU') AS edu, countIf(pr.psi = 'SUP') AS sup, "
        f"countIf(pr.psi = 'WORK') AS work, countIf(pr.psi = 'REINV') AS reinv, countIf(pr.psi = 'RELIG') AS relig "
        f"FROM {s}.rels AS r INNER JOIN {s}.t_programs AS pr ON pr.pid = r.pid "
        f"WHERE pr.start >= r.adm AND pr.start <= r.rel GROUP BY r.eid")

    # RC10: the released placement's governing offense, by R9 (the IMS flag, else the first charge
    # sentenced to incarceration in docket order), typed by R11/R12 as the snapshot facts are
    key = charge_key(*(exp.column(c, table="c") for c in ("unflagged", "filing", "docket", "charge_no", "tc", "felony")))
    g = exp.column("g", table="a")
    engine.command(
        f"CREATE TABLE {s}.rel_gov ENGINE = Memory AS SELECT a.eid AS eid, gt.otype AS otype, "
        f"if({charge_key_felony(g).sql(DIALECT)} = 1, 'F', 'M') AS sev FROM (SELECT c.eid AS eid, "
        f"minIf({key.sql(DIALECT)}, c.gov = 1) AS g, countIf(c.gov = 1) AS n_gov "
        f"FROM (SELECT ch.eid AS eid, ch.governing != 'Y' AS unflagged, ch.filing AS filing, ch.docket AS docket, "
        f"ch.charge_no AS charge_no, st.tc AS tc, ch.severity = 'F' AS felony, "
        f"ch.governing = 'Y' OR ch.sentence = 'INCARCERATION' AS gov FROM {s}.t_charges AS ch "
        f"INNER JOIN {s}.statute_types AS st ON st.statute = ch.statute WHERE ch.eid IN (SELECT eid FROM {s}.rels)) AS c "
        f"GROUP BY c.eid) AS a INNER JOIN {s}.statute_types AS gt ON gt.tc = {charge_key_tc(g).sql(DIALECT)} "
        f"WHERE a.n_gov > 0")

    for sql in layout.fact_table(target, "release_facts"):
        engine.command(sql)
    court = 1 if court_present else 0
    days = "toUInt32(dateDiff('day', r.rel, {at}) + 1)"  # RC7: both ends counted, as R6
    exprs: dict[str, str] = {
        "release_year": "r.release_year", "person_key": "r.person_key", "record_key": "r.record_key",
        "row_key": RELEASE_KEY, "agency": "r.agency", "facility_type": "r.facility_type",
        "security_level": "r.security_level",
        "age_group": age_group(exp.column("age", table="r")).sql(DIALECT),  # R3 bands (RC3), from schema.py
        "assigned_sex": "r.assigned_sex", "gender_identity": "r.gender_identity", "race": "r.race",
        "ethnicity": "r.ethnicity",
        "governing_offense_type": "if(g.eid = 0, 'NOT_APPLICABLE', g.otype)",
        "governing_offense_severity": "if(g.eid = 0, 'NOT_APPLICABLE', g.sev)",
        "stay_band": ("multiIf(stay <= 30, '0-30', stay <= 90, '31-90', stay <= 180, '91-180', stay <= 365, "
                      "'181-365', stay <= 730, '1-2Y', stay <= 1826, '2-5Y', '5Y+')"),
        "stay_days": "stay",
        "program_any": "if(ifNull(n.n, 0) > 0, 'Y', 'N')",
        **{f"program_{a}": f"if(ifNull(n.{a}, 0) > 0, 'Y', 'N')" for a in ("beh", "edu", "sup", "work", "reinv", "relig")},
        **{f"followed_{w}y": f"toUInt8(addYears(makeDate32(r.release_year, 12, 31), {w}) - 1 <= {last_date})"
           for w in RECIDIVISM_WINDOWS},
        "court_data": str(court),
        "days_to_reincarceration": f"if(i.eid = 0, NULL, {days.format(at='i.at')})",
        "days_to_rearraignment": f"if(ce.eid = 0 OR {court} = 0, NULL, {days.format(at='ce.arraigned')})",
        "days_to_reconviction": f"if(ce.eid = 0 OR ce.n_conv = 0 OR {court} = 0, NULL, "
                                f"{days.format(at='ce.convicted_at')})",
    }
    at = {"reincarcerated": "i.at", "rearraigned": "ce.arraigned", "reconvicted": "ce.convicted_at"}
    has = {"reincarcerated": "i.eid != 0", "rearraigned": "ce.eid != 0", "reconvicted": "ce.eid != 0 AND ce.n_conv > 0"}
    for e in RECIDIVISM_EVENTS:
        for w in RECIDIVISM_WINDOWS:
            followed = f"addYears(makeDate32(r.release_year, 12, 31), {w}) - 1 <= {last_date}"
            unavailable = f"NOT ({followed})" + (f" OR {court} = 0" if e != "reincarcerated" else "")
            # RC7: within n years: before the n-th anniversary of the release date
            exprs[f"{e}_{w}y"] = (f"if({unavailable}, NULL, toUInt8(({has[e]}) AND {at[e]} < addYears(r.rel, {w})))")
    assert list(exprs) == list(RELEASE_FACTS)
    engine.command(
        f"INSERT INTO {t}.release_facts SELECT {', '.join(f'{e} AS {qi(c)}' for c, e in exprs.items())} "
        f"FROM (SELECT *, toUInt32(dateDiff('day', adm, rel) + 1) AS stay FROM {s}.rels) AS r "
        f"LEFT JOIN {s}.reinc AS i ON i.eid = r.eid LEFT JOIN {s}.court_ev AS ce ON ce.eid = r.eid "
        f"LEFT JOIN {s}.rel_prog AS n ON n.eid = r.eid LEFT JOIN {s}.rel_gov AS g ON g.eid = r.eid",
        settings=layout.insert_settings)  # unmatched LEFT JOIN rows read as defaults (eid 0): join_use_nulls off
    return {"releases": int(counts[0]), "transfers": int(counts[1]), "court_data": bool(court_present),
            "last_date_year": int(str(last)[:4])}

"""Snapshot facts from the typed staging tables, in ClickHouse SQL (R1-R12).

Which placement counts on a snapshot S when a person has more than one: among the placements
with admission <= S and no release before S (R1), the one with the latest admission; on the
same admission date a TRANSFER / STATUS_CHANGE / PAROLE_VIOLATION placement wins over a NEW one
(it replaced the other), then the later release (open placements last), then the higher
episode id. The person's status, agency and R6 days all come from that one placement, so a
transfer counts only the newest facility, a sentence does not count the pretrial stay before
it (no jail credit) and a parole violator counts from the violation admission. Exclusions (R2)
are applied to the chosen placement. Person ids leave the staging database only as HMAC keys.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Callable

import numpy as np
import pyarrow as pa

from crosstrack.config import Settings
from crosstrack.engine import Engine
from crosstrack.loaders.cluster import Layout
from crosstrack.loaders.schema import (CHAPTER_TYPES, CHARGE_FACTS, CUSTODY_FACTS, FACT_TABLES, OTHER_SUBTYPE_OF_TYPE)
from crosstrack.loaders.statutes import SECTION_PATTERN, load_statutes
from crosstrack.sql import arr, q, qi

OPEN_END = "toDate32('2299-12-31')"


# K7: every record carries its own fixed random key, so that a count of charges or enrollments is
# perturbed from a key of the records it counts, not of the people who hold them (two cells with the
# same people and different charges must not get the same noise). Each key is a hash of the
# person's secret-keyed hashes (unknowable without the secret) and the record's identity, so the
# same extract loaded again gets the same keys and the same published values (K3).
ROW_KEY = "toUInt32(sipHash64(c.person_key, c.record_key, c.snapshot_year) % 4294967296)"
CHARGE_KEY = ("toUInt32(sipHash64(c.person_key, c.record_key, c.snapshot_year, ch.docket, ch.charge_no) "
              "% 4294967296)")
ENROLLMENT_KEY = "sipHash64(c.person_key, c.record_key, pr.program, pr.psi, pr.start) % 4294967296"


def fact_ddl(database: str, table: str) -> str:
    """The single-machine DDL of one fact table (``Layout('').fact_table``)."""
    return Layout().fact_table(database, table)[0]


def person_keys(secret: bytes, person_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """person_key = first 8 bytes of HMAC-SHA256(secret, id) as UInt64 (big-endian); record_key =
    the next 4 bytes as UInt32: a per-person key for the cell-key method that only the secret's
    holder can link to the person. (RFC 2104 HMAC from two prepared SHA-256 states: the same
    digest as ``hmac.new(secret, id, sha256)``, without its per-call Python overhead.)"""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy
    digests = []
    append = digests.append
    for pid in person_ids:
        inner = inner_copy()
        inner.update(pid.encode("utf-8"))
        outer = outer_copy()
        outer.update(inner.digest())
        append(outer.digest())
    d = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(-1, 32)
    pk = d[:, :8].copy().view(">u8").ravel().astype(np.uint64)
    rk = d[:, 8:12].copy().view(">u4").ravel().astype(np.uint32)
    return pk, rk


class PersonKeys:
    """The keyed hashes of every valid person (``stage.t_people``), computed in a thread.

    They are pure Python (about 1 us per person), so they run while the engine, which releases
    the GIL, goes on validating and building; ``write`` waits for them and stores them in
    ``stage.keys`` (pid -> person_key, record_key)."""

    def __init__(self, engine: Engine, settings: Settings, stage: str):
        self._ids = engine.query_arrow(f"SELECT pid, person_id FROM {qi(stage)}.t_people")
        self._secret = settings.secret_bytes()
        self._out: dict[str, object] = {}
        self._worker = threading.Thread(target=self._run, name="person-keys", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        try:
            self._out["pk"], self._out["rk"] = person_keys(self._secret, self._ids.column("person_id").to_pylist())
        except BaseException as err:  # noqa: BLE001 - re-raised in the calling thread
            self._out["error"] = err

    def write(self, engine: Engine, stage: str) -> None:
        self._worker.join()
        if "error" in self._out:
            raise self._out["error"]  # type: ignore[misc]
        engine.command(f"CREATE TABLE {qi(stage)}.keys (pid UInt64, person_key UInt64, record_key UInt32) "
                       f"ENGINE = Memory")
        engine.insert_arrow("keys", pa.table({"pid": self._ids.column("pid"), "person_key": pa.array(self._out["pk"]),
                                              "record_key": pa.array(self._out["rk"])}), database=stage)
        self._ids = None
        self._out.clear()


def build_facts(engine: Engine, settings: Settings, stage: str, target: str,
                step: Callable[[str], None] = lambda s: None,
                keys: PersonKeys | None = None,
                before_sync: Callable[[], None] | None = None) -> dict[str, object]:
    """Create ``target.custody_facts`` and ``target.charge_facts``; returns notes for the summary.

    Staging tables join on ``pid`` / ``eid``, UInt64 hashes of the person and episode ids that
    validation made collision-free (``loaders.validate.id_hash``); the ids themselves are read
    once more only to compute the HMAC keys."""
    s, t = qi(stage), qi(target)
    # one machine: plain MergeTree facts; a cluster: Distributed facts over replicated locals, and
    # the INSERTs below go through the Distributed tables (staging stays on this node)
    layout = Layout.for_settings(settings)
    snaps = "[" + ", ".join(f"toDate32('{int(y):04d}-01-01')" for y in settings.snapshot_years) + "]"

    keys = keys or PersonKeys(engine, settings, stage)

    step("choosing each person's placement on each snapshot (R1)")
    engine.command(
        f"CREATE TABLE {s}.sel ENGINE = Memory AS SELECT snap, pid, "
        f"argMax(eid, tuple(adm, rank, ifNull(rel, {OPEN_END}), episode_id)) AS eid FROM ("
        f"SELECT eid, pid, episode_id, adm, rel, toUInt8(admission_type != 'NEW') AS rank, "
        f"arrayJoin(arrayFilter(x -> adm <= x AND ifNull(rel >= x, 1), {snaps})) AS snap FROM {s}.t_episodes) "
        f"GROUP BY snap, pid")

    step("keyed hashes of person ids")
    keys.write(engine, stage)

    step("applying exclusions and demographics (R2-R5)")
    # every chosen placement with the reason it is not counted ('' = counted)
    engine.command(
        f"CREATE TABLE {s}.cust ENGINE = Memory AS SELECT toUInt16(toYear(x.snap)) AS snapshot_year, x.snap AS snap, "
        f"k.person_key AS person_key, k.record_key AS record_key, "
        # codes as LowCardinality already, as the fact tables store them
        f"x.pid AS pid, x.eid AS eid, toLowCardinality(e.agency5) AS agency, "
        f"toLowCardinality(e.facility_type) AS facility_type, toLowCardinality(e.security) AS security_level, "
        f"toLowCardinality(e.status) AS offender_status, e.adm AS adm, toLowCardinality(p.sex) AS assigned_sex, "
        f"toLowCardinality(p.gi) AS gender_identity, toLowCardinality(p.race5) AS race, "
        f"toLowCardinality(p.eth3) AS ethnicity, "
        # R3: age in whole years on S (January 1): a birthday on January 1 has already happened
        f"toInt32(toYear(x.snap)) - toInt32(toYear(p.dob)) - if(toMonth(p.dob) = 1 AND toDayOfMonth(p.dob) = 1, 0, 1) AS age, "
        f"toLowCardinality(multiIf(age < 25, '18-24', age < 30, '25-29', age < 40, '30-39', age < 50, '40-49', "
        f"age < 60, '50-59', '60+')) AS age_group, "
        # R2: civil, safe keep, federal and compact placements and juveniles are not counted
        f"multiIf(e.status NOT IN ('PRETRIAL', 'SENTENCED'), e.status, age < 18, 'JUVENILE', '') AS excluded "
        f"FROM {s}.sel AS x INNER JOIN {s}.t_episodes AS e ON e.eid = x.eid "
        f"INNER JOIN {s}.t_people AS p ON p.pid = x.pid INNER JOIN {s}.keys AS k ON k.pid = x.pid")
    excluded = engine.query(f"SELECT excluded, count() FROM {s}.cust WHERE excluded != '' "
                            f"GROUP BY excluded ORDER BY excluded").rows
    counted = f"(SELECT * FROM {s}.cust WHERE excluded = '')"

    step("program enrollments since admission (R8)")
    engine.command(
        f"CREATE TABLE {s}.enr ENGINE = Memory AS SELECT c.snapshot_year AS snapshot_year, c.pid AS pid, "
        f"count() AS total, toUInt32(sum({ENROLLMENT_KEY}) % 4294967296) AS ekey, countIf(pr.psi = 'BEH') AS beh, countIf(pr.psi = 'EDU') AS edu, "
        f"countIf(pr.psi = 'SUP') AS sup, countIf(pr.psi = 'WORK') AS work, countIf(pr.psi = 'REINV') AS reinv, "
        f"countIf(pr.psi = 'RELIG') AS relig "
        f"FROM {counted} AS c INNER JOIN {s}.t_programs AS pr ON pr.pid = c.pid "
        f"WHERE pr.start >= c.adm AND pr.start <= c.snap GROUP BY snapshot_year, pid")

    step("offense types of charges (R11, R12)")
    statutes = load_statutes()
    engine.command(f"CREATE TABLE {s}.statutes (statute String, otype String, osub String) ENGINE = Memory")
    engine.insert_arrow("statutes", pa.table({
        "statute": [x.statute for x in statutes.values()],
        "otype": [x.offense_type for x in statutes.values()],
        "osub": [x.offense_subtype for x in statutes.values()]}), database=stage)
    chap_types = list(CHAPTER_TYPES.items())
    other_sub = list(OTHER_SUBTYPE_OF_TYPE.items())
    # each distinct statute is typed once; charges then take their statute's row
    engine.command(
        f"CREATE TABLE {s}.statute_types ENGINE = Memory AS SELECT c.statute AS statute, "
        f"toUInt32(rowNumberInAllBlocks()) AS tc, "
        # R12, most specific entry first: as written (x), its section (p: subsection stripped,
        # loaders.statutes.SECTION_PATTERN), the chapter wildcard (w), else the chapter's type
        f"multiIf(x.otype != '', x.otype, p.otype != '', p.otype, w.otype != '', w.otype, "
        f"transform(c.chapter, {arr([k for k, _ in chap_types])}, {arr([v for _, v in chap_types])}, 'OTHER')) AS otype, "
        f"multiIf(x.osub != '', x.osub, p.osub != '', p.osub, w.osub != '', w.osub, "
        f"transform(otype, {arr([k for k, _ in other_sub])}, {arr([v for _, v in other_sub])}, 'OTHER')) AS osub, "
        f"x.otype != '' OR p.otype != '' OR w.otype != '' AS known "
        f"FROM (SELECT statute, splitByChar('/', statute)[1] AS chapter, concat(chapter, '/*') AS wildcard, "
        f"extract(statute, {q(SECTION_PATTERN)}) AS section "
        f"FROM (SELECT DISTINCT statute FROM {s}.t_charges)) AS c "
        f"LEFT JOIN {s}.statutes AS x ON x.statute = c.statute "
        f"LEFT JOIN {s}.statutes AS p ON p.statute = c.section "
        f"LEFT JOIN {s}.statutes AS w ON w.statute = c.wildcard")
    engine.command(
        f"CREATE TABLE {s}.ch ENGINE = Memory AS SELECT c.eid AS eid, c.docket AS docket, c.filing AS filing, "
        f"c.charge_no AS charge_no, toLowCardinality(c.severity) AS severity, "
        f"toLowCardinality(c.disposition) AS disposition, c.sentence AS sentence, c.governing AS governing, "
        f"toLowCardinality(st.otype) AS otype, toLowCardinality(st.osub) AS osub, st.tc AS tc, "
        f"c.statute AS statute, st.known AS known "
        f"FROM (SELECT * FROM {s}.t_charges WHERE eid IN (SELECT eid FROM {counted})) AS c "
        f"INNER JOIN {s}.statute_types AS st ON st.statute = c.statute")
    # the load report: each unknown statute, how many charges cite it and the type it fell back to
    unknown = engine.query(f"SELECT statute, count() AS n, any(otype), any(osub) FROM {s}.ch WHERE NOT known "
                           f"GROUP BY statute ORDER BY n DESC, statute").rows

    step("governing offense (R9) and leading charge (R10)")
    # R9/R10 depend only on the placement's charges, so they are computed once per placement
    # (episode, docket, charge number) is unique, so the smallest (flag, filing, docket, charge
    # number, ...) tuple is the one charge the rule picks; its last two fields are its statute's
    # row in statute_types (offense type and sub-type) and whether it is a felony
    order = "filing, docket, charge_no, tc, severity = 'F'"
    engine.command(
        f"CREATE TABLE {s}.gl ENGINE = Memory AS SELECT a.eid AS eid, a.n_all AS n_all, a.n_gov AS n_gov, "
        f"(gt.otype, gt.osub, if(a.g.6, 'F', 'M')) AS gov, (lt.otype, lt.osub, if(a.l.6, 'F', 'M')) AS lead "
        f"FROM (SELECT eid, count() AS n_all, countIf(governing = 'Y' OR sentence = 'INCARCERATION') AS n_gov, "
        # R9: the IMS flag first; else the first charge sentenced to incarceration in docket order
        f"minIf(tuple(governing != 'Y', {order}), governing = 'Y' OR sentence = 'INCARCERATION') AS g, "
        # R10: the first felony in docket order, else the first misdemeanour
        f"min(tuple(severity != 'F', {order})) AS l "
        f"FROM {s}.ch GROUP BY eid) AS a "
        f"LEFT JOIN {s}.statute_types AS gt ON gt.tc = a.g.5 LEFT JOIN {s}.statute_types AS lt ON lt.tc = a.l.5")

    step("writing custody_facts")
    for sql in layout.fact_table(target, "custody_facts"):
        engine.command(sql)
    na = "'NOT_APPLICABLE'"
    gov_ok = "c.offender_status = 'SENTENCED' AND g.n_gov > 0"
    lead_ok = "c.offender_status = 'PRETRIAL' AND g.n_all > 0"
    exprs = {
        "snapshot_year": "c.snapshot_year", "person_key": "c.person_key", "record_key": "c.record_key",
        "row_key": ROW_KEY, "enrollment_key": "toUInt32(n.ekey)",
        "agency": "c.agency", "facility_type": "c.facility_type", "security_level": "c.security_level",
        "offender_status": "c.offender_status", "age_group": "c.age_group", "assigned_sex": "c.assigned_sex",
        "gender_identity": "c.gender_identity", "race": "c.race", "ethnicity": "c.ethnicity",
        # R6: both ends counted (admitted Dec 30, S = Jan 1 -> 3 days)
        "incarceration_days": "toUInt32(dateDiff('day', c.adm, c.snap) + 1)",
        "enrollments_total": "toUInt16(n.total)", "enrollments_beh": "toUInt16(n.beh)",
        "enrollments_edu": "toUInt16(n.edu)", "enrollments_sup": "toUInt16(n.sup)",
        "enrollments_work": "toUInt16(n.work)", "enrollments_reinv": "toUInt16(n.reinv)",
        "enrollments_relig": "toUInt16(n.relig)",
        "governing_offense_type": f"if({gov_ok}, g.gov.1, {na})",
        "governing_offense_subtype": f"if({gov_ok}, g.gov.2, {na})",
        "governing_offense_severity": f"if({gov_ok}, g.gov.3, {na})",
        "leading_charge_type": f"if({lead_ok}, g.lead.1, {na})",
        "leading_charge_subtype": f"if({lead_ok}, g.lead.2, {na})",
        "leading_charge_severity": f"if({lead_ok}, g.lead.3, {na})",
    }
    assert list(exprs) == list(CUSTODY_FACTS)
    engine.command(
        f"INSERT INTO {t}.custody_facts SELECT {', '.join(f'{e} AS {qi(c)}' for c, e in exprs.items())} "
        f"FROM {counted} AS c "
        f"LEFT JOIN {s}.enr AS n ON n.snapshot_year = c.snapshot_year AND n.pid = c.pid "
        f"LEFT JOIN {s}.gl AS g ON g.eid = c.eid", settings=layout.insert_settings)

    step("writing charge_facts")
    for sql in layout.fact_table(target, "charge_facts"):
        engine.command(sql)
    cexprs = {
        "snapshot_year": "c.snapshot_year", "person_key": "c.person_key", "record_key": "c.record_key",
        "row_key": CHARGE_KEY,
        "agency": "c.agency", "facility_type": "c.facility_type", "age_group": "c.age_group",
        "assigned_sex": "c.assigned_sex", "gender_identity": "c.gender_identity", "race": "c.race",
        "ethnicity": "c.ethnicity", "offense_type": "ch.otype", "offense_subtype": "ch.osub",
        "severity": "ch.severity", "disposition": "ch.disposition",
        "convicted": "toUInt8(ch.disposition = 'CONVICTED')",
    }
    assert list(cexprs) == list(CHARGE_FACTS)
    engine.command(
        f"INSERT INTO {t}.charge_facts SELECT {', '.join(f'{e} AS {qi(c)}' for c, e in cexprs.items())} "
        # the charges-and-convictions view is sentenced people only (R2)
        f"FROM {s}.ch AS ch INNER JOIN (SELECT * FROM {counted} WHERE offender_status = 'SENTENCED') AS c "
        f"ON c.eid = ch.eid", settings=layout.insert_settings)
    if before_sync:  # further fact tables of this version (the release cohort) from the same staging tables
        before_sync()
    for sql in layout.sync_facts(target):
        engine.command(sql)
    missing = engine.query(
        f"SELECT countIf(governing_offense_type = 'NOT_APPLICABLE' AND offender_status = 'SENTENCED'), "
        f"countIf(leading_charge_type = 'NOT_APPLICABLE' AND offender_status = 'PRETRIAL') FROM {t}.custody_facts").rows[0]
    return {"excluded": excluded, "unknown_statutes": unknown,
            "sentenced_without_governing": int(missing[0]), "pretrial_without_leading": int(missing[1])}

"""Snapshot facts from the typed staging tables (R1-R12): one rule file per step, loaders/rules/.

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
import hmac
from typing import Callable

import numpy as np
import pyarrow as pa
from sqlglot import exp

from crosstrack.config import Settings
from crosstrack.engine import Engine
from crosstrack.loaders import charge_order, rules
from crosstrack.loaders.cluster import Layout
from crosstrack.loaders.schema import CHARGE_FACTS, CUSTODY_FACTS, PSI_AREAS
from crosstrack.loaders.statutes import SECTION_PATTERN, load_statutes
from crosstrack.sql import qi


def fact_ddl(database: str, table: str) -> str:
    """The single-machine DDL of one fact table (``Layout('').fact_table``)."""
    return Layout().fact_table(database, table)[0]


def hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """RFC 2104's two 64-byte pads of an HMAC-SHA256 key: (key XOR ipad, key XOR opad)."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def person_keys(secret: bytes, person_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """person_key = first 8 bytes of HMAC-SHA256(secret, id) as UInt64 (big-endian); record_key =
    the next 4 bytes as UInt32: a per-person key for the cell-key method that only the secret's
    holder can link to the person. The definition, by the standard library's HMAC, of what
    :func:`write_person_keys` computes in the engine (tests tell people apart by it)."""
    digests = b"".join(hmac.new(secret, pid.encode("utf-8"), hashlib.sha256).digest() for pid in person_ids)
    d = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32)
    pk = d[:, :8].copy().view(">u8").ravel().astype(np.uint64)
    rk = d[:, 8:12].copy().view(">u4").ravel().astype(np.uint32)
    return pk, rk


def write_person_keys(engine: Engine, settings: Settings, stage: str) -> None:
    """``stage.keys`` (pid -> person_key, record_key): :func:`person_keys` of every valid person
    (``stage.t_people``), as HMAC-SHA256 = SHA256(outer pad || SHA256(inner pad || id)) in SQL.

    In the engine rather than in Python because there it is one multi-threaded statement (0.08 s
    for 0.70 M people at 10x, against 0.7 s of Python plus reading the ids out and the keys back
    in). The key's pads reach the engine as rows of a Memory table, inserted as data and dropped
    once the keys are written, never as SQL text, which servers log."""
    s = qi(stage)
    engine.command(f"CREATE TABLE {s}.hmac_pads (inner_pad String, outer_pad String) ENGINE = Memory")
    try:
        inner_pad, outer_pad = hmac_pads(settings.secret_bytes())
        engine.insert_arrow("hmac_pads", pa.table({"inner_pad": pa.array([inner_pad], pa.binary()),
                                                   "outer_pad": pa.array([outer_pad], pa.binary())}), database=stage)
        digest = "SHA256(concat(k.outer_pad, SHA256(concat(k.inner_pad, p.person_id))))"
        engine.command(
            f"CREATE TABLE {s}.keys ENGINE = Memory AS SELECT pid, "
            f"reinterpretAsUInt64(reverse(substring(h, 1, 8))) AS person_key, "
            f"reinterpretAsUInt32(reverse(substring(h, 9, 4))) AS record_key "
            f"FROM (SELECT p.pid AS pid, {digest} AS h FROM {s}.t_people AS p CROSS JOIN {s}.hmac_pads AS k)")
    finally:
        engine.command(f"DROP TABLE IF EXISTS {s}.hmac_pads SYNC")


def snapshot_dates(years) -> exp.Array:
    """R1: the snapshot dates, January 1 of each configured year, as a Date32 array literal."""
    return exp.Array(expressions=[exp.Anonymous(this="toDate32", expressions=[exp.Literal.string(f"{int(y):04d}-01-01")])
                                  for y in years])


def step_values(settings: Settings) -> dict[str, rules.Value]:
    """The settings, constants and builders the rule files name (``loaders.rules``)."""
    return {"snapshot_dates": snapshot_dates(settings.snapshot_years),
            "section_pattern": exp.Literal.string(SECTION_PATTERN), **charge_order.BUILDERS}


def enrollments_query(stage: str) -> exp.Query:
    """R8 (r08_enrollments.sql) with one count column per PSI area of schema.PSI_AREAS."""
    psi = exp.column("psi", table="pr")
    counts = [exp.alias_(exp.Anonymous(this="countIf", expressions=[exp.EQ(this=psi.copy(), expression=exp.Literal.string(a))]),
                         a.lower()) for a in PSI_AREAS]
    return rules.rule("r08_enrollments", stage).select(*counts, copy=False)


# Staging table each R-step builds, in build order (a step reads only the tables before it).
STEPS: dict[str, str] = {
    "r01_snapshot_placement": "sel",
    "r02_r05_custody_rows": "cust",
    "r08_enrollments": "enr",
    "r12_statute_types": "statute_types",
    "r11_r12_charges": "ch",
    "r09_r10_governing_leading": "gl",
}


def step_query(name: str, stage: str, settings: Settings) -> exp.Query:
    if name == "r08_enrollments":
        return enrollments_query(stage)
    return rules.rule(name, stage, step_values(settings))


def run_step(engine: Engine, name: str, stage: str, settings: Settings) -> None:
    """Build ``stage.<STEPS[name]>`` from the R-step ``loaders/rules/<name>.sql``."""
    engine.command(rules.create_table(stage, STEPS[name], step_query(name, stage, settings)))


def fact_insert(table: str, stage: str, target: str) -> exp.Insert:
    """The INSERT of one fact table from its rule file (columns checked against schema.py)."""
    name, columns = {"custody_facts": ("r06_custody_facts", CUSTODY_FACTS),
                     "charge_facts": ("r02_charge_facts", CHARGE_FACTS)}[table]
    query = rules.rule(name, stage)
    if rules.output_names(query) != list(columns):
        raise rules.RuleError(f"loaders/rules/{name}.sql: columns differ from loaders/schema.py's {table}")
    return rules.insert(target, table, query)


def load_statute_table(engine: Engine, stage: str) -> None:
    """``stage.statutes``: the R12 reference table (loaders/reference/statutes.csv)."""
    statutes = load_statutes()
    engine.command(f"CREATE TABLE {qi(stage)}.statutes (statute String, otype String, osub String) ENGINE = Memory")
    engine.insert_arrow("statutes", pa.table({
        "statute": [x.statute for x in statutes.values()],
        "otype": [x.offense_type for x in statutes.values()],
        "osub": [x.offense_subtype for x in statutes.values()]}), database=stage)


def build_facts(engine: Engine, settings: Settings, stage: str, target: str,
                step: Callable[[str], None] = lambda s: None,
                before_sync: Callable[[], None] | None = None) -> dict[str, object]:
    """Create ``target.custody_facts`` and ``target.charge_facts``; returns notes for the summary.

    Each R-step is one file of ``loaders/rules/`` (see STEPS). Staging tables join on ``pid`` /
    ``eid``, UInt64 hashes of the person and episode ids that validation made collision-free
    (``loaders.validate.id_hash``); the ids themselves are read once more only to compute the
    HMAC keys, inside the engine (:func:`write_person_keys`)."""
    s, t = qi(stage), qi(target)
    # one machine: plain MergeTree facts; a cluster: Distributed facts over replicated locals, and
    # the INSERTs below go through the Distributed tables (staging stays on this node)
    layout = Layout.for_settings(settings)

    step("choosing each person's placement on each snapshot (R1)")
    run_step(engine, "r01_snapshot_placement", stage, settings)

    step("keyed hashes of person ids")
    write_person_keys(engine, settings, stage)

    step("applying exclusions and demographics (R2-R5)")
    run_step(engine, "r02_r05_custody_rows", stage, settings)
    excluded = engine.query(f"SELECT excluded, count() FROM {s}.cust WHERE excluded != '' "
                            f"GROUP BY excluded ORDER BY excluded").rows

    step("program enrollments since admission (R8)")
    run_step(engine, "r08_enrollments", stage, settings)

    step("offense types of charges (R11, R12)")
    load_statute_table(engine, stage)
    run_step(engine, "r12_statute_types", stage, settings)
    run_step(engine, "r11_r12_charges", stage, settings)
    # the load report: each unknown statute, how many charges cite it and the type it fell back to
    unknown = engine.query(f"SELECT statute, count() AS n, any(otype), any(osub) FROM {s}.ch WHERE NOT known "
                           f"GROUP BY statute ORDER BY n DESC, statute").rows

    step("governing offense (R9) and leading charge (R10)")
    run_step(engine, "r09_r10_governing_leading", stage, settings)

    step("writing custody_facts")
    for sql in layout.fact_table(target, "custody_facts"):
        engine.command(sql)
    engine.command(fact_insert("custody_facts", stage, target), settings=layout.insert_settings)

    step("writing charge_facts")
    for sql in layout.fact_table(target, "charge_facts"):
        engine.command(sql)
    engine.command(fact_insert("charge_facts", stage, target), settings=layout.insert_settings)
    if before_sync:  # further fact tables of this version (the release cohort) from the same staging tables
        before_sync()
    for sql in layout.sync_facts(target):
        engine.command(sql)
    missing = engine.query(
        f"SELECT countIf(governing_offense_type = 'NOT_APPLICABLE' AND offender_status = 'SENTENCED'), "
        f"countIf(leading_charge_type = 'NOT_APPLICABLE' AND offender_status = 'PRETRIAL') FROM {t}.custody_facts").rows[0]
    return {"excluded": excluded, "unknown_statutes": unknown,
            "sentenced_without_governing": int(missing[0]), "pretrial_without_leading": int(missing[1])}

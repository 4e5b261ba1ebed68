"""Versioned, atomic publishing of fact databases (docs/contracts.md, "Published data").

A load builds ``<database>_v<N>`` in full, checks it, runs the ``before_publish`` hooks, and
only then inserts one row into ``<database>.load_history``. That single-row insert is the
publish: until it lands, readers (``current_version``) keep seeing the previous version, and a
load killed at any moment leaves only an unreferenced database, which the next load drops. The
two newest published databases are kept so queries already running on the older one finish.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from crosstrack.config import Settings
from crosstrack.engine import Engine, EngineError
from loaders.cluster import Layout
from loaders.schema import (AGE_GROUPS, AGENCIES, ASSIGNED_SEX, DISPOSITIONS, ETHNICITIES, FACILITY_TYPES,
                            FACT_TABLES, GENDER_IDENTITIES, OFFENDER_STATUSES, OFFENSE_SUBTYPES, OFFENSE_TYPES,
                            RACES, SECURITY_LEVELS, SEVERITIES, STAY_BANDS, YES_NO)
from loaders.validate import arr, q, qi

KEEP_PUBLISHED = 2


@dataclass(frozen=True)
class PublishedVersion:
    version_id: str
    database: str
    loaded_at: dt.datetime
    row_counts: dict[str, int]
    version_number: int = 0
    source_checksums: dict[str, str] = field(default_factory=dict)
    rejected_rows: int = 0
    snapshot_years: tuple[int, ...] = ()


def history_table(settings: Settings) -> str:
    return f"{qi(settings.database)}.load_history"


def ensure_history(engine: Engine, settings: Settings) -> None:
    """``<database>.load_history``: a MergeTree on one machine; on a cluster a copy on every node
    (``loaders.cluster.Layout``), so any node resolves the current version by itself."""
    for sql in Layout.for_settings(settings).history_table(settings.database):
        engine.command(sql)


def _history_exists(engine: Engine, settings: Settings) -> bool:
    return bool(engine.scalar(
        f"SELECT count() FROM system.tables WHERE database = {q(settings.database)} AND name = 'load_history'"))


def published_versions(engine: Engine, settings: Settings) -> list[PublishedVersion]:
    """Every published version, newest first."""
    if not _history_exists(engine, settings):
        return []
    rows = engine.query(
        f"SELECT version_id, database, loaded_at, row_counts, version_number, source_checksums, rejected_rows, "
        f"snapshot_years FROM {history_table(settings)} ORDER BY version_number DESC").rows
    out = []
    for vid, db, at, counts, num, sums, rej, years in rows:
        if isinstance(at, dt.datetime) and at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        out.append(PublishedVersion(vid, db, at, {k: int(v) for k, v in json.loads(counts).items()}, int(num),
                                    json.loads(sums), int(rej), tuple(int(y) for y in years)))
    return out


def current_version(engine: Engine, settings: Settings) -> PublishedVersion | None:
    """The version readers must query (the newest published one), or None before the first load."""
    versions = published_versions(engine, settings)
    return versions[0] if versions else None


def _version_databases(engine: Engine, settings: Settings) -> dict[str, int]:
    pat = re.compile(rf"^{re.escape(settings.database)}_(v|stage_)(\d+)$")
    out = {}
    for (name,) in engine.query("SELECT name FROM system.databases").rows:
        m = pat.match(name)
        if m:
            out[name] = int(m.group(2))
    return out


def next_version_number(engine: Engine, settings: Settings) -> int:
    used = list(_version_databases(engine, settings).values())
    used += [v.version_number for v in published_versions(engine, settings)]
    return max(used, default=0) + 1


def drop_stale(engine: Engine, settings: Settings, keep: int = KEEP_PUBLISHED) -> list[str]:
    """Drop staging databases, databases no load_history row points at (killed or failed loads),
    and published databases older than the ``keep`` newest."""
    keep_dbs = {v.database for v in published_versions(engine, settings)[:keep]}
    layout = Layout.for_settings(settings)  # on a cluster: dropped on every node
    dropped = []
    for name in sorted(_version_databases(engine, settings)):
        if name not in keep_dbs:
            engine.command(layout.drop_database(name))
            dropped.append(name)
    return dropped


# Allowed codes of every LowCardinality fact column: a value outside them fails the check.
FACT_CODES: dict[str, dict[str, object]] = {
    "custody_facts": {
        "agency": AGENCIES, "facility_type": FACILITY_TYPES, "security_level": SECURITY_LEVELS,
        "offender_status": OFFENDER_STATUSES, "age_group": AGE_GROUPS, "assigned_sex": ASSIGNED_SEX,
        "gender_identity": GENDER_IDENTITIES, "race": RACES, "ethnicity": ETHNICITIES,
        "governing_offense_type": OFFENSE_TYPES, "governing_offense_subtype": OFFENSE_SUBTYPES,
        "governing_offense_severity": SEVERITIES, "leading_charge_type": OFFENSE_TYPES,
        "leading_charge_subtype": OFFENSE_SUBTYPES, "leading_charge_severity": SEVERITIES,
    },
    "charge_facts": {
        "agency": AGENCIES, "facility_type": FACILITY_TYPES, "age_group": AGE_GROUPS, "assigned_sex": ASSIGNED_SEX,
        "gender_identity": GENDER_IDENTITIES, "race": RACES, "ethnicity": ETHNICITIES,
        "offense_type": OFFENSE_TYPES, "offense_subtype": OFFENSE_SUBTYPES, "severity": SEVERITIES,
        "disposition": DISPOSITIONS,
    },
    "release_facts": {  # docs/recidivism.md
        "agency": AGENCIES, "facility_type": FACILITY_TYPES, "security_level": SECURITY_LEVELS,
        "age_group": AGE_GROUPS, "assigned_sex": ASSIGNED_SEX, "gender_identity": GENDER_IDENTITIES,
        "race": RACES, "ethnicity": ETHNICITIES, "governing_offense_type": OFFENSE_TYPES,
        "governing_offense_severity": SEVERITIES, "stay_band": STAY_BANDS,
        **{f"program_{a}": YES_NO for a in ("any", "beh", "edu", "sup", "work", "reinv", "relig")},
    },
}


def check_database(engine: Engine, settings: Settings, database: str) -> tuple[dict[str, int], list[str]]:
    """Row counts and every problem that must stop a publish.

    Each code column's distinct values are read first (cheap on LowCardinality: the engine
    works on dictionary positions); the exact per-row count that a problem message reports is
    computed only for a column that has a bad value."""
    problems: list[str] = []
    counts: dict[str, int] = {}
    d = qi(database)
    for table, (cols, _) in FACT_TABLES.items():
        codes = list(FACT_CODES[table])
        n, zero_keys = engine.query(f"SELECT count(), countIf(person_key = 0) FROM {d}.{qi(table)}").rows[0]
        counts[table] = int(n or 0)
        bad_cols = [c for c in codes
                    if any(v == "" or v not in FACT_CODES[table][c]
                           for (v,) in engine.query(f"SELECT DISTINCT {qi(c)} FROM {d}.{qi(table)}").rows)]
        if bad_cols:
            checks = [f"countIf({qi(c)} = '' OR NOT has({arr(list(FACT_CODES[table][c]))}, toString({qi(c)})))"
                      for c in bad_cols]
            bad = engine.query(f"SELECT {', '.join(checks)} FROM {d}.{qi(table)}").rows[0]
            for name, k in zip(bad_cols, bad):
                if k:
                    problems.append(f"{table}.{name}: {k} rows with an empty or unknown code")
        if zero_keys:
            problems.append(f"{table}.person_key: {zero_keys} rows with an empty or unknown code")
    years = {int(y) for (y,) in engine.query(f"SELECT DISTINCT snapshot_year FROM {d}.custody_facts").rows}
    missing = [y for y in settings.snapshot_years if y not in years]
    if missing:
        problems.append(f"custody_facts has no rows for snapshot year(s) {', '.join(map(str, missing))}")
    if counts.get("custody_facts", 0) == 0:
        problems.append("custody_facts is empty")
    # every custody row's person is counted once per snapshot (R1)
    dup = engine.scalar(f"SELECT count() FROM (SELECT snapshot_year, person_key FROM {d}.custody_facts "
                        f"GROUP BY snapshot_year, person_key HAVING count() > 1)")
    if dup:
        problems.append(f"custody_facts has {dup} people counted twice on one snapshot")
    return counts, problems


def publish(engine: Engine, settings: Settings, number: int, database: str, row_counts: dict[str, int],
            checksums: dict[str, str], rejected_rows: int) -> PublishedVersion:
    """The atomic step: one row in load_history makes ``database`` the current version."""
    ensure_history(engine, settings)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=(dt.datetime.now().microsecond // 1000) * 1000)
    vid = f"v{number}"
    years = "[" + ", ".join(str(int(y)) for y in settings.snapshot_years) + "]"
    try:
        engine.command(
            f"INSERT INTO {history_table(settings)} (version_id, version_number, database, loaded_at, source_checksums, "
            f"row_counts, rejected_rows, snapshot_years) VALUES ({q(vid)}, {int(number)}, {q(database)}, "
            f"toDateTime64({q(now.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3])}, 3, 'UTC'), {q(json.dumps(checksums, sort_keys=True))}, "
            f"{q(json.dumps(row_counts, sort_keys=True))}, {int(rejected_rows)}, {years})")
    except EngineError:
        raise
    return PublishedVersion(vid, database, now, dict(row_counts), number, dict(checksums), rejected_rows,
                            tuple(settings.snapshot_years))

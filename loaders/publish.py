"""Versioned, atomic publishing of fact databases (docs/contracts.md, "Published data").

A load builds ``<database>_v<N>`` in full, checks it, runs the ``before_publish`` hooks, and
only then inserts one row into ``<database>.load_history``. That single-row insert is the
publish: until it lands, readers (``current_version``) keep seeing the previous version, and a
load killed at any moment leaves only an unreferenced database, which the next load drops.

The ``CROSSTRACK_KEEP_VERSIONS`` newest published databases are kept (queries already running on
an older one finish; ``data_version=vN`` answers from any kept one; ``crosstrack rollback``
republishes one); older ones are dropped, never the published one. A rollback is one row in
``<database>.publish_log`` naming the version and the newest load it overrides: the published
version is that row's while no newer load exists, else the newest load (one insert each way, so
both stay atomic).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from crosstrack.config import Settings
from crosstrack.engine import Engine, EngineError
from crosstrack.loaders.cluster import Layout
from crosstrack.loaders.schema import (AGE_GROUPS, AGENCIES, ASSIGNED_SEX, DISPOSITIONS, ETHNICITIES, FACILITY_TYPES,
                            FACT_TABLES, GENDER_IDENTITIES, OFFENDER_STATUSES, OFFENSE_SUBTYPES, OFFENSE_TYPES,
                            RACES, SECURITY_LEVELS, SEVERITIES, STAY_BANDS, YES_NO)
from crosstrack.sql import arr, q, qi

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


def _pointer_exists(engine: Engine, settings: Settings) -> bool:
    return bool(engine.scalar(
        f"SELECT count() FROM system.tables WHERE database = {q(settings.database)} AND name = 'publish_log'"))


def _last_rollback(engine: Engine, settings: Settings) -> tuple[int, str, int] | None:
    """(seq, version_id, after_version) of the latest rollback, or None."""
    if not _pointer_exists(engine, settings):
        return None
    rows = engine.query(f"SELECT seq, version_id, after_version FROM {qi(settings.database)}.publish_log "
                        f"ORDER BY seq DESC LIMIT 1").rows
    return (int(rows[0][0]), str(rows[0][1]), int(rows[0][2])) if rows else None


def _resolve_current(versions: list[PublishedVersion], rollback: tuple[int, str, int] | None) -> PublishedVersion | None:
    if not versions:
        return None
    newest = versions[0]
    if rollback is not None and rollback[2] == newest.version_number:
        for v in versions:
            if v.version_id == rollback[1]:
                return v
    return newest


def current_version(engine: Engine, settings: Settings) -> PublishedVersion | None:
    """The version readers must query (the newest load, unless a later rollback names another),
    or None before the first load."""
    versions = published_versions(engine, settings)
    return _resolve_current(versions, _last_rollback(engine, settings) if versions else None)


@dataclass(frozen=True)
class VersionState:
    version: PublishedVersion
    kept: bool  # its database still exists (answerable with data_version=, can be rolled back to)
    published: bool


def version_states(engine: Engine, settings: Settings) -> list[VersionState]:
    """Every version ever published, newest first, with whether it is kept and which is published."""
    versions = published_versions(engine, settings)
    current = _resolve_current(versions, _last_rollback(engine, settings) if versions else None)
    existing = set(_version_databases(engine, settings))
    return [VersionState(v, v.database in existing, current is not None and v.version_id == current.version_id)
            for v in versions]


class RollbackError(ValueError):
    """The version asked for cannot be republished; the message lists the kept versions."""


def rollback(engine: Engine, settings: Settings, version_id: str | None = None) -> PublishedVersion:
    """Republish a kept version atomically (one row in publish_log). Without ``version_id``: the
    newest kept version older than the published one."""
    states = version_states(engine, settings)
    current = next((s.version for s in states if s.published), None)
    if current is None:
        raise RollbackError("nothing has been published yet")
    kept = [s.version for s in states if s.kept]
    names = ", ".join(v.version_id for v in kept)
    if version_id is None:
        older = [v for v in kept if v.version_number < current.version_number]
        if not older:
            raise RollbackError(f"there is no kept version older than the published {current.version_id} "
                                f"(kept: {names})")
        target = older[0]
    else:
        target = next((s.version for s in states if s.version.version_id == version_id), None)
        if target is None:
            raise RollbackError(f"{version_id} was never published (kept: {names})")
        if target not in kept:
            raise RollbackError(f"{version_id} was removed by the retention setting CROSSTRACK_KEEP_VERSIONS "
                                f"(kept: {names})")
    for sql in Layout.for_settings(settings).pointer_table(settings.database):
        engine.command(sql)
    seq = (_last_rollback(engine, settings) or (0, "", 0))[0] + 1
    now = dt.datetime.now(dt.timezone.utc)
    engine.command(
        f"INSERT INTO {qi(settings.database)}.publish_log (seq, version_id, after_version, at) VALUES "
        f"({int(seq)}, {q(target.version_id)}, {int(states[0].version.version_number)}, "
        f"toDateTime64({q(now.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3])}, 3, 'UTC'))")
    return target


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


def drop_stale(engine: Engine, settings: Settings, keep: int | None = None) -> list[str]:
    """Drop staging databases, databases no load_history row points at (killed or failed loads),
    and published databases older than the ``keep`` newest (``CROSSTRACK_KEEP_VERSIONS``); the
    published version is always kept, even when a rollback made it an old one."""
    keep = max(KEEP_PUBLISHED, settings.keep_versions if keep is None else keep)
    versions = published_versions(engine, settings)
    keep_dbs = {v.database for v in versions[:keep]}
    current = _resolve_current(versions, _last_rollback(engine, settings) if versions else None)
    if current is not None:
        keep_dbs.add(current.database)
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

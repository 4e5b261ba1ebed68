"""Row checks of the staged raw extracts, as ClickHouse queries, and the typed tables they feed.

Each table gets its single-row rules (an ARRAY JOIN over the rules that a row breaks), exact
duplicate rows and duplicate ids; then references are checked against the rows of the tables
they point to that passed. The queries that name rejected rows are exact and run as written,
but only when a cheaper pre-check says they can find something: one scan per table counts rule
breakers and hashes rows and ids (all hashes distinct means no duplicates), and one join per
table on UInt64 id hashes (with the ids compared too) counts reference problems. The typed
tables carry those hashes (``pid``, ``eid``), made collision-free per table, for the fact
joins. Every SQL literal here is a constant of this module; no extract value is ever written
into SQL text. Messages say what is wrong and where, never the value.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

import pyarrow as pa
import sqlglot
from sqlglot import exp

from crosstrack.engine import DIALECT, Engine
from crosstrack.loaders.extract import COLUMNS, MAX_FIELD_CHARS, Reject
from crosstrack.loaders import rules
from crosstrack.loaders.schema import (ASSIGNED_SEX, CUSTODY_STATUSES, DISPOSITIONS, FACILITY_TYPES, GENDER_DEFAULT,
                                       GENDER_IDENTITIES, PSI_AREAS, SEVERITIES, SOURCE_AGENCIES, SOURCE_ETHNICITIES,
                                       SOURCE_RACES, SOURCE_SECURITY_LEVELS)
from crosstrack.sql import arr, q, qi

# Allowed source codes, in the order error messages list them (loaders/schema.py's tables).
AGENCY_CODES = tuple(SOURCE_AGENCIES)
GENDER_LABELS = {v: k for k, v in GENDER_IDENTITIES.items() if k != GENDER_DEFAULT}
STATUSES = CUSTODY_STATUSES
CHARGE_SEVERITIES = tuple(s for s in SEVERITIES if s != "NOT_APPLICABLE")


def _in(col: str, values) -> str:
    return f"has({arr(values)}, {qi(col)})"


def _date_ok(col: str) -> str:
    c = qi(col)
    return (f"(match({c}, '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$') AND ifNull(toString(toDate32OrNull({c})) = {c}, 0) "
            f"AND {c} >= '1900-01-01' AND {c} <= {q(dt.date.today().isoformat())})")


Rule = tuple[str, str, str, str]  # column, rule id, message, SQL that is true when the row breaks it


def _required(col: str) -> Rule:
    return (col, "required", "value is required", f"{qi(col)} = ''")


def _code(col: str, values, *, empty_ok: bool = False) -> Rule:
    cond = f"NOT {_in(col, values)}"
    if empty_ok:
        cond = f"{qi(col)} != '' AND {cond}"
    allowed = ", ".join(values) + (" or empty" if empty_ok else "")
    return (col, "code", f"not an allowed code ({allowed})", cond)


def _date(col: str, *, required: bool = True) -> list[Rule]:
    rules = [(col, "format.date", "not a valid YYYY-MM-DD date between 1900 and today",
              f"{qi(col)} != '' AND NOT {_date_ok(col)}")]
    return ([_required(col)] if required else []) + rules


def charge_number_and_statute_rules() -> list[Rule]:
    """The charge number and statute rules of every charge file (charges, court_charges)."""
    return [
        _required("charge_number"),
        ("charge_number", "format.integer", "not a whole number from 1 to 999999",
         "charge_number != '' AND NOT match(charge_number, '^[1-9][0-9]{0,5}$')"),
        ("statute", "format.statute", "not CHAPTER/SECTION, CMR/... or MUNI/...",
         "statute != '' AND NOT match(statute, '^([0-9]{1,3}[A-Z]{0,2}|CMR|MUNI)/[^\\\\s]')"),
    ]


def single_row_rules(table: str) -> list[Rule]:
    length = [(c, "length", f"longer than {MAX_FIELD_CHARS} characters", f"length({qi(c)}) > {MAX_FIELD_CHARS}")
              for c in COLUMNS[table]]
    if table == "people":
        return length + [
            _required("person_id"),
            *_date("date_of_birth"),
            _code("assigned_sex", tuple(ASSIGNED_SEX)),
            ("gender_identity", "code", "not an allowed gender identity label or empty",
             f"gender_identity != '' AND NOT {_in('gender_identity', list(GENDER_LABELS))}"),
            _code("race", tuple(SOURCE_RACES), empty_ok=True),
            _code("ethnicity", tuple(SOURCE_ETHNICITIES), empty_ok=True),
        ]
    if table == "custody_episodes":
        return length + [
            _required("episode_id"), _required("person_id"), _required("facility"),
            _code("source_system", ("IMS", "OMS", "JMS")),
            _code("agency", AGENCY_CODES),
            ("agency", "R5.nantucket", "Nantucket holds no one; its people are in Barnstable's custody (R5)",
             "agency = 'NAN'"),
            _code("facility_type", tuple(FACILITY_TYPES)),
            _code("security_level", SOURCE_SECURITY_LEVELS, empty_ok=True),
            ("security_level", "consistency.security_level", "a security level is set but the agency is not DOC",
             "security_level != '' AND agency != 'DOC'"),
            _code("custody_status", STATUSES),
            _code("admission_type", ("NEW", "TRANSFER", "PAROLE_VIOLATION", "STATUS_CHANGE")),
            *_date("admission_date"),
            *_date("release_date", required=False),
            ("release_date", "order.release", "release_date is before admission_date",
             f"{_date_ok('release_date')} AND {_date_ok('admission_date')} AND release_date < admission_date"),
            ("source_system", "consistency.source_system", "IMS is the DOC system; OMS and JMS are Sheriffs' systems",
             f"{_in('source_system', ('IMS', 'OMS', 'JMS'))} AND {_in('agency', AGENCY_CODES)} "
             "AND (source_system = 'IMS') != (agency = 'DOC')"),
            ("facility_type", "consistency.facility_type", "DOC placements are PRISON; Sheriffs' are HOC or JAIL",
             f"{_in('facility_type', ('PRISON', 'HOC', 'JAIL'))} AND {_in('agency', AGENCY_CODES)} "
             "AND (facility_type = 'PRISON') != (agency = 'DOC')"),
        ]
    if table == "charges":
        return length + [
            _required("person_id"), _required("episode_id"), _required("docket_number"), _required("statute"),
            *_date("filing_date"),
            *charge_number_and_statute_rules(),
            _code("severity", CHARGE_SEVERITIES),
            _code("disposition", tuple(DISPOSITIONS)),
            _code("sentence", ("INCARCERATION", "PROBATION", "FINE", "SUSPENDED"), empty_ok=True),
            ("sentence", "consistency.sentence", "a sentence is set but the disposition is not CONVICTED",
             "sentence != '' AND disposition != 'CONVICTED'"),
            _code("governing", ("Y", "N"), empty_ok=True),
        ]
    if table == "program_enrollments":
        return length + [
            _required("person_id"), _required("program"),
            _code("agency", AGENCY_CODES),
            ("agency", "R5.nantucket", "Nantucket holds no one; its people are in Barnstable's custody (R5)",
             "agency = 'NAN'"),
            _code("psi_area", tuple(PSI_AREAS)),
            *_date("start_date"),
            *_date("end_date", required=False),
            ("end_date", "order.end", "end_date is before start_date",
             f"{_date_ok('end_date')} AND {_date_ok('start_date')} AND end_date < start_date"),
            _code("status", ("ENROLLED", "COMPLETED", "WITHDRAWN")),
        ]
    if table == "court_charges":  # version 2, optional (loaders/court.py)
        from crosstrack.loaders.court import court_rules
        return length + court_rules()
    raise KeyError(table)


UNIQUE_KEYS = {"people": ("person_id",), "custody_episodes": ("episode_id",),
               "charges": ("episode_id", "docket_number", "charge_number"),
               "court_charges": ("docket_number", "charge_number")}


def _file_rejects_sql(db: str, table: str) -> list[str]:
    raw = f"{qi(db)}.{qi('raw_' + table)}"
    rules = single_row_rules(table)
    items = ", ".join(f"tuple({q(c)}, {q(r)}, {q(m)}, toUInt8({cond}))" for c, r, m, cond in rules)
    any_broken = " OR ".join(f"({cond})" for _, _, _, cond in rules)
    # the rule list is built only for rows that break something: valid rows cost one filter
    out = [f"SELECT _row, v.1, v.2, v.3 FROM (SELECT * FROM {raw} WHERE {any_broken}) "
           f"ARRAY JOIN arrayFilter(x -> x.4 = 1, [{items}]) AS v"]
    allcols = ", ".join(qi(c) for c in COLUMNS[table])
    # duplicates: a hash aggregation finds candidates; the exact comparison runs only on those
    dup_rows = (f"(SELECT * FROM {raw} WHERE cityHash64({allcols}) IN "
                f"(SELECT cityHash64({allcols}) AS h FROM {raw} GROUP BY h HAVING count() > 1))")
    out.append(
        f"SELECT _row, '*', 'duplicate.row', concat('the same row as row ', toString(first)) FROM "
        f"(SELECT _row, min(_row) OVER (PARTITION BY {allcols}) AS first FROM {dup_rows}) WHERE _row != first")
    key = UNIQUE_KEYS.get(table)
    if key:
        k = ", ".join(qi(c) for c in key)
        nonempty = " AND ".join(f"{qi(c)} != ''" for c in key)
        label = " + ".join(key)
        out.append(
            f"SELECT _row, {q(key[-1] if len(key) == 1 else label)}, 'unique', "
            f"concat({q(label + ' is not unique; also on row ')}, toString(if(_row = mn, mx, mn))) FROM "
            f"(SELECT _row, count() OVER w AS n, min(_row) OVER w AS mn, max(_row) OVER w AS mx FROM "
            f"(SELECT * FROM (SELECT *, min(_row) OVER (PARTITION BY {allcols}) AS _first FROM "
            f"(SELECT * FROM {raw} WHERE ({k}) IN (SELECT {k} FROM {raw} GROUP BY {k} HAVING count() > 1))) "
            f"WHERE {nonempty} AND _row = _first) "
            f"WINDOW w AS (PARTITION BY {k})) WHERE n > 1")
    return out


def _file_rejects(engine: Engine, db: str, table: str) -> bool:
    """The single-row rules, then duplicate rows and duplicate ids. One scan counts the rows that
    break a single-row rule and hashes the ids (the whole rows, for a table without one): the
    query that lists rule breakers runs only when there are some, and when every id hashes
    differently no two ids are equal, and so no two rows, so the exact duplicate queries are
    skipped (the rows are hashed in a second scan only when some ids collide); otherwise each
    query runs as written. Returns True when the table's one-column id hashes apart under
    ``id_hash(id, 0)``: then the typed table needs no collision check (``_injective``)."""
    rules_sql, dup_sql, *unique_sql = _file_rejects_sql(db, table)
    raw = f"{qi(db)}.{qi('raw_' + table)}"
    allcols = ", ".join(qi(c) for c in COLUMNS[table])
    key = UNIQUE_KEYS.get(table)
    rows_distinct_sql = f"uniqExact(cityHash64({allcols}))"
    # a one-column id is hashed as the staging joins hash it, so the count also proves that hash one-to-one
    key_hash = (id_hash(qi(key[0]), 0) if len(key) == 1 else f"cityHash64({', '.join(qi(c) for c in key)})") if key \
        else None
    any_broken = " OR ".join(f"({cond})" for _, _, _, cond in single_row_rules(table))
    n, distinct, broken = engine.query(
        f"SELECT count(), {f'uniqExact({key_hash})' if key else rows_distinct_sql}, countIf({any_broken}) "
        f"FROM {raw}").rows[0]
    if broken:
        _insert_rejects(engine, db, table, [rules_sql])
    if key:
        keys_apart = distinct == n
        rows_distinct = n if keys_apart else engine.scalar(f"SELECT {rows_distinct_sql} FROM {raw}")
    else:
        keys_apart, rows_distinct = False, distinct
    if rows_distinct != n:
        _insert_rejects(engine, db, table, [dup_sql])
    if key and not keys_apart:
        _insert_rejects(engine, db, table, unique_sql)
    return keys_apart and len(key) == 1


REJECTS_DDL = ("CREATE TABLE {db}.rejects (`table` String, `row` UInt64, `column` String, `rule` String, "
               "`message` String) ENGINE = Memory")


def _insert_rejects(engine: Engine, db: str, table: str, selects: list[str]) -> None:
    for sql in selects:
        engine.command(f"INSERT INTO {qi(db)}.rejects SELECT {q(table)}, * FROM ({sql})")


def _ok(db: str, table: str) -> str:
    """Rows of a raw table that broke no rule so far."""
    return (f"(SELECT * FROM {qi(db)}.{qi('raw_' + table)} WHERE _row NOT IN "
            f"(SELECT `row` FROM {qi(db)}.rejects WHERE `table` = {q(table)}))")


def _ref_message(missing: str, rejected: str) -> str:
    return f"multiIf({missing}, 'is not in the file it refers to', {rejected}, 'refers to a rejected row', '')"


def validate(engine: Engine, db: str, parse_rejects: list[Reject], files: dict[str, str]) -> None:
    """Fill ``db.rejects`` and build the typed tables ``t_people``, ``t_episodes``, ``t_charges``,
    ``t_programs`` from the rows that pass. Tables are checked in reference order so a row that
    points at a rejected row is itself rejected (and says so)."""
    d = qi(db)
    engine.command(REJECTS_DDL.format(db=d))
    if parse_rejects:
        tables = {v: k for k, v in files.items()}
        engine.insert_arrow("rejects", pa.table({
            "table": [tables.get(r.file, r.file) for r in parse_rejects],
            "row": pa.array([r.row for r in parse_rejects], pa.uint64()),
            "column": [r.column for r in parse_rejects], "rule": [r.rule for r in parse_rejects],
            "message": [r.message for r in parse_rejects]}), database=db)

    # people ------------------------------------------------------------------------------
    people_apart = _file_rejects(engine, db, "people")

    def make_people(salt: int) -> None:
        typed = rules.rule("r04_typed_people", db, {"person_hash": lambda c: id_hash_tree(c, salt)})
        engine.command(rules.create_table(db, "t_people", typed))

    p_salt = _injective(engine, db, "t_people", "pid", make_people, people_apart)

    # episodes ----------------------------------------------------------------------------
    raw_people = f"{d}.raw_people"
    ep_refs = (
        f"SELECT e._row, 'person_id', 'reference.person', "
        f"concat('person_id ', {_ref_message(f'e.person_id NOT IN (SELECT person_id FROM {raw_people})', 'p.person_id = {empty}')}) "
        f"FROM {d}.raw_episodes_ok AS e LEFT JOIN {d}.t_people AS p ON p.person_id = e.person_id "
        f"WHERE p.person_id = '' AND e.person_id != ''"
    ).replace("{empty}", "''")
    born = (f"SELECT e._row, 'admission_date', 'order.birth', 'admission_date is before the date_of_birth of the person' "
            f"FROM {d}.raw_episodes_ok AS e INNER JOIN {d}.t_people AS p ON p.person_id = e.person_id "
            f"WHERE toDate32(e.admission_date) < p.dob")
    episodes_apart = _file_rejects(engine, db, "custody_episodes")
    engine.command(f"CREATE VIEW {d}.raw_episodes_ok AS SELECT * FROM {_ok(db, 'custody_episodes')}")
    # one join on the hashed id (the string compared too) says which exact checks can find anything
    found = "p.person_id = e.person_id"
    pre = engine.query(
        f"SELECT countIf(e.person_id != '' AND NOT {found}), "
        f"countIf({found} AND toDate32(e.admission_date) < p.dob) "
        f"FROM {d}.raw_episodes_ok AS e LEFT JOIN {d}.t_people AS p ON p.pid = {id_hash('e.person_id', p_salt)}").rows[0]
    _insert_rejects(engine, db, "custody_episodes", [sql for sql, n in zip([ep_refs, born], pre) if n])

    def make_episodes(salt: int) -> None:
        typed = rules.rule("r05_typed_episodes", db, {"episode_hash": lambda c: id_hash_tree(c, salt),
                                                      "person_hash": lambda c: id_hash_tree(c, p_salt)})
        engine.command(rules.create_table(db, "t_episodes", typed))

    e_salt = _injective(engine, db, "t_episodes", "eid", make_episodes, episodes_apart)

    # charges -----------------------------------------------------------------------------
    _file_rejects(engine, db, "charges")
    engine.command(f"CREATE VIEW {d}.raw_charges_ok AS SELECT * FROM {_ok(db, 'charges')}")
    raw_eps = f"{d}.raw_custody_episodes"
    ch_refs = [
        f"SELECT c._row, 'episode_id', 'reference.episode', concat('episode_id ', "
        f"{_ref_message(f'c.episode_id NOT IN (SELECT episode_id FROM {raw_eps})', '1')}) "
        f"FROM {d}.raw_charges_ok AS c LEFT ANTI JOIN {d}.t_episodes AS e ON e.episode_id = c.episode_id "
        f"WHERE c.episode_id != ''",
        f"SELECT c._row, 'person_id', 'reference.person', 'person_id is not the person of episode_id' "
        f"FROM {d}.raw_charges_ok AS c INNER JOIN {d}.t_episodes AS e ON e.episode_id = c.episode_id "
        f"WHERE e.person_id != c.person_id",
        f"SELECT c._row, 'governing', 'consistency.governing', 'governing is set but only the DOC system (IMS) sets it' "
        f"FROM {d}.raw_charges_ok AS c INNER JOIN {d}.t_episodes AS e ON e.episode_id = c.episode_id "
        f"WHERE c.governing != '' AND e.source_system != 'IMS'",
    ]
    found = "e.episode_id = c.episode_id"
    pre = engine.query(
        f"SELECT countIf(c.episode_id != '' AND NOT {found}), countIf({found} AND e.person_id != c.person_id), "
        f"countIf({found} AND c.governing != '' AND e.source_system != 'IMS') "
        f"FROM {d}.raw_charges_ok AS c LEFT JOIN {d}.t_episodes AS e ON e.eid = {id_hash('c.episode_id', e_salt)}"
    ).rows[0]
    _insert_rejects(engine, db, "charges", [sql for sql, n in zip(ch_refs, pre) if n])
    engine.command(
        f"CREATE TABLE {d}.t_charges ENGINE = Memory AS SELECT {id_hash('episode_id', e_salt)} AS eid, "
        f"docket_number AS docket, toDate32(filing_date) AS filing, toUInt32(charge_number) AS charge_no, statute, "
        f"severity, disposition, sentence, governing FROM {_ok(db, 'charges')}")

    # program enrollments -----------------------------------------------------------------
    _file_rejects(engine, db, "program_enrollments")
    engine.command(f"CREATE VIEW {d}.raw_programs_ok AS SELECT * FROM {_ok(db, 'program_enrollments')}")
    pr_refs = (
        f"SELECT r._row, 'person_id', 'reference.person', concat('person_id ', "
        f"{_ref_message(f'r.person_id NOT IN (SELECT person_id FROM {raw_people})', '1')}) "
        f"FROM {d}.raw_programs_ok AS r LEFT ANTI JOIN {d}.t_people AS p ON p.person_id = r.person_id "
        f"WHERE r.person_id != ''")
    missing = engine.scalar(
        f"SELECT countIf(r.person_id != '' AND p.person_id != r.person_id) FROM {d}.raw_programs_ok AS r "
        f"LEFT JOIN {d}.t_people AS p ON p.pid = {id_hash('r.person_id', p_salt)}")
    if missing:
        _insert_rejects(engine, db, "program_enrollments", [pr_refs])
    engine.command(
        f"CREATE TABLE {d}.t_programs ENGINE = Memory AS SELECT {id_hash('person_id', p_salt)} AS pid, psi_area AS psi, "
        f"program, toDate32(start_date) AS start FROM {_ok(db, 'program_enrollments')}")

    # court charges (version 2, optional): rearraignment and reconviction (docs/recidivism.md)
    from crosstrack.loaders.court import validate_court
    validate_court(engine, db, "court_charges" in files, p_salt)


def id_hash(col: str, salt: int) -> str:
    """A UInt64 standing in for a person or episode id inside the staging database, for joins
    only (never stored in a fact table)."""
    return f"cityHash64({col})" if salt == 0 else f"cityHash64({col}, {int(salt)})"


def id_hash_tree(col: exp.Expression, salt: int) -> exp.Expression:
    """:func:`id_hash` as a sqlglot tree (for the rule files): the one definition of the hash, so
    every join of a load uses the same one (``col`` is a column of a rule file, never input)."""
    return sqlglot.parse_one(id_hash(col.sql(DIALECT), salt), read=DIALECT)


def _injective(engine: Engine, db: str, table: str, col: str, make: Callable[[int], None],
               apart: bool = False) -> int:
    """Build ``table`` with ids hashed by ``make(salt)`` until no two of its (unique) ids share a
    hash, so that joining on the hash is joining on the id. Returns the salt used. ``apart``: the
    raw file's ids already hash apart under salt 0 (``_file_rejects``), and the table holds a
    subset of them, so salt 0 needs no count."""
    for salt in range(64):
        make(salt)
        if salt == 0 and apart:
            return salt
        n, distinct = engine.query(f"SELECT count(), uniqExact({qi(col)}) FROM {qi(db)}.{qi(table)}").rows[0]
        if n == distinct:
            return salt
        engine.command(f"DROP TABLE {qi(db)}.{qi(table)} SYNC")
    raise RuntimeError(f"could not find a collision-free id hash for {table}")


def fetch_rejects(engine: Engine, db: str, files: dict[str, str], limit: int = 1_000_000) -> list[Reject]:
    rows = engine.query(f"SELECT `table`, `row`, `column`, `rule`, `message` FROM {qi(db)}.rejects "
                        f"ORDER BY `table`, `row`, `column` LIMIT {int(limit)}").rows
    return [Reject(files.get(t, t), int(r), c, rule, m) for t, r, c, rule, m in rows]


def count_rejected_rows(engine: Engine, db: str) -> int:
    return int(engine.scalar(f"SELECT count() FROM (SELECT DISTINCT `table`, `row` FROM {qi(db)}.rejects)") or 0)


def drop_raw(engine: Engine, db: str) -> None:
    """Free the raw String copies once the typed tables and the rejects are built (facts read
    only ``t_*``), so a large load holds one copy of the data, not two."""
    d = qi(db)
    for view in ("raw_episodes_ok", "raw_charges_ok", "raw_programs_ok"):
        engine.command(f"DROP VIEW IF EXISTS {d}.{qi(view)} SYNC")
    for table in COLUMNS:
        engine.command(f"DROP TABLE IF EXISTS {d}.{qi('raw_' + table)} SYNC")

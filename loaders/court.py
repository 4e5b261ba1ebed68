"""Validation of the optional version-2 ``court_charges`` extract (spec/extracts.md), like the rest.

Single-row rules, duplicate rows and ids, and the reference to people run through the same
machinery as the other tables (``loaders.validate``): every reject names file, row, column and
rule, never a value. The typed table ``t_court`` feeds rearraignment (RC5) and reconviction
(RC6). A version-1 folder has no court file: ``t_court`` is then empty and ``court_data`` is 0,
so those measures are unavailable (NULL), never zero.
"""

from __future__ import annotations

from crosstrack.engine import Engine
from crosstrack.loaders.schema import DISPOSITIONS as DISPOSITION_LABELS
from crosstrack.loaders.validate import (CHARGE_SEVERITIES, Rule, _code, _date, _date_ok, _file_rejects, _insert_rejects,
                                         _ok, _ref_message, _required, charge_number_and_statute_rules, id_hash)
from crosstrack.sql import q, qi

DISPOSITIONS = tuple(DISPOSITION_LABELS)


def court_rules() -> list[Rule]:
    return [
        _required("person_id"), _required("docket_number"), _required("statute"),
        *_date("arraignment_date"),
        *charge_number_and_statute_rules(),
        _code("severity", CHARGE_SEVERITIES),
        _code("disposition", DISPOSITIONS),
        *_date("disposition_date", required=False),
        # spec: empty while pending; on or after the arraignment date
        ("disposition_date", "consistency.disposition_date", "disposition_date is set but the disposition is PENDING",
         "disposition_date != '' AND disposition = 'PENDING'"),
        ("disposition_date", "required", "value is required when the disposition is not PENDING",
         f"disposition_date = '' AND {_in_disp()} AND disposition != 'PENDING'"),
        ("disposition_date", "order.disposition", "disposition_date is before arraignment_date",
         f"{_date_ok('disposition_date')} AND {_date_ok('arraignment_date')} AND disposition_date < arraignment_date"),
    ]


def _in_disp() -> str:
    return "has([" + ", ".join(q(d) for d in DISPOSITIONS) + "], disposition)"


def validate_court(engine: Engine, db: str, present: bool, person_salt: int) -> None:
    """Rejects of ``raw_court_charges`` (when delivered) and the typed ``t_court``."""
    d = qi(db)
    if not present:
        engine.command(f"CREATE TABLE {d}.t_court (pid UInt64, arr Date32, convicted UInt8, disp Nullable(Date32)) "
                       f"ENGINE = Memory")
        return
    _file_rejects(engine, db, "court_charges")
    raw_people = f"{d}.raw_people"
    engine.command(f"CREATE VIEW {d}.raw_court_ok AS SELECT * FROM {_ok(db, 'court_charges')}")
    missing = engine.scalar(
        f"SELECT countIf(r.person_id != '' AND p.person_id != r.person_id) FROM {d}.raw_court_ok AS r "
        f"LEFT JOIN {d}.t_people AS p ON p.pid = {id_hash('r.person_id', person_salt)}")
    if missing:
        _insert_rejects(engine, db, "court_charges", [
            f"SELECT r._row, 'person_id', 'reference.person', concat('person_id ', "
            f"{_ref_message(f'r.person_id NOT IN (SELECT person_id FROM {raw_people})', '1')}) "
            f"FROM {d}.raw_court_ok AS r LEFT ANTI JOIN {d}.t_people AS p ON p.person_id = r.person_id "
            f"WHERE r.person_id != ''"])
    engine.command(f"DROP VIEW IF EXISTS {d}.raw_court_ok SYNC")
    engine.command(
        f"CREATE TABLE {d}.t_court ENGINE = Memory AS SELECT {id_hash('person_id', person_salt)} AS pid, "
        f"toDate32(arraignment_date) AS arr, toUInt8(disposition = 'CONVICTED') AS convicted, "
        f"if(disposition_date = '', NULL, toDate32(disposition_date)) AS disp FROM {_ok(db, 'court_charges')}")

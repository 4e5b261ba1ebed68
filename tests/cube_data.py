"""Small, deterministic fact tables for the semantic layer's tests (test data, so it lives in tests/:
it needs the loaders' schema, which cube/ itself must not import; tests/test_layers.py).

Tables have exactly the columns and types of ``loaders/schema.py``; rows are drawn from its
code lists with a fixed seed, so the same call always builds the same data.
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
from typing import Any

import pyarrow as pa
from sqlglot import exp

from crosstrack.engine import Engine
from crosstrack.loaders import schema as s
from crosstrack.sql import DIALECT

_ARROW = {"UInt8": pa.uint8(), "UInt16": pa.uint16(), "UInt32": pa.uint32(), "UInt64": pa.uint64(),
          "LowCardinality(String)": pa.string(), "String": pa.string()}


def _fresh_database(engine: Engine, database: str) -> str:
    """Drop and recreate ``database``; its quoted name, for the statements that fill it."""
    db = exp.to_identifier(database, quoted=True).sql(dialect=DIALECT)
    engine.command(f"DROP DATABASE IF EXISTS {db}")
    engine.command(f"CREATE DATABASE {db}")
    return db


def create_tables(engine: Engine, database: str) -> None:
    db = _fresh_database(engine, database)
    for table, (cols, order) in s.FACT_TABLES.items():
        body = ", ".join(f"`{c}` {t}" for c, t in cols.items())
        engine.command(f"CREATE TABLE {db}.`{table}` ({body}) ENGINE = MergeTree ORDER BY ({', '.join(order)})")


def insert(engine: Engine, database: str, table: str, rows: list[dict[str, Any]]) -> None:
    cols = s.FACT_TABLES[table][0]
    rows = [_with_record_keys(r) for r in rows]
    data = pa.table({c: pa.array([r[c] for r in rows], type=_ARROW[t]) for c, t in cols.items()})
    engine.insert_arrow(table, data, database=database)


def _with_record_keys(row: dict[str, Any]) -> dict[str, Any]:
    """A hand-made row gets fixed record keys (K7) from its other fields unless it names them."""
    if "row_key" in row and "enrollment_key" in row:
        return row
    seed = zlib.crc32(repr(sorted((k, str(v)) for k, v in row.items())).encode())
    return {"row_key": seed, "enrollment_key": zlib.crc32(b"e", seed) if row.get("enrollments_total") else 0, **row}


def synthetic_rows(n_people: int = 300, seed: int = 7, years=(2019, 2020, 2021)) -> tuple[list[dict], list[dict]]:
    rnd = random.Random(seed)
    custody, charges = [], []
    agencies = list(s.AGENCIES)[:5]
    subtypes = [k for k, v in s.OFFENSE_SUBTYPES.items() if k != "NOT_APPLICABLE"]
    for p in range(n_people):
        person_key = rnd.getrandbits(63) + 1
        record_key = rnd.getrandbits(32)
        base = dict(person_key=person_key, record_key=record_key,
                    agency=rnd.choice(agencies), age_group=rnd.choice(list(s.AGE_GROUPS)),
                    assigned_sex=rnd.choice(["M", "M", "M", "F", "U"]),
                    gender_identity=rnd.choice(["MALE", "MALE", "FEMALE", "NONBINARY"]),
                    race=rnd.choice(list(s.RACES)), ethnicity=rnd.choice(list(s.ETHNICITIES)))
        status = rnd.choice(["PRETRIAL", "SENTENCED", "SENTENCED"])
        doc = base["agency"] == "DOC"
        ftype = "PRISON" if doc else ("JAIL" if status == "PRETRIAL" else "HOC")
        sec = rnd.choice(["MAXIMUM", "MEDIUM", "MINIMUM", "PRE_RELEASE", "UNKNOWN"]) if doc else "NOT_APPLICABLE"
        days0 = rnd.randint(1, 900)
        for y in years:
            if rnd.random() < 0.3:
                continue
            st = rnd.choice(subtypes)
            otype = s.OFFENSE_SUBTYPES[st][1]
            sev = rnd.choice(["F", "M"])
            sentenced = status == "SENTENCED"
            enr = {a: rnd.choice([0, 0, 1, 2]) for a in ("beh", "edu", "sup", "work", "reinv", "relig")}
            row = dict(base, snapshot_year=y, facility_type=ftype, security_level=sec, offender_status=status,
                       incarceration_days=days0 + 365 * (y - years[0]), enrollments_total=sum(enr.values()),
                       **{f"enrollments_{a}": v for a, v in enr.items()},
                       governing_offense_type=otype if sentenced else "NOT_APPLICABLE",
                       governing_offense_subtype=st if sentenced else "NOT_APPLICABLE",
                       governing_offense_severity=sev if sentenced else "NOT_APPLICABLE",
                       leading_charge_type="NOT_APPLICABLE" if sentenced else otype,
                       leading_charge_subtype="NOT_APPLICABLE" if sentenced else st,
                       leading_charge_severity="NOT_APPLICABLE" if sentenced else sev)
            custody.append(row)
            if sentenced:
                for _ in range(rnd.randint(1, 4)):
                    cst = rnd.choice(subtypes)
                    disp = rnd.choice(list(s.DISPOSITIONS))
                    charges.append(dict({k: base[k] for k in base}, snapshot_year=y, facility_type=ftype,
                                        offense_type=s.OFFENSE_SUBTYPES[cst][1], offense_subtype=cst,
                                        severity=rnd.choice(["F", "M"]), disposition=disp,
                                        convicted=int(disp == "CONVICTED")))
    return custody, charges


def build_synthetic(engine: Engine, database: str, n_people: int = 300, seed: int = 7) -> tuple[list[dict], list[dict]]:
    create_tables(engine, database)
    custody, charges = synthetic_rows(n_people, seed)
    insert(engine, database, "custody_facts", custody)
    insert(engine, database, "charge_facts", charges)
    return custody, charges


SHOP_USERS = [(1, "Boston"), (2, "Boston"), (3, "Worcester"), (4, "Springfield")]
SHOP_ORDERS = [  # id, user_id, amount, status, is_gift, created_at
    (1, 1, 120, "paid", 1, "2021-01-05 10:00:00"),
    (2, 1, 15, "open", 0, "2021-01-20 11:30:00"),
    (3, 2, 40, "paid", 0, "2021-02-02 09:00:00"),
    (4, 3, 80, "void", 1, "2021-03-15 16:45:00"),
    (5, 3, 5, "paid", 0, "2021-03-31 23:59:59"),
    (6, 4, 300, "paid", 0, "2022-01-01 00:00:00"),
    (7, 2, 20, "open", 0, "2022-06-10 12:00:00"),
]
SHOP_LINE_ITEMS = [  # id, order_id, product, qty — order 1 has three lines, 6 none (fan-out + LEFT JOIN)
    (1, 1, "tea", 2), (2, 1, "mug", 1), (3, 1, "honey", 4), (4, 2, "tea", 1), (5, 3, "mug", 2),
    (6, 4, "tea", 1), (7, 4, "honey", 1), (8, 5, "tea", 3), (9, 7, "mug", 1),
]


def build_shop(engine: Engine, database: str) -> None:
    db = _fresh_database(engine, database)
    engine.command(f"CREATE TABLE {db}.shop_users (id UInt32, city String) ENGINE = MergeTree ORDER BY id")
    engine.command(f"CREATE TABLE {db}.shop_orders (id UInt32, user_id UInt32, amount Int64, status String, "
                   f"is_gift Bool, created_at DateTime('UTC')) ENGINE = MergeTree ORDER BY id")
    engine.command(f"CREATE TABLE {db}.shop_line_items (id UInt32, order_id UInt32, product String, qty Int64) "
                   f"ENGINE = MergeTree ORDER BY id")
    engine.insert_arrow("shop_users", pa.table({"id": pa.array([u[0] for u in SHOP_USERS], pa.uint32()),
                                                 "city": [u[1] for u in SHOP_USERS]}), database=database)
    engine.insert_arrow("shop_orders", pa.table({
        "id": pa.array([o[0] for o in SHOP_ORDERS], pa.uint32()),
        "user_id": pa.array([o[1] for o in SHOP_ORDERS], pa.uint32()),
        "amount": pa.array([o[2] for o in SHOP_ORDERS], pa.int64()),
        "status": [o[3] for o in SHOP_ORDERS],
        "is_gift": pa.array([bool(o[4]) for o in SHOP_ORDERS], pa.bool_()),
        "created_at": pa.array([dt.datetime.fromisoformat(o[5]).replace(tzinfo=dt.timezone.utc) for o in SHOP_ORDERS],
                               pa.timestamp("s", tz="UTC"))}), database=database)
    engine.insert_arrow("shop_line_items", pa.table({
        "id": pa.array([x[0] for x in SHOP_LINE_ITEMS], pa.uint32()),
        "order_id": pa.array([x[1] for x in SHOP_LINE_ITEMS], pa.uint32()),
        "product": [x[2] for x in SHOP_LINE_ITEMS],
        "qty": pa.array([x[3] for x in SHOP_LINE_ITEMS], pa.int64())}), database=database)


# Agencies (one side) and their placements (many side): one_to_many with a time dimension, and
# an agency without placements, so a LEFT JOIN adds a NULL placement row (the fan-out count case).
STAY_AGENCIES = [("BER", "West"), ("BRI", "South"), ("ESS", "North"), ("HMD", "West"), ("SUF", "Boston")]


def stay_rows(seed: int = 14) -> list[tuple]:
    """(id, agency, person, status, days, admitted_at) for every agency but HMD, 2020-2022."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, 121):
        agency = rng.choice(["BER", "BER", "BRI", "ESS", "SUF", "SUF"])
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        rows.append((i, agency, rng.randint(1, 60), rng.choice(["PRETRIAL", "SENTENCED"]), rng.randint(1, 400),
                     f"{rng.choice([2020, 2021, 2022])}-{month:02d}-{day:02d} {rng.randint(0, 23):02d}:00:00"))
    return rows


def build_stays(engine: Engine, database: str) -> None:
    db = _fresh_database(engine, database)
    engine.command(f"CREATE TABLE {db}.stay_agencies (code String, region String) ENGINE = MergeTree ORDER BY code")
    engine.command(f"CREATE TABLE {db}.stay_placements (id UInt32, agency String, person UInt32, status String, "
                   f"days Int64, admitted_at DateTime('UTC')) ENGINE = MergeTree ORDER BY id")
    engine.insert_arrow("stay_agencies", pa.table({"code": [a for a, _ in STAY_AGENCIES],
                                                    "region": [r for _, r in STAY_AGENCIES]}), database=database)
    rows = stay_rows()
    engine.insert_arrow("stay_placements", pa.table({
        "id": pa.array([r[0] for r in rows], pa.uint32()), "agency": [r[1] for r in rows],
        "person": pa.array([r[2] for r in rows], pa.uint32()), "status": [r[3] for r in rows],
        "days": pa.array([r[4] for r in rows], pa.int64()),
        "admitted_at": pa.array([dt.datetime.fromisoformat(r[5]).replace(tzinfo=dt.timezone.utc) for r in rows],
                                pa.timestamp("s", tz="UTC"))}), database=database)

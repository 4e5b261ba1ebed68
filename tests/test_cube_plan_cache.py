"""QueryEngine's cache of compiled + rendered SQL (a performance aid) never changes an answer:
the SQL it runs is exactly a fresh compile's, a published database (a data version) always gets
its own SQL — never an older version's — queries that differ only in value types (1 vs "1")
stay distinct, and forget() drops plans together with the rollup-table knowledge they used."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosstrack import cube
from crosstrack.config import load_settings
from crosstrack.engine import DIALECT, Engine
from crosstrack.cube import query as cq
from crosstrack.cube.query import QueryEngine
from cube_data import build_shop

GOLDEN = Path(__file__).resolve().parent / "golden"
DB_A, DB_B = "cube_pc_a", "cube_pc_b"
Q = {"measures": ["orders.total_amount", "orders.count"], "dimensions": ["orders.status"],
     "order": {"orders.status": "asc"}, "total": True}


@pytest.fixture(scope="module")
def qe() -> QueryEngine:
    engine = Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))
    build_shop(engine, DB_A)
    build_shop(engine, DB_B)
    engine.command(f"ALTER TABLE {DB_B}.shop_orders DELETE WHERE status = 'void'",
                   settings={"mutations_sync": 2})
    return QueryEngine(cube.load_model(GOLDEN / "models"), engine)


def test_cached_sql_is_a_fresh_compile_and_rows_repeat(qe):
    """R-version: the cached plan renders exactly the SQL a fresh compile renders, twice over."""
    first = qe.load(Q, database=DB_A)
    second = qe.load(dict(Q), database=DB_A)
    fresh = qe.compile(Q, database=DB_A).sql(dialect=DIALECT)
    assert first.sql == second.sql == fresh
    assert first.data == second.data and first.total == second.total
    assert first.annotation == second.annotation and first.columns == second.columns


def test_new_database_never_gets_old_sql(qe):
    """Published data versions (one database each) are keyed apart: version B runs B's SQL."""
    a = qe.load(Q, database=DB_A)
    b = qe.load(Q, database=DB_B)
    assert DB_A in a.sql and DB_A not in b.sql and DB_B in b.sql
    assert {r["orders.status"] for r in a.data} - {r["orders.status"] for r in b.data} == {"void"}
    assert b.total == a.total - 1


def test_value_types_stay_distinct(qe):
    """A filter value 1 and "1" are different queries (no cache collision)."""
    as_int = {"dimensions": ["orders.id"], "filters": [{"member": "orders.id", "operator": "equals", "values": [1]}]}
    as_str = {"dimensions": ["orders.id"], "filters": [{"member": "orders.id", "operator": "equals", "values": ["1"]}]}
    assert cq._freeze(as_int) != cq._freeze(as_str)
    s_int = qe.load(as_int, database=DB_A).sql
    s_str = qe.load(as_str, database=DB_A).sql
    assert s_int == qe.compile(as_int, database=DB_A).sql(dialect=DIALECT)
    assert s_str == qe.compile(as_str, database=DB_A).sql(dialect=DIALECT)


def test_cache_is_bounded_and_forget_clears(qe, monkeypatch):
    """The plan cache keeps at most PLAN_CACHE_SIZE entries and forget() empties it."""
    monkeypatch.setattr(cq, "PLAN_CACHE_SIZE", 3)
    for n in range(6):
        qe.load({"measures": ["orders.count"], "limit": n + 1}, database=DB_A)
    assert len(qe._plans) == 3
    qe.forget(DB_A)
    assert len(qe._plans) == 0


def test_column_wise_shaping_equals_row_by_row():
    """Rows shaped column by column are the row-by-row shaping: keys, extra keys, NaN -> None,
    Decimal -> float, datetimes as Cube strings, plain values untouched."""
    import datetime as dt
    import decimal

    from crosstrack.cube.compiler import Column

    names = ("a", "b", "c", "d", "e")
    rows = [(1, 1.5, decimal.Decimal("2.5"), dt.datetime(2024, 1, 1, 3, 4, 5, 6000), "x"),
            (None, float("nan"), None, dt.date(2023, 2, 3), True),
            (3, float("inf"), decimal.Decimal("1"), None, None)]
    columns = (Column("e", "v.e", "dimension", "string"), Column("a", "v.a", "measure", "number"),
               Column("b", "v.b", "measure", "number"), Column("c", "v.c", "measure", "number"),
               Column("d", "v.d.day", "time", "time", ("v.d",)), Column("a", "v.a", "measure", "number"))
    expected = []
    for row in rows:
        item = {}
        for c in columns:
            v = cq._value(row[names.index(c.alias)])
            item[c.key] = v
            for k in c.extra_keys:
                item[k] = v
        expected.append(item)
    got = cq._shape(names, rows, columns)
    assert got == expected and [list(r) for r in got] == [list(r) for r in expected]
    assert got[1]["v.b"] is None and got[0]["v.d"] == "2024-01-01T03:04:05.006"
    assert cq._shape(names, [], columns) == []

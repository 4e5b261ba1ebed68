"""Run one query against a SQL surface with a real Postgres driver (psycopg 3).

For tests, the attack suite (spec/disclosure.md, attack 6 "shapes") and scripts: the answer
comes over the wire exactly as a BI tool would see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def connect(host: str, port: int, *, password: str | None = None, sslmode: str = "prefer", **kw: Any):
    import psycopg

    return psycopg.connect(host=host, port=port, dbname="crosstrack", user=kw.pop("user", "analyst"),
                           password=password, sslmode=sslmode, autocommit=True, connect_timeout=10, **kw)


def sql_query(host: str, port: int, sql: str, params: Sequence[Any] | None = None, *,
              password: str | None = None, prepare: bool | None = None) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of one query; with params, the extended protocol binds them server-side."""
    with connect(host, port, password=password) as conn:
        cur = conn.execute(sql, params, prepare=prepare)
        cols = [d.name for d in cur.description or []]
        return cols, cur.fetchall() if cur.description else []


def sql_rows(host: str, port: int, sql: str, params: Sequence[Any] | None = None, *,
             password: str | None = None, prepare: bool | None = None) -> list[dict[str, Any]]:
    """Rows of one query as dicts keyed by column name (``suppressed`` included when selected)."""
    cols, rows = sql_query(host, port, sql, params, password=password, prepare=prepare)
    return [dict(zip(cols, r)) for r in rows]

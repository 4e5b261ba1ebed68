"""A small ``pg_catalog`` and ``information_schema`` for clients to connect and browse.

Catalogue queries (psql's ``\\dt`` and ``\\d``, drivers' and BI tools' introspection,
``version()``, ``current_database()``) are answered from an in-memory SQLite database holding
Postgres-shaped catalogue tables that describe the dataset tables — never data. The query is
parsed with sqlglot (postgres), Postgres-only constructs (``OPERATOR(pg_catalog.~)``,
``::regclass``, ``COLLATE``, ``pg_catalog.`` function prefixes) are rewritten in the tree, and
the tree is generated as SQLite. The catalogue holds only table and column names, types and
descriptions, so nothing here can reach a fact row (K6).
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from typing import Any

from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.messages import Column, Result
from crosstrack.api.pgwire.pgtypes import BOOL, FLOAT8, INT8, NAME, OID, TEXT
from crosstrack.api.pgwire.catalog_schema import (BOOL_COLUMNS, INFO_TABLES, OID_COLUMNS, PG_TABLES, SQL_TYPE_NAMES,
                                                  SYSTEM_CATALOG_OIDS, TABLE_OID_BASE, TYPE_NAMES, VERSION_STRING,
                                                  catalog_tables)
from crosstrack.api.pgwire.catalog_sql import to_sqlite
from crosstrack.api.pgwire.tables import Table

log = logging.getLogger("crosstrack.pgwire")


class CatalogDB:
    """One SQLite connection holding the catalogue; queries run under a lock."""

    def __init__(self, tables: dict[str, Table], settings_view: dict[str, str]):
        self.tables = tables
        self.oids = {t.name: TABLE_OID_BASE + 2 * i for i, t in enumerate(sorted(tables.values(), key=lambda t: t.name))}
        self.settings_view = settings_view
        self.lock = threading.Lock()
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.db.execute("ATTACH DATABASE ':memory:' AS pg_catalog")
        self.db.execute("ATTACH DATABASE ':memory:' AS information_schema")
        data = catalog_tables(tables)
        for name, cols in PG_TABLES.items():
            self._create(f"pg_catalog.{name}", cols, data[name])
        for name, cols in INFO_TABLES.items():
            self._create(f"information_schema.{name}", cols, data[f"information_schema.{name}"])
        self._create("pg_catalog.pg_settings", PG_TABLES["pg_settings"],
                     [(k, v, None, None, None, "user", "string", "session") for k, v in settings_view.items()],
                     replace=True)
        self._functions()

    def _create(self, name: str, cols: list[tuple[str, str]], rows: list[tuple], *, replace: bool = False) -> None:
        if replace:
            self.db.execute(f"DROP TABLE IF EXISTS {name}")
        self.db.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in cols)})")
        if rows:
            self.db.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", rows)

    def _functions(self) -> None:
        f = self.db.create_function
        names = {v: k for k, v in self.oids.items()}
        descs = {(self.oids[t.name], i): d for t in self.tables.values() for i, (_, _, d) in enumerate(t.columns, 1)}

        def regclass(v: Any) -> int | None:
            if v is None:
                return None
            if isinstance(v, int) or str(v).isdigit():
                return int(v)
            name = str(v).strip('"').split(".")[-1].strip('"')
            if name in self.oids:
                return self.oids[name]
            if name in SYSTEM_CATALOG_OIDS:  # pg_description.classoid = 'pg_catalog.pg_class'::regclass
                return SYSTEM_CATALOG_OIDS[name]
            raise sqlite3.OperationalError(f'relation "{name[:63]}" does not exist')

        f("regclass", 1, regclass)
        type_oids = {name: oid for oid, name in TYPE_NAMES.items()}
        type_oids.update({name: oid for oid, name in SQL_TYPE_NAMES.items()})
        type_names = {oid: SQL_TYPE_NAMES.get(oid, name) for oid, name in TYPE_NAMES.items()}

        def to_regtype(v: Any) -> int | None:
            # NULL for a type that does not exist (hstore, citext...): drivers probe for extensions this way.
            return None if v is None else type_oids.get(str(v).strip('"').split(".")[-1].strip('"').lower())

        def to_regclass(v: Any) -> int | None:
            return None if v is None else self.oids.get(str(v).strip('"').split(".")[-1].strip('"'))

        f("to_regtype", 1, to_regtype)
        f("to_regclass", 1, to_regclass)
        f("regtype_name", 1, lambda oid: None if oid is None else type_names.get(int(oid), names.get(int(oid), str(oid)))
          if str(oid).isdigit() else str(oid))
        f("pg_array_json", 1, _array_json)
        f("json_build_object", -1, lambda *a: json.dumps(dict(zip(a[::2], a[1::2]))))
        f("regclass_name", 1, lambda v: names.get(v, str(v)))
        f("pg_regex", 2, lambda s, p: None if s is None or p is None else bool(re.search(p, str(s))))
        f("pg_iregex", 2, lambda s, p: None if s is None or p is None else bool(re.search(p, str(s), re.IGNORECASE)))
        f("pg_table_is_visible", 1, lambda oid: True)
        f("pg_type_is_visible", 1, lambda oid: True)
        f("pg_function_is_visible", 1, lambda oid: True)
        f("pg_collation_is_visible", 1, lambda oid: True)
        f("pg_opclass_is_visible", 1, lambda oid: True)
        f("format_type", 2, lambda oid, mod: SQL_TYPE_NAMES.get(oid, TYPE_NAMES.get(oid, "text")) if oid is not None else None)
        f("pg_get_userbyid", 1, lambda oid: "crosstrack")
        f("obj_description", 2, lambda oid, cat: self._one("SELECT description FROM pg_description WHERE objoid=? AND objsubid=0", oid))
        f("obj_description", 1, lambda oid: self._one("SELECT description FROM pg_description WHERE objoid=? AND objsubid=0", oid))
        f("col_description", 2, lambda oid, num: descs.get((oid, num)))
        f("shobj_description", 2, lambda oid, cat: None)
        for fname, n in (("pg_get_expr", 2), ("pg_get_expr", 3), ("pg_get_indexdef", 1), ("pg_get_indexdef", 3),
                         ("pg_get_constraintdef", 1), ("pg_get_constraintdef", 2), ("pg_get_viewdef", 1),
                         ("pg_get_viewdef", 2), ("pg_get_triggerdef", 2), ("pg_get_partkeydef", 1),
                         ("pg_get_statisticsobjdef_columns", 1), ("pg_get_function_result", 1),
                         ("pg_get_function_arguments", 1), ("pg_tablespace_location", 1)):
            f(fname, n, lambda *a: None)
        f("version", 0, lambda: VERSION_STRING)
        f("current_database", 0, lambda: "crosstrack")
        f("current_schema", 0, lambda: "public")
        f("current_user_fn", 0, lambda: "crosstrack")
        f("pg_backend_pid", 0, lambda: threading.get_ident() & 0x7FFFFFFF)
        f("pg_is_in_recovery", 0, lambda: False)
        f("pg_relation_is_publishable", 1, lambda oid: False)
        f("pg_get_serial_sequence", 2, lambda t, c: None)
        f("pg_get_keywords", 0, lambda: None)
        f("pg_postmaster_start_time", 0, lambda: None)
        f("pg_encoding_to_char", 1, lambda e: "UTF8")
        f("pg_size_pretty", 1, lambda n: "0 bytes")
        for fname in ("pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size"):
            f(fname, 1, lambda oid: 0)
        for fname in ("has_table_privilege", "has_schema_privilege", "has_database_privilege", "has_column_privilege"):
            f(fname, 2, lambda a, b: True)
            f(fname, 3, lambda a, b, c: a in ("SELECT", "select", "USAGE", "usage", "CONNECT", "connect") or
              c in ("SELECT", "select", "USAGE", "usage", "CONNECT", "connect"))
        f("current_setting", 1, lambda name: self.settings_view.get(str(name).lower()))
        f("current_setting", 2, lambda name, missing: self.settings_view.get(str(name).lower()))
        f("quote_ident", 1, lambda s: s)
        f("array_to_string", 2, lambda a, sep: a)
        f("pg_any", 2, lambda v, arr: None if arr is None else str(v) in str(arr).strip("{}").split(","))
        f("pg_catalog_concat", -1, lambda *a: "".join("" if x is None else str(x) for x in a))

    def _one(self, sql: str, *args: Any) -> Any:
        row = self.db.execute(sql, args).fetchone()
        return row[0] if row else None

    def run(self, tree: exp.Expression, settings_view: dict[str, str]) -> Result:
        self.settings_view = settings_view
        try:
            sql = to_sqlite(tree)
        except Exception as err:  # noqa: BLE001 - a rewrite that does not fit is a refusal, never a dropped connection
            log.warning("catalogue rewrite failed (%s)", type(err).__name__)
            raise PgError("sql.unsupported_statement", "this catalogue query uses a form the crosstrack SQL surface does not answer",
                          hint=CATALOGUE_HINT) from None
        with self.lock:
            try:
                cur = self.db.execute(sql)
                rows = cur.fetchall()
            except sqlite3.Error as err:
                raise catalogue_error(err) from None
        names = [d[0] for d in cur.description or []]
        cols = []
        for i, n in enumerate(names):
            sample = next((r[i] for r in rows if r[i] is not None), None)
            oid = _oid_for(n, sample)
            cols.append(Column(n, oid))
        if any(c.oid == BOOL for c in cols):
            idx = [i for i, c in enumerate(cols) if c.oid == BOOL]
            rows = [tuple(bool(v) if i in idx and v is not None else v for i, v in enumerate(r)) for r in rows]
        return Result(f"SELECT {len(rows)}", cols, rows)


CATALOGUE_HINT = ("catalogue: information_schema.tables/columns, pg_catalog.pg_class/pg_attribute/pg_namespace/"
                  "pg_type/pg_index/pg_constraint, version(), current_database(), SHOW")


def catalogue_error(err: Exception) -> PgError:
    """A Postgres-style error for a catalogue query the SQLite catalogue could not run.

    SQLite's own text ("near ...: syntax error") describes the rewritten query, not the one the client
    sent, so only the missing column, function or relation is named, the way Postgres names it.
    """
    text = str(err).split("\n")[0]
    m = re.match(r"no such column: ([\w.\"]+)", text)
    if m:
        return PgError("sql.unknown_column", f"column {m.group(1)[:63]} does not exist in the crosstrack catalogue", hint=CATALOGUE_HINT)
    m = re.match(r"no such function: (\w+)", text)
    if m:
        return PgError("sql.unknown_function", f"function {m.group(1).lower()[:63]}() is not available on the crosstrack SQL surface",
                       hint=CATALOGUE_HINT)
    m = re.match(r"no such table: ([\w.]+)", text)
    if m:
        return PgError("sql.unknown_relation", f"relation \"{m.group(1)[:63]}\" does not exist", hint=CATALOGUE_HINT)
    m = re.match(r'relation "([^"]*)" does not exist', text)
    if m:
        return PgError("sql.unknown_relation", text[:120], hint="datasets: see \\dt or information_schema.tables")
    return PgError("sql.unsupported_statement", "this catalogue query uses a form the crosstrack SQL surface does not answer",
                   hint=CATALOGUE_HINT)


def _array_json(v: Any) -> str:
    """A catalogue array held as Postgres text ('{a,b}') as a JSON array, for json_each (unnest)."""
    if v is None:
        return "[]"
    if isinstance(v, (int, float)):
        return json.dumps([v])
    text = str(v).strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    elif " " in text and "," not in text:  # int2vector (indkey) is space-separated
        return json.dumps([int(x) if x.lstrip("-").isdigit() else x for x in text.split()])
    items = [x.strip().strip('"') for x in text.split(",")] if text else []
    return json.dumps([int(x) if x.lstrip("-").isdigit() else x for x in items])


def _oid_for(name: str, sample: Any) -> int:
    base = name.split(".")[-1].lower()
    if base in BOOL_COLUMNS or isinstance(sample, bool):
        return BOOL
    if base in OID_COLUMNS:
        return OID
    if isinstance(sample, int):
        return INT8
    if isinstance(sample, float):
        return FLOAT8
    if base in ("relname", "nspname", "attname", "typname", "datname", "rolname"):
        return NAME
    return TEXT

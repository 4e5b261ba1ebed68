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

import sqlglot
from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.messages import Column, Result
from crosstrack.api.pgwire.pgtypes import BOOL, FLOAT8, INT2, INT4, INT8, NAME, OID, TEXT
from crosstrack.api.pgwire.tables import Table

log = logging.getLogger("crosstrack.pgwire")

PG_VERSION = "14.0"
VERSION_STRING = f"PostgreSQL {PG_VERSION} (crosstrack SQL surface: published, disclosure-controlled cells only)"
NS_CATALOG, NS_PUBLIC, NS_INFO = 11, 2200, 13000
OWNER = 10
TABLE_OID_BASE = 16400
TYPE_NAMES = {BOOL: "bool", INT8: "int8", INT2: "int2", INT4: "int4", TEXT: "text", OID: "oid", FLOAT8: "float8",
              NAME: "name", 1043: "varchar", 1700: "numeric", 700: "float4", 17: "bytea", 1082: "date",
              1114: "timestamp", 1184: "timestamptz", 705: "unknown", 2205: "regclass", 1009: "_text"}
SQL_TYPE_NAMES = {BOOL: "boolean", INT8: "bigint", INT4: "integer", INT2: "smallint", TEXT: "text",
                  FLOAT8: "double precision", 1043: "character varying", 1700: "numeric", NAME: "name", OID: "oid"}

# Catalogue schema: table -> [(column, sqlite type)]. Booleans are stored as 0/1 and turned
# back into Postgres booleans by column name on the way out.
_INT, _TXT, _BOOL, _REAL = "INTEGER", "TEXT", "BOOLEAN", "REAL"
PG_TABLES: dict[str, list[tuple[str, str]]] = {
    "pg_namespace": [("oid", _INT), ("nspname", _TXT), ("nspowner", _INT), ("nspacl", _TXT)],
    "pg_class": [("oid", _INT), ("relname", _TXT), ("relnamespace", _INT), ("reltype", _INT), ("reloftype", _INT),
                 ("relowner", _INT), ("relam", _INT), ("relfilenode", _INT), ("reltablespace", _INT),
                 ("relpages", _INT), ("reltuples", _REAL), ("relallvisible", _INT), ("reltoastrelid", _INT),
                 ("relhasindex", _BOOL), ("relisshared", _BOOL), ("relpersistence", _TXT), ("relkind", _TXT),
                 ("relnatts", _INT), ("relchecks", _INT), ("relhasrules", _BOOL), ("relhastriggers", _BOOL),
                 ("relhassubclass", _BOOL), ("relrowsecurity", _BOOL), ("relforcerowsecurity", _BOOL),
                 ("relispopulated", _BOOL), ("relreplident", _TXT), ("relispartition", _BOOL),
                 ("relrewrite", _INT), ("relfrozenxid", _INT), ("relminmxid", _INT), ("relacl", _TXT),
                 ("reloptions", _TXT), ("relpartbound", _TXT), ("relhasoids", _BOOL)],
    "pg_attribute": [("attrelid", _INT), ("attname", _TXT), ("atttypid", _INT), ("attstattarget", _INT),
                     ("attlen", _INT), ("attnum", _INT), ("attndims", _INT), ("attcacheoff", _INT),
                     ("atttypmod", _INT), ("attbyval", _BOOL), ("attalign", _TXT), ("attstorage", _TXT),
                     ("attcompression", _TXT), ("attnotnull", _BOOL), ("atthasdef", _BOOL),
                     ("atthasmissing", _BOOL), ("attidentity", _TXT), ("attgenerated", _TXT),
                     ("attisdropped", _BOOL), ("attislocal", _BOOL), ("attinhcount", _INT),
                     ("attcollation", _INT), ("attacl", _TXT), ("attoptions", _TXT), ("attfdwoptions", _TXT),
                     ("attmissingval", _TXT)],
    "pg_type": [("oid", _INT), ("typname", _TXT), ("typnamespace", _INT), ("typowner", _INT), ("typlen", _INT),
                ("typbyval", _BOOL), ("typtype", _TXT), ("typcategory", _TXT), ("typispreferred", _BOOL),
                ("typisdefined", _BOOL), ("typdelim", _TXT), ("typrelid", _INT), ("typelem", _INT),
                ("typarray", _INT), ("typinput", _TXT), ("typoutput", _TXT), ("typreceive", _TXT),
                ("typsend", _TXT), ("typalign", _TXT), ("typstorage", _TXT), ("typnotnull", _BOOL),
                ("typbasetype", _INT), ("typtypmod", _INT), ("typndims", _INT), ("typcollation", _INT),
                ("typdefault", _TXT), ("typacl", _TXT)],
    "pg_am": [("oid", _INT), ("amname", _TXT), ("amhandler", _TXT), ("amtype", _TXT)],
    "pg_database": [("oid", _INT), ("datname", _TXT), ("datdba", _INT), ("encoding", _INT),
                    ("datcollate", _TXT), ("datctype", _TXT), ("datistemplate", _BOOL), ("datallowconn", _BOOL),
                    ("datconnlimit", _INT), ("dattablespace", _INT), ("datacl", _TXT)],
    "pg_roles": [("oid", _INT), ("rolname", _TXT), ("rolsuper", _BOOL), ("rolinherit", _BOOL),
                 ("rolcreaterole", _BOOL), ("rolcreatedb", _BOOL), ("rolcanlogin", _BOOL),
                 ("rolreplication", _BOOL), ("rolconnlimit", _INT), ("rolvaliduntil", _TXT),
                 ("rolbypassrls", _BOOL), ("rolconfig", _TXT)],
    "pg_description": [("objoid", _INT), ("classoid", _INT), ("objsubid", _INT), ("description", _TXT)],
    "pg_settings": [("name", _TXT), ("setting", _TXT), ("unit", _TXT), ("category", _TXT),
                    ("short_desc", _TXT), ("context", _TXT), ("vartype", _TXT), ("source", _TXT)],
    "pg_tables": [("schemaname", _TXT), ("tablename", _TXT), ("tableowner", _TXT), ("tablespace", _TXT),
                  ("hasindexes", _BOOL), ("hasrules", _BOOL), ("hastriggers", _BOOL), ("rowsecurity", _BOOL)],
    # Relations crosstrack has none of: present and empty so introspection finds nothing.
    "pg_index": [("indexrelid", _INT), ("indrelid", _INT), ("indnatts", _INT), ("indnkeyatts", _INT),
                 ("indisunique", _BOOL), ("indnullsnotdistinct", _BOOL), ("indisprimary", _BOOL),
                 ("indisexclusion", _BOOL), ("indimmediate", _BOOL), ("indisclustered", _BOOL),
                 ("indisvalid", _BOOL), ("indcheckxmin", _BOOL), ("indisready", _BOOL), ("indislive", _BOOL),
                 ("indisreplident", _BOOL), ("indkey", _TXT), ("indcollation", _TXT), ("indclass", _TXT),
                 ("indoption", _TXT), ("indexprs", _TXT), ("indpred", _TXT)],
    "pg_constraint": [("oid", _INT), ("conname", _TXT), ("connamespace", _INT), ("contype", _TXT),
                      ("conrelid", _INT), ("confrelid", _INT), ("conindid", _INT), ("conkey", _TXT),
                      ("confkey", _TXT), ("conparentid", _INT), ("convalidated", _BOOL), ("condeferrable", _BOOL),
                      ("condeferred", _BOOL), ("conislocal", _BOOL), ("connoinherit", _BOOL)],
    "pg_inherits": [("inhrelid", _INT), ("inhparent", _INT), ("inhseqno", _INT), ("inhdetachpending", _BOOL)],
    "pg_trigger": [("oid", _INT), ("tgrelid", _INT), ("tgname", _TXT), ("tgparentid", _INT),
                   ("tgisinternal", _BOOL), ("tgenabled", _TXT)],
    "pg_rewrite": [("oid", _INT), ("rulename", _TXT), ("ev_class", _INT), ("ev_type", _TXT)],
    "pg_policy": [("oid", _INT), ("polname", _TXT), ("polrelid", _INT), ("polcmd", _TXT),
                  ("polpermissive", _BOOL), ("polroles", _TXT), ("polqual", _TXT), ("polwithcheck", _TXT)],
    "pg_statistic_ext": [("oid", _INT), ("stxrelid", _INT), ("stxname", _TXT), ("stxnamespace", _INT),
                         ("stxowner", _INT), ("stxstattarget", _INT), ("stxkeys", _TXT), ("stxkind", _TXT),
                         ("stxexprs", _TXT)],
    "pg_publication": [("oid", _INT), ("pubname", _TXT), ("puballtables", _BOOL), ("pubinsert", _BOOL),
                       ("pubupdate", _BOOL), ("pubdelete", _BOOL), ("pubtruncate", _BOOL), ("pubviaroot", _BOOL)],
    "pg_publication_rel": [("oid", _INT), ("prpubid", _INT), ("prrelid", _INT), ("prqual", _TXT), ("prattrs", _TXT)],
    "pg_publication_namespace": [("oid", _INT), ("pnpubid", _INT), ("pnnspid", _INT)],
    "pg_attrdef": [("oid", _INT), ("adrelid", _INT), ("adnum", _INT), ("adbin", _TXT)],
    "pg_collation": [("oid", _INT), ("collname", _TXT), ("collnamespace", _INT)],
    "pg_foreign_table": [("ftrelid", _INT), ("ftserver", _INT), ("ftoptions", _TXT)],
    "pg_partitioned_table": [("partrelid", _INT), ("partstrat", _TXT)],
    "pg_proc": [("oid", _INT), ("proname", _TXT), ("pronamespace", _INT), ("proowner", _INT), ("prolang", _INT),
                ("prorettype", _INT), ("prokind", _TXT), ("proretset", _BOOL), ("pronargs", _INT),
                ("pronargdefaults", _INT), ("proargtypes", _TXT), ("proallargtypes", _TXT), ("proargmodes", _TXT),
                ("proargnames", _TXT), ("proargdefaults", _TXT), ("prosrc", _TXT), ("provolatile", _TXT),
                ("proisstrict", _BOOL), ("prosecdef", _BOOL), ("proacl", _TXT)],
    "pg_opclass": [("oid", _INT), ("opcmethod", _INT), ("opcname", _TXT), ("opcnamespace", _INT),
                   ("opcowner", _INT), ("opcfamily", _INT), ("opcintype", _INT), ("opcdefault", _BOOL),
                   ("opckeytype", _INT)],
    "pg_depend": [("classid", _INT), ("objid", _INT), ("objsubid", _INT), ("refclassid", _INT), ("refobjid", _INT),
                  ("refobjsubid", _INT), ("deptype", _TXT)],
    "pg_extension": [("oid", _INT), ("extname", _TXT), ("extversion", _TXT), ("extnamespace", _INT)],
    "pg_enum": [("oid", _INT), ("enumtypid", _INT), ("enumsortorder", _REAL), ("enumlabel", _TXT)],
    "pg_range": [("rngtypid", _INT), ("rngsubtype", _INT)],
    "pg_views": [("schemaname", _TXT), ("viewname", _TXT), ("viewowner", _TXT), ("definition", _TXT)],
    "pg_matviews": [("schemaname", _TXT), ("matviewname", _TXT), ("matviewowner", _TXT), ("definition", _TXT)],
    "pg_sequence": [("seqrelid", _INT), ("seqtypid", _INT), ("seqstart", _INT), ("seqincrement", _INT),
                    ("seqmax", _INT), ("seqmin", _INT), ("seqcache", _INT), ("seqcycle", _BOOL)],
    "pg_user": [("usename", _TXT), ("usesysid", _INT), ("usesuper", _BOOL)],
    "pg_tablespace": [("oid", _INT), ("spcname", _TXT)],
    "pg_locks": [("pid", _INT)],
    "pg_stat_activity": [("pid", _INT), ("datname", _TXT), ("usename", _TXT), ("state", _TXT)],
}
INFO_TABLES: dict[str, list[tuple[str, str]]] = {
    "schemata": [("catalog_name", _TXT), ("schema_name", _TXT), ("schema_owner", _TXT)],
    "tables": [("table_catalog", _TXT), ("table_schema", _TXT), ("table_name", _TXT), ("table_type", _TXT),
               ("self_referencing_column_name", _TXT), ("reference_generation", _TXT),
               ("user_defined_type_catalog", _TXT), ("user_defined_type_schema", _TXT),
               ("user_defined_type_name", _TXT), ("is_insertable_into", _TXT), ("is_typed", _TXT),
               ("commit_action", _TXT)],
    "columns": [("table_catalog", _TXT), ("table_schema", _TXT), ("table_name", _TXT), ("column_name", _TXT),
                ("ordinal_position", _INT), ("column_default", _TXT), ("is_nullable", _TXT), ("data_type", _TXT),
                ("character_maximum_length", _INT), ("character_octet_length", _INT), ("numeric_precision", _INT),
                ("numeric_precision_radix", _INT), ("numeric_scale", _INT), ("datetime_precision", _INT),
                ("udt_catalog", _TXT), ("udt_schema", _TXT), ("udt_name", _TXT), ("is_identity", _TXT),
                ("is_generated", _TXT), ("is_updatable", _TXT), ("description", _TXT)],
    "views": [("table_catalog", _TXT), ("table_schema", _TXT), ("table_name", _TXT), ("view_definition", _TXT)],
    "table_constraints": [("constraint_catalog", _TXT), ("constraint_schema", _TXT), ("constraint_name", _TXT),
                          ("table_schema", _TXT), ("table_name", _TXT), ("constraint_type", _TXT)],
    "key_column_usage": [("constraint_catalog", _TXT), ("constraint_schema", _TXT), ("constraint_name", _TXT),
                         ("table_schema", _TXT), ("table_name", _TXT), ("column_name", _TXT),
                         ("ordinal_position", _INT)],
    "referential_constraints": [("constraint_catalog", _TXT), ("constraint_schema", _TXT),
                                ("constraint_name", _TXT), ("unique_constraint_schema", _TXT),
                                ("unique_constraint_name", _TXT)],
    "routines": [("routine_catalog", _TXT), ("routine_schema", _TXT), ("routine_name", _TXT)],
    "character_sets": [("character_set_name", _TXT)],
}
# Postgres's fixed oids of the system catalogues that pg_description.classoid refers to.
SYSTEM_CATALOG_OIDS = {"pg_class": 1259, "pg_type": 1247, "pg_proc": 1255, "pg_attribute": 1249, "pg_namespace": 2615,
                       "pg_constraint": 2606, "pg_database": 1262, "pg_index": 2610, "pg_description": 2609,
                       "pg_collation": 3456, "pg_am": 2601, "pg_trigger": 2620, "pg_rewrite": 2618,
                       "pg_extension": 3079, "pg_roles": 1260, "pg_authid": 1260}
BOOL_COLUMNS = {c for cols in (*PG_TABLES.values(), *INFO_TABLES.values()) for c, t in cols if t == _BOOL}
OID_COLUMNS = {"oid", "relnamespace", "reltype", "relowner", "relam", "attrelid", "atttypid", "typnamespace",
               "typrelid", "typelem", "typarray", "objoid", "classoid", "datdba", "nspowner", "typbasetype"}


def catalog_tables(tables: dict[str, Table]) -> dict[str, list[tuple]]:
    """Rows of every catalogue table, describing the dataset tables."""
    rows: dict[str, list[tuple]] = {t: [] for t in (*PG_TABLES, *(f"information_schema.{t}" for t in INFO_TABLES))}

    def add(table: str, **values: Any) -> None:
        cols = PG_TABLES.get(table) or INFO_TABLES[table.split(".", 1)[1]]
        rows[table].append(tuple(values.get(c) for c, _ in cols))

    for oid, name in ((NS_CATALOG, "pg_catalog"), (NS_PUBLIC, "public"), (NS_INFO, "information_schema")):
        add("pg_namespace", oid=oid, nspname=name, nspowner=OWNER)
        add("information_schema.schemata", catalog_name="crosstrack", schema_name=name, schema_owner="crosstrack")
    add("pg_am", oid=2, amname="heap", amtype="t")
    add("pg_database", oid=16384, datname="crosstrack", datdba=OWNER, encoding=6, datcollate="C.UTF-8",
        datctype="C.UTF-8", datistemplate=0, datallowconn=1, datconnlimit=-1, dattablespace=1663)
    add("pg_roles", oid=OWNER, rolname="crosstrack", rolsuper=0, rolinherit=1, rolcreaterole=0, rolcreatedb=0,
        rolcanlogin=1, rolreplication=0, rolconnlimit=-1, rolbypassrls=0)
    add("pg_user", usename="crosstrack", usesysid=OWNER, usesuper=0)
    add("pg_tablespace", oid=1663, spcname="pg_default")
    for oid, tname in TYPE_NAMES.items():
        add("pg_type", oid=oid, typname=tname, typnamespace=NS_CATALOG, typowner=OWNER,
            typlen={BOOL: 1, INT8: 8, INT2: 2, INT4: 4, OID: 4, FLOAT8: 8, NAME: 64}.get(oid, -1),
            typbyval=1 if oid in (BOOL, INT2, INT4, INT8, OID, FLOAT8) else 0, typtype="b",
            typcategory={BOOL: "B", TEXT: "S", 1043: "S", NAME: "S"}.get(oid, "N"), typisdefined=1, typdelim=",",
            typrelid=0, typelem=0, typarray=0, typnotnull=0, typbasetype=0, typtypmod=-1, typndims=0,
            typcollation=0, typinput=f"{tname}in", typoutput=f"{tname}out")
    for i, t in enumerate(sorted(tables.values(), key=lambda t: t.name)):
        oid = TABLE_OID_BASE + 2 * i
        cols = t.columns
        add("pg_class", oid=oid, relname=t.name, relnamespace=NS_PUBLIC, reltype=oid + 1, reloftype=0,
            relowner=OWNER, relam=2, relfilenode=oid, reltablespace=0, relpages=0, reltuples=-1, relallvisible=0,
            reltoastrelid=0, relhasindex=0, relisshared=0, relpersistence="p", relkind="r", relnatts=len(cols),
            relchecks=0, relhasrules=0, relhastriggers=0, relhassubclass=0, relrowsecurity=0,
            relforcerowsecurity=0, relispopulated=1, relreplident="n", relispartition=0, relrewrite=0,
            relfrozenxid=0, relminmxid=0, relhasoids=0)
        add("pg_type", oid=oid + 1, typname=t.name, typnamespace=NS_PUBLIC, typowner=OWNER, typlen=-1, typbyval=0,
            typtype="c", typcategory="C", typisdefined=1, typdelim=",", typrelid=oid, typelem=0, typarray=0,
            typnotnull=0, typbasetype=0, typtypmod=-1, typndims=0, typcollation=0)
        add("pg_tables", schemaname="public", tablename=t.name, tableowner="crosstrack", hasindexes=0, hasrules=0,
            hastriggers=0, rowsecurity=0)
        add("pg_description", objoid=oid, classoid=1259, objsubid=0, description=t.description or t.title)
        add("information_schema.tables", table_catalog="crosstrack", table_schema="public", table_name=t.name,
            table_type="BASE TABLE", is_insertable_into="NO", is_typed="NO")
        for num, (cname, coid, desc) in enumerate(cols, start=1):
            add("pg_attribute", attrelid=oid, attname=cname, atttypid=coid, attstattarget=-1,
                attlen={BOOL: 1, INT8: 8, FLOAT8: 8}.get(coid, -1), attnum=num, attndims=0, attcacheoff=-1,
                atttypmod=-1, attbyval=1 if coid != TEXT else 0, attalign="d", attstorage="p",
                attcompression="", attnotnull=0, atthasdef=0, atthasmissing=0, attidentity="",
                attgenerated="", attisdropped=0, attislocal=1, attinhcount=0, attcollation=100 if coid == TEXT else 0)
            if desc:
                add("pg_description", objoid=oid, classoid=1259, objsubid=num, description=desc)
            add("information_schema.columns", table_catalog="crosstrack", table_schema="public", table_name=t.name,
                column_name=cname, ordinal_position=num, is_nullable="YES", data_type=SQL_TYPE_NAMES[coid],
                numeric_precision={INT8: 64, FLOAT8: 53}.get(coid), numeric_precision_radix=2 if coid in (INT8, FLOAT8) else None,
                numeric_scale=0 if coid == INT8 else None, udt_catalog="crosstrack", udt_schema="pg_catalog",
                udt_name=TYPE_NAMES[coid], is_identity="NO", is_generated="NEVER", is_updatable="NO",
                description=desc)
    return rows


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


# --- tree rewrites: Postgres catalogue SQL -> SQLite ---------------------------------------------
_STRIP_CASTS = {"oid", "regtype", "regproc", "regprocedure", "name", "text", "varchar", "regnamespace",
                "char", '"char"', "regrole", "character varying"}


def _unnest_source(node: exp.Expression) -> exp.Expression | None:
    """``unnest(arr) [WITH ORDINALITY] AS x(a, n)`` in FROM as a derived table over json_each."""
    if isinstance(node, exp.Table) and isinstance(node.this, (exp.Explode, exp.Unnest)):
        fn, alias = node.this, node.args.get("alias")
    elif isinstance(node, exp.Unnest) and isinstance(node.parent, (exp.From, exp.Join)):
        fn, alias = node, node.args.get("alias")
    else:
        return None
    arg = fn.this if isinstance(fn, exp.Explode) else (fn.expressions[0] if fn.expressions else exp.null())
    if isinstance(arg, exp.Array) and not isinstance(next(iter(arg.expressions), None), exp.Select):
        arg = exp.Literal.string("{" + ",".join(e.name for e in arg.expressions) + "}")
    name = alias.name if alias is not None and alias.name else "unnest"
    cols = [c.name for c in alias.args.get("columns") or []] if alias is not None else []
    offset = fn.args.get("offset") if isinstance(fn, exp.Unnest) else None
    if offset:  # WITH ORDINALITY: the position column, named by the alias list or "ordinality"
        cols = cols or [name]
        if len(cols) < 2:
            cols.append(offset.name if isinstance(offset, exp.Identifier) else "ordinality")
    value_name = cols[0] if cols else name
    select = exp.select(exp.alias_(exp.column("value"), value_name, quoted=True)).from_(
        exp.Table(this=exp.Anonymous(this="json_each", expressions=[exp.Anonymous(this="pg_array_json",
                                                                                  expressions=[arg])])))
    if offset:
        select = select.select(exp.alias_(exp.Add(this=exp.column("key"), expression=exp.Literal.number(1)),
                                          cols[-1], quoted=True))
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))


def _rewrite(node: exp.Expression) -> exp.Expression:
    # pg_index, pg_constraint and pg_attrdef are always empty here (the dataset tables have no keys,
    # indexes or defaults), so set-returning calls over their arrays in a select list never produce a
    # row: the element itself stands in, which keeps the query valid SQLite with the same (empty) answer.
    if isinstance(node, exp.Explode) and isinstance(node.parent, (exp.Alias, exp.Select)):
        return node.this
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "generate_subscripts":
        return exp.Literal.number(1)
    if isinstance(node, exp.ArrayAgg):  # SQLite 3.40 has no ORDER BY inside an aggregate; arrays are '{a,b}' text
        inner = node.this.this if isinstance(node.this, exp.Order) else node.this
        return exp.DPipe(this=exp.DPipe(this=exp.Literal.string("{"), expression=exp.GroupConcat(
            this=inner, separator=exp.Literal.string(","))), expression=exp.Literal.string("}"))
    unnest = _unnest_source(node)
    if unnest is not None:
        return unnest
    if isinstance(node, exp.ByteString):  # E'...' escape string: its value, as a plain string
        return exp.Literal.string(str(node.this))
    if isinstance(node, (exp.Alias, exp.TableAlias)) and isinstance(node.args.get("alias") if isinstance(node, exp.Alias)
                                                                     else node.this, exp.Identifier):
        ident = node.args["alias"] if isinstance(node, exp.Alias) else node.this
        if not ident.quoted:  # Postgres folds unquoted names; quoting keeps words like DEFAULT legal in SQLite
            ident.set("this", ident.name.lower())
            ident.set("quoted", True)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in ("to_regtype", "to_regclass",
                                                                       "json_build_object", "jsonb_build_object"):
        node.set("this", str(node.this).lower().replace("jsonb_", "json_"))
    if isinstance(node, exp.Operator):
        op = str(node.args.get("operator", "")).replace("pg_catalog.", "").strip()
        fn = {"~": "pg_regex", "~*": "pg_iregex", "!~": "pg_regex", "!~*": "pg_iregex"}.get(op)
        if fn:
            call = exp.Anonymous(this=fn, expressions=[node.this, node.expression])
            return exp.Not(this=call) if op.startswith("!") else call
        if op in ("=", "<>", "<", ">", "<=", ">="):
            cls = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, ">": exp.GT, "<=": exp.LTE, ">=": exp.GTE}[op]
            return cls(this=node.this, expression=node.expression)
    if isinstance(node, exp.RegexpLike):
        return exp.Anonymous(this="pg_regex", expressions=[node.this, node.expression])
    if isinstance(node, exp.RegexpILike):
        return exp.Anonymous(this="pg_iregex", expressions=[node.this, node.expression])
    if isinstance(node, exp.Collate):
        return node.this
    if isinstance(node, exp.Array):
        inner = node.expressions[0] if len(node.expressions) == 1 else None
        if isinstance(inner, exp.Select):  # ARRAY(SELECT x ...) -> 'a,b' (catalogue arrays are text)
            sub = inner.copy()
            first = sub.expressions[0]
            sub.set("expressions", [exp.GroupConcat(this=first.this if isinstance(first, exp.Alias) else first)])
            sub.set("order", None)
            return exp.Subquery(this=sub)
        return exp.Literal.string("{" + ",".join(e.name for e in node.expressions) + "}")
    if isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any):
        arr = node.expression.this
        return exp.Anonymous(this="pg_any", expressions=[node.this, arr.this if isinstance(arr, exp.Paren) else arr])
    if isinstance(node, exp.Cast):
        to = node.to.sql(dialect="postgres").lower().replace("pg_catalog.", "")
        inner = node.this
        if to in ("text", "name", "varchar") and isinstance(inner, exp.Cast) and \
                inner.to.sql(dialect="postgres").lower().replace("pg_catalog.", "") == "regtype":
            return exp.Anonymous(this="regtype_name", expressions=[inner.this])  # oid::regtype::text: the type name
        if to == "regclass" and isinstance(inner, exp.Literal) and inner.is_string and inner.name.isdigit():
            return exp.Literal.number(inner.name)
        if to == "regclass":
            return exp.Anonymous(this="regclass", expressions=[node.this])
        if to in _STRIP_CASTS or to.endswith("[]"):
            return node.this
    if isinstance(node, exp.CurrentUser) or (isinstance(node, exp.Column) and node.name.lower() in ("current_user", "session_user", "user") and not node.table):
        return exp.Anonymous(this="current_user_fn", expressions=[])
    if isinstance(node, exp.CurrentSchemas):  # the search path pgcli completes from
        return exp.Literal.string("{pg_catalog,public}")
    if isinstance(node, exp.CurrentSchema):
        return exp.Anonymous(this="current_schema", expressions=[])
    if isinstance(node, exp.CurrentVersion):
        return exp.Anonymous(this="version", expressions=[])
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.lower() == "pg_catalog":
        return node.expression
    if isinstance(node, exp.Table) and node.db and node.db.lower() == "pg_catalog":
        return node
    return node


def _pg_output_name(node: exp.Expression) -> str:
    """The column name Postgres gives an unaliased select-list expression."""
    while isinstance(node, exp.Dot) and isinstance(node.expression, exp.Expression):
        node = node.expression
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Cast):
        inner = node.this
        return _pg_output_name(inner) if not isinstance(inner, exp.Literal) else node.to.sql(dialect="postgres").lower()
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.CurrentVersion):
        return "version"
    if isinstance(node, (exp.CurrentUser, exp.CurrentSchema)):
        return node.key.replace("current", "current_")
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    if isinstance(node, exp.Case):
        return "case"
    return "?column?"


def to_sqlite(tree: exp.Expression) -> str:
    tree = tree.copy()
    first = tree
    while isinstance(first, (exp.Union, exp.Intersect, exp.Except)):
        first = first.this
    if isinstance(first, exp.Select):
        first.set("expressions", [e if isinstance(e, (exp.Alias, exp.Star)) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                                  else exp.alias_(e, _pg_output_name(e), quoted=True) for e in first.expressions])
    sql = ""
    for _ in range(6):  # transform does not descend into the nodes it replaced: repeat to a fixpoint
        tree = tree.transform(_rewrite)
        new = tree.sql(dialect="sqlite")
        if new == sql:
            break
        sql = new
    # sqlglot keeps a schema-qualified function as "pg_catalog.fn(...)" text in some versions.
    return re.sub(r"\bpg_catalog\.(?=[a-z_]+\s*\()", "", sql)


def without_reg_array_casts(sql: str) -> str:
    """``x::regtype[]`` (pgcli's function list) as ``x::regtype``: sqlglot cannot parse a cast to an
    array of an object-identifier type, and the catalogue keeps arrays as text either way. Done on
    tokens, so text inside string literals is never touched."""
    from sqlglot.dialects.postgres import Postgres

    try:
        tokens = Postgres().tokenize(sql)
    except Exception:  # noqa: BLE001 - not tokenizable: leave it for the parser to report
        return sql
    cut: list[tuple[int, int]] = []
    for a, b, c, d in zip(tokens, tokens[1:], tokens[2:], tokens[3:]):
        if a.token_type.name == "DCOLON" and b.text.lower().startswith("reg") and \
                c.token_type.name == "L_BRACKET" and d.token_type.name == "R_BRACKET":
            cut.append((c.start, d.end + 1))
    for start, end in reversed(cut):
        sql = sql[:start] + sql[end:]
    return sql


def syntax_error(err: Exception) -> str:
    """Postgres's wording for a parse error: the token at fault and where, never the parser's internals."""
    errors = getattr(err, "errors", None) or []
    first = errors[0] if errors else {}
    token = str(first.get("highlight") or "").strip()[:40]
    where = f" at line {first['line']}, column {first['col']}" if first.get("line") else ""
    return f'syntax error at or near "{token}"{where}' if token else f"syntax error{where}"


def is_catalog_query(tree: exp.Expression, dataset_names: set[str]) -> bool:
    """True when the statement reads catalogue tables (or no table) and no dataset."""
    for t in tree.find_all(exp.Table):
        name = t.name.lower()
        if name in dataset_names and (not t.db or t.db.lower() in ("public", "crosstrack")):
            return False
    return True


def known_catalog_table(t: exp.Table) -> bool:
    name, db = t.name.lower(), (t.db or "").lower()
    if db == "information_schema":
        return name in INFO_TABLES
    if db in ("", "pg_catalog"):
        return name in PG_TABLES
    return False


__all__ = ["PG_VERSION", "VERSION_STRING", "CatalogDB", "is_catalog_query", "known_catalog_table", "sqlglot"]

"""The catalogue's tables: Postgres-shaped ``pg_catalog`` and ``information_schema`` tables
(their columns as SQLite types) and the rows that describe the dataset tables — names, types and
descriptions only, never data (K6)."""

from __future__ import annotations

from typing import Any

from crosstrack.api.pgwire.pgtypes import BOOL, FLOAT8, INT2, INT4, INT8, NAME, OID, TEXT
from crosstrack.api.pgwire.tables import Table

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

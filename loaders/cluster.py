"""DDL for a ClickHouse cluster (``CROSSTRACK_CLUSTER`` set): the path beyond one machine.

On one machine the facts are plain MergeTree tables in a versioned database
(``<database>_v<N>``, see ``loaders/schema.py``). On a cluster the same database holds, for each
fact table,

* ``<table>_local`` — a ``ReplicatedMergeTree`` on every node, its Keeper path
  ``/clickhouse/tables/{shard}/{database}/{table}`` so each shard's replicas share one copy;
* ``<table>`` — a ``Distributed`` table over the locals, **sharded by person_key**
  (``sipHash64(person_key)``). Every row of one person lands on one shard, so the shards hold
  disjoint sets of people: distinct-person counts (P1's k test), the cell key
  (``sumDistinct(record_key)``) and medians are exact per shard and merge exactly.

Readers keep querying ``<database>_v<N>.custody_facts``; only the engine underneath changes, so
the SQL the semantic layer compiles is the same on one machine and on a cluster. Small tables
every node needs whole (``load_history``, the publish pointer; rollups built from the
Distributed facts) are replicated to every node instead of sharded (Keeper path under
``/clickhouse/tables/all/``).

Statements are assembled from validated identifiers and the column types in
``loaders/schema.py`` (never from user input), then parsed and regenerated with sqlglot's
ClickHouse dialect, so every statement returned is known to parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sqlglot

from crosstrack.loaders.schema import FACT_TABLES
from crosstrack.sql import (
    DIALECT,
    EVERY_NODE_PATH,
    REPLICA,
    ClusterDDLError,
    checked,
    ident,
    qi,
    sync_replica,
)


LOCAL_SUFFIX = "_local"
SHARDING_KEY = "sipHash64(person_key)"
SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
_TYPE = re.compile(r"^[A-Za-z0-9_(), ']+$")

# Settings for a load's INSERTs into a Distributed table: write to the shards before returning,
# so the checks that run before publish see every row (no background queue to drain).
INSERT_SETTINGS: dict[str, Any] = {"distributed_foreground_insert": 1}
# Settings for reads: persons never span shards, so shard-local GROUP BY on person_key is exact.
QUERY_SETTINGS: dict[str, Any] = {"optimize_distributed_group_by_sharding_key": 1}


def _columns(columns: Mapping[str, str]) -> str:
    parts = []
    for name, ctype in columns.items():
        if not _TYPE.match(ctype):
            raise ClusterDDLError(f"column {name!r} has an unexpected type {ctype!r}")
        parts.append(f"{ident(name, 'column')} {ctype}")
    return ", ".join(parts)


def _order_by(order_by: Sequence[str]) -> str:
    cols = [ident(c, "ORDER BY column") for c in order_by]
    return f"({', '.join(cols)})" if cols else "tuple()"


def is_cluster(settings: Any) -> bool:
    """True when the configuration names a cluster (``CROSSTRACK_CLUSTER``)."""
    return bool(getattr(settings, "cluster", ""))


def create_database(database: str, cluster: str) -> str:
    return checked(f"CREATE DATABASE IF NOT EXISTS {ident(database, 'database')} "
                    f"ON CLUSTER {ident(cluster, 'cluster')}")


def drop_database(database: str, cluster: str) -> str:
    """Drop a version on every node; SYNC so Keeper paths are freed before a rebuild."""
    return checked(f"DROP DATABASE IF EXISTS {ident(database, 'database')} "
                    f"ON CLUSTER {ident(cluster, 'cluster')} SYNC")


def replicated_table(database: str, table: str, columns: Mapping[str, str], order_by: Sequence[str],
                     cluster: str, *, sharded: bool = True) -> str:
    """A ReplicatedMergeTree on every node; ``sharded=False`` keeps a full copy on every node."""
    path = SHARDED_PATH if sharded else EVERY_NODE_PATH
    return checked(
        f"CREATE TABLE IF NOT EXISTS {ident(database, 'database')}.{ident(table, 'table')} "
        f"ON CLUSTER {ident(cluster, 'cluster')} ({_columns(columns)}) "
        f"ENGINE = ReplicatedMergeTree('{path}', '{REPLICA}') ORDER BY {_order_by(order_by)}"
    )


def distributed_table(database: str, table: str, columns: Mapping[str, str], cluster: str,
                      *, local_table: str | None = None, sharding_key: str = SHARDING_KEY) -> str:
    """The table readers and loaders use: rows go to the shard of ``sharding_key``."""
    local = local_table or table + LOCAL_SUFFIX
    db = ident(database, "database")
    cl = ident(cluster, "cluster")
    return checked(
        f"CREATE TABLE IF NOT EXISTS {db}.{ident(table, 'table')} ON CLUSTER {cl} ({_columns(columns)}) "
        f"ENGINE = Distributed('{cl}', '{db}', '{ident(local, 'table')}', {sharding_key})"
    )


def fact_tables_ddl(database: str, cluster: str,
                    tables: Mapping[str, tuple[Mapping[str, str], Sequence[str]]] = FACT_TABLES) -> list[str]:
    """Every statement that creates one versioned fact database on the cluster, in order."""
    statements = [create_database(database, cluster)]
    for table, (columns, order_by) in tables.items():
        if "person_key" not in columns:
            raise ClusterDDLError(f"fact table {table!r} has no person_key to shard by")
        statements.append(replicated_table(database, table + LOCAL_SUFFIX, columns, order_by, cluster))
        statements.append(distributed_table(database, table, columns, cluster))
    return statements


def cluster_ddl(settings: Any, database: str) -> list[str]:
    """The loaders' entry point: the cluster DDL for ``database`` from ``settings.cluster``."""
    if not is_cluster(settings):
        raise ClusterDDLError("CROSSTRACK_CLUSTER is not set; use the single-node DDL")
    return fact_tables_ddl(database, settings.cluster)


def every_node_table(database: str, table: str, columns: Mapping[str, str], order_by: Sequence[str],
                     cluster: str) -> str:
    """A small table every node holds whole (``load_history``, rollups)."""
    return replicated_table(database, table, columns, order_by, cluster, sharded=False)


# ---------------------------------------------------------------------------------------------
# The one object that decides which statements a load issues for tables that outlive it.
# ---------------------------------------------------------------------------------------------

HISTORY_COLUMNS: dict[str, str] = {
    "version_id": "String", "version_number": "UInt32", "database": "String",
    "loaded_at": "DateTime64(3, 'UTC')", "source_checksums": "String", "row_counts": "String",
    "rejected_rows": "UInt64", "snapshot_years": "Array(UInt16)",
}
HISTORY_ORDER_BY = ("version_number",)
# ``publish_log``: one row per rollback (``crosstrack rollback``), see loaders/publish.py.
POINTER_COLUMNS: dict[str, str] = {
    "seq": "UInt64", "version_id": "String", "after_version": "UInt32", "at": "DateTime64(3, 'UTC')",
}
POINTER_ORDER_BY = ("seq",)


class Layout:
    """Every statement a load issues for databases and tables that outlive it: one machine
    (``cluster == ''``: plain MergeTree, as the loaders always did) or a cluster (ON CLUSTER,
    replicated locals, Distributed facts sharded by person_key, every-node load_history).

    Staging databases are not here: they hold one load's working tables, are read only by the
    node that loads, and stay local to it on a cluster too."""

    def __init__(self, cluster: str = ""):
        self.cluster = ident(cluster, "cluster") if cluster else ""

    @classmethod
    def for_settings(cls, settings: Any) -> "Layout":
        return cls(getattr(settings, "cluster", "") or "")

    @property
    def is_cluster(self) -> bool:
        return bool(self.cluster)

    # -- databases -----------------------------------------------------------------------------
    def create_database(self, database: str, *, if_not_exists: bool = False) -> list[str]:
        if self.is_cluster:
            return [create_database(database, self.cluster)]
        return [f"CREATE DATABASE {'IF NOT EXISTS ' if if_not_exists else ''}{qi(database)}"]

    def drop_database(self, database: str) -> str:
        if self.is_cluster:
            return drop_database(database, self.cluster)
        return f"DROP DATABASE IF EXISTS {qi(database)} SYNC"

    # -- fact tables -----------------------------------------------------------------------------
    def fact_table(self, database: str, table: str) -> list[str]:
        """Create one fact table: ``<table>`` is what loaders insert into and readers query."""
        columns, order_by = FACT_TABLES[table]
        if self.is_cluster:
            if "person_key" not in columns:
                raise ClusterDDLError(f"fact table {table!r} has no person_key to shard by")
            return [replicated_table(database, table + LOCAL_SUFFIX, columns, order_by, self.cluster),
                    distributed_table(database, table, columns, self.cluster)]
        body = ", ".join(f"{qi(c)} {t}" for c, t in columns.items())
        return [f"CREATE TABLE {qi(database)}.{qi(table)} ({body}) ENGINE = MergeTree "
                f"ORDER BY ({', '.join(qi(c) for c in order_by)})"]

    @property
    def insert_settings(self) -> dict[str, Any] | None:
        """Settings of an INSERT into a fact table (None on one machine: the engine's defaults)."""
        return dict(INSERT_SETTINGS) if self.is_cluster else None

    def sync_facts(self, database: str) -> list[str]:
        """After the facts are written: every replica of every shard holds them (cluster only)."""
        if not self.is_cluster:
            return []
        return [sync_replica(database, table + LOCAL_SUFFIX, self.cluster) for table in FACT_TABLES]

    # -- load_history (the publish pointer) ------------------------------------------------------
    def pointer_table(self, database: str) -> list[str]:
        """``<database>.publish_log``, held like ``load_history`` (a copy on every node of a cluster)."""
        return self._registry_table(database, "publish_log", POINTER_COLUMNS, POINTER_ORDER_BY)

    def history_table(self, database: str) -> list[str]:
        return self._registry_table(database, "load_history", HISTORY_COLUMNS, HISTORY_ORDER_BY)

    def _registry_table(self, database: str, table: str, columns: dict[str, str],
                        order_by: tuple[str, ...]) -> list[str]:
        if self.is_cluster:
            return [create_database(database, self.cluster),
                    every_node_table(database, table, columns, order_by, self.cluster)]
        cols = ", ".join(f"{c} {t}" for c, t in columns.items())
        return [f"CREATE DATABASE IF NOT EXISTS {qi(database)}",
                f"CREATE TABLE IF NOT EXISTS {qi(database)}.{table} ({cols}) ENGINE = MergeTree "
                f"ORDER BY {', '.join(order_by)}"]


# ---------------------------------------------------------------------------------------------
# Rehearsal on one node (tests; chDB has no cluster, no Keeper and no {shard}/{replica} macros)
# ---------------------------------------------------------------------------------------------

def single_node_equivalent(sql: str) -> str | None:
    """The statement a one-node, one-shard cluster would amount to, runnable on chDB: ON CLUSTER
    removed, ``Replicated*MergeTree(path, replica)`` -> ``*MergeTree``, a ``Distributed`` table ->
    an ``Alias`` of its local table (one shard holds every row, so reads and inserts through it
    reach exactly that table). ``SYSTEM SYNC REPLICA`` has nothing to wait for: None.

    This is how the cluster path is exercised without a cluster; it proves the SQL around the
    engines (columns, types, ORDER BY, COMMENT, INSERT ... SELECT) is valid ClickHouse and that a
    load through this layout builds the same facts and rollups. It proves nothing about Keeper,
    replication or the network."""
    if sql.lstrip().upper().startswith("SYSTEM SYNC REPLICA"):
        return None
    tree = sqlglot.parse_one(sql, read=DIALECT)
    for oc in list(tree.find_all(sqlglot.exp.OnCluster)):
        oc.pop()
    prop = tree.find(sqlglot.exp.EngineProperty)
    if prop is not None and isinstance(prop.this, (sqlglot.exp.Anonymous, sqlglot.exp.Func)):
        name = prop.this.name
        args = prop.this.expressions
        if name.startswith("Replicated") and name.endswith("MergeTree"):
            prop.set("this", sqlglot.exp.Anonymous(this=name[len("Replicated"):], expressions=[]))
        elif name == "Distributed":
            db, local = args[1].name, args[2].name
            schema = tree.this
            if isinstance(schema, sqlglot.exp.Schema):
                tree.set("this", schema.this)  # Alias takes its columns from the aliased table
            prop.set("this", sqlglot.exp.Anonymous(this="Alias", expressions=[
                sqlglot.exp.Literal.string(db), sqlglot.exp.Literal.string(local)]))
    return tree.sql(dialect=DIALECT)

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

from loaders.schema import FACT_TABLES

DIALECT = "clickhouse"
LOCAL_SUFFIX = "_local"
SHARDING_KEY = "sipHash64(person_key)"
SHARDED_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
EVERY_NODE_PATH = "/clickhouse/tables/all/{database}/{table}"
REPLICA = "{replica}"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_TYPE = re.compile(r"^[A-Za-z0-9_(), ']+$")

# Settings for a load's INSERTs into a Distributed table: write to the shards before returning,
# so the checks that run before publish see every row (no background queue to drain).
INSERT_SETTINGS: dict[str, Any] = {"distributed_foreground_insert": 1}
# Settings for reads: persons never span shards, so shard-local GROUP BY on person_key is exact.
QUERY_SETTINGS: dict[str, Any] = {"optimize_distributed_group_by_sharding_key": 1}


class ClusterDDLError(ValueError):
    """A name or type could not be used in cluster DDL."""


def _ident(name: str, what: str) -> str:
    if not _IDENT.match(name or ""):
        raise ClusterDDLError(f"{what} {name!r} is not a valid ClickHouse identifier")
    return name


def _checked(sql: str) -> str:
    """Parse with sqlglot's ClickHouse dialect and return the regenerated statement."""
    tree = sqlglot.parse_one(sql, read=DIALECT)
    return tree.sql(dialect=DIALECT)


def _columns(columns: Mapping[str, str]) -> str:
    parts = []
    for name, ctype in columns.items():
        if not _TYPE.match(ctype):
            raise ClusterDDLError(f"column {name!r} has an unexpected type {ctype!r}")
        parts.append(f"{_ident(name, 'column')} {ctype}")
    return ", ".join(parts)


def _order_by(order_by: Sequence[str]) -> str:
    cols = [_ident(c, "ORDER BY column") for c in order_by]
    return f"({', '.join(cols)})" if cols else "tuple()"


def is_cluster(settings: Any) -> bool:
    """True when the configuration names a cluster (``CROSSTRACK_CLUSTER``)."""
    return bool(getattr(settings, "cluster", ""))


def create_database(database: str, cluster: str) -> str:
    return _checked(f"CREATE DATABASE IF NOT EXISTS {_ident(database, 'database')} "
                    f"ON CLUSTER {_ident(cluster, 'cluster')}")


def drop_database(database: str, cluster: str) -> str:
    """Drop a version on every node; SYNC so Keeper paths are freed before a rebuild."""
    return _checked(f"DROP DATABASE IF EXISTS {_ident(database, 'database')} "
                    f"ON CLUSTER {_ident(cluster, 'cluster')} SYNC")


def replicated_table(database: str, table: str, columns: Mapping[str, str], order_by: Sequence[str],
                     cluster: str, *, sharded: bool = True) -> str:
    """A ReplicatedMergeTree on every node; ``sharded=False`` keeps a full copy on every node."""
    path = SHARDED_PATH if sharded else EVERY_NODE_PATH
    return _checked(
        f"CREATE TABLE IF NOT EXISTS {_ident(database, 'database')}.{_ident(table, 'table')} "
        f"ON CLUSTER {_ident(cluster, 'cluster')} ({_columns(columns)}) "
        f"ENGINE = ReplicatedMergeTree('{path}', '{REPLICA}') ORDER BY {_order_by(order_by)}"
    )


def distributed_table(database: str, table: str, columns: Mapping[str, str], cluster: str,
                      *, local_table: str | None = None, sharding_key: str = SHARDING_KEY) -> str:
    """The table readers and loaders use: rows go to the shard of ``sharding_key``."""
    local = local_table or table + LOCAL_SUFFIX
    db = _ident(database, "database")
    cl = _ident(cluster, "cluster")
    return _checked(
        f"CREATE TABLE IF NOT EXISTS {db}.{_ident(table, 'table')} ON CLUSTER {cl} ({_columns(columns)}) "
        f"ENGINE = Distributed('{cl}', '{db}', '{_ident(local, 'table')}', {sharding_key})"
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

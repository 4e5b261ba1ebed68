"""Cluster DDL (loaders/cluster.py): ON CLUSTER, replicated locals, Distributed sharded by person_key.

Sharding by person_key keeps every person on one shard, so distinct-person counts — the
count P1's k threshold is tested against — stay exact per shard and add up across shards.
"""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from crosstrack.config import load_settings
from crosstrack.loaders.cluster import (
    LOCAL_SUFFIX,
    ClusterDDLError,
    cluster_ddl,
    distributed_table,
    drop_database,
    every_node_table,
    fact_tables_ddl,
    is_cluster,
)
from crosstrack.loaders.schema import FACT_TABLES


@pytest.fixture(scope="module")
def memory_engine():
    # The process's one in-memory chDB engine (Engine.from_settings shares it).
    from crosstrack.engine import Engine

    return Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))


def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="clickhouse")


def _engine(tree: exp.Expression) -> exp.Anonymous:
    prop = tree.find(exp.EngineProperty)
    assert prop is not None
    return prop.this


def _on_cluster(tree: exp.Expression) -> str | None:
    oc = tree.find(exp.OnCluster)
    return oc.this.name if oc is not None else None


def test_cluster_ddl_every_statement_parses_and_is_on_the_configured_cluster():
    settings = load_settings(cluster="east_coast", clickhouse_url="http://ch:8123")
    statements = cluster_ddl(settings, "crosstrack_v7")
    assert statements
    for sql in statements:
        tree = _parse(sql)
        assert isinstance(tree, exp.Create)
        assert _on_cluster(tree) == "east_coast", sql
        # Round trip: what we hand to ClickHouse is exactly sqlglot's own rendering.
        assert tree.sql(dialect="clickhouse") == sql


def test_cluster_ddl_covers_every_fact_table_with_local_and_distributed():
    statements = fact_tables_ddl("crosstrack_v1", "crosstrack")
    created = {}
    for sql in statements:
        tree = _parse(sql)
        if tree.args.get("kind") == "TABLE":
            table = tree.find(exp.Table)
            created[table.name] = (table.db, _engine(tree).name)
    for table in FACT_TABLES:
        assert created[table] == ("crosstrack_v1", "Distributed")
        assert created[table + LOCAL_SUFFIX] == ("crosstrack_v1", "ReplicatedMergeTree")


def test_distributed_tables_shard_by_person_key_p1():
    """P1: every person's rows on one shard, so per-shard distinct-people counts are exact."""
    for sql in fact_tables_ddl("crosstrack_v2", "crosstrack"):
        tree = _parse(sql)
        if tree.args.get("kind") != "TABLE" or _engine(tree).name != "Distributed":
            continue
        args = _engine(tree).expressions
        assert [a.name for a in args[:3]] == ["crosstrack", "crosstrack_v2", tree.find(exp.Table).name + LOCAL_SUFFIX]
        key = args[3]
        assert [c.name for c in key.find_all(exp.Column)] == ["person_key"], key.sql("clickhouse")
        # The Distributed table has exactly the fact columns readers expect.
        cols = [c.name for c in tree.find_all(exp.ColumnDef)]
        assert cols == list(FACT_TABLES[tree.find(exp.Table).name][0])


def test_local_tables_are_replicated_per_shard_with_keeper_macros():
    for sql in fact_tables_ddl("crosstrack_v2", "crosstrack"):
        tree = _parse(sql)
        if tree.args.get("kind") != "TABLE" or _engine(tree).name != "ReplicatedMergeTree":
            continue
        path, replica = (a.name for a in _engine(tree).expressions)
        assert path == "/clickhouse/tables/{shard}/{database}/{table}"
        assert replica == "{replica}"
        order = tree.find(exp.Order)
        assert "person_key" in order.sql("clickhouse")


def test_publish_pointer_is_replicated_to_every_node_not_sharded():
    sql = every_node_table("crosstrack", "load_history", {"version_id": "String", "loaded_at": "DateTime"},
                           ["loaded_at"], "crosstrack")
    path = _engine(_parse(sql)).expressions[0].name
    assert "{shard}" not in path and path.startswith("/clickhouse/tables/all/")


def test_drop_database_is_on_cluster_and_sync():
    sql = drop_database("crosstrack_v1", "crosstrack")
    assert _on_cluster(_parse(sql)) == "crosstrack"
    assert sql.endswith("SYNC")


@pytest.mark.parametrize("bad", ["x; DROP TABLE y", "1abc", "a-b", "", "a b"])
def test_identifiers_are_validated_not_pasted(bad):
    with pytest.raises(ClusterDDLError):
        fact_tables_ddl(bad, "crosstrack")
    with pytest.raises(ClusterDDLError):
        fact_tables_ddl("crosstrack_v1", bad)
    with pytest.raises(ClusterDDLError):
        distributed_table("db", bad, {"person_key": "UInt64"}, "crosstrack")


def test_without_a_cluster_setting_the_cluster_path_is_not_taken():
    settings = load_settings()
    assert settings.cluster == "" and not is_cluster(settings)
    with pytest.raises(ClusterDDLError, match="CROSSTRACK_CLUSTER"):
        cluster_ddl(settings, "crosstrack_v1")
    with pytest.raises(ClusterDDLError, match="person_key"):
        fact_tables_ddl("db", "c", {"t": ({"a": "UInt8"}, ("a",))})


def test_sharding_by_person_key_keeps_distinct_counts_exact_on_chdb_p1(memory_engine):
    """P1 on the real engine: split rows by the cluster's sharding key into two shards; every
    group's distinct-person count is the sum of the shards' counts (no person on two shards),
    while sharding by another column would double count."""
    q = """
    WITH rows AS (
        SELECT intDiv(number, 3) AS person_key, number % 7 AS agency, intDiv(number, 3) % 5 AS grp
        FROM numbers(30000)
    )
    SELECT
        (SELECT count() FROM (SELECT grp, uniqExact(person_key) AS u FROM rows GROUP BY grp) AS g
           JOIN (SELECT grp, sum(u) AS s FROM (SELECT grp, sipHash64(person_key) % 2 AS shard,
                 uniqExact(person_key) AS u FROM rows GROUP BY grp, shard) GROUP BY grp) AS h USING grp
           WHERE g.u != h.s) AS mismatched_by_person_key,
        (SELECT count() FROM (SELECT grp, uniqExact(person_key) AS u FROM rows GROUP BY grp) AS g
           JOIN (SELECT grp, sum(u) AS s FROM (SELECT grp, agency % 2 AS shard,
                 uniqExact(person_key) AS u FROM rows GROUP BY grp, shard) GROUP BY grp) AS h USING grp
           WHERE g.u != h.s) AS mismatched_by_agency
    """
    mismatched_by_person_key, mismatched_by_agency = memory_engine.query(q).rows[0]
    assert mismatched_by_person_key == 0
    assert mismatched_by_agency > 0

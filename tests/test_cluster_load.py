"""The cluster path of a load (issue 9): ``settings.cluster`` selects ON CLUSTER DDL, replicated
locals, Distributed facts sharded by person_key (P1: distinct-person counts exact per shard),
every-node load_history and rollups; without it the load issues exactly the single-machine SQL.

No ClickHouse cluster can run here (no Docker engine; chDB has no remote_servers, no Keeper and
no {shard}/{replica} macros). So the cluster load is *rehearsed*: the real loader and rollup
builder run against a recorder that stands in for the Engine at the one boundary where SQL is
issued. It records every statement exactly as a cluster would receive it and runs on the real
in-process chDB each statement's one-node equivalent (``loaders.cluster.single_node_equivalent``:
ON CLUSTER removed, Replicated*MergeTree -> *MergeTree, Distributed -> Alias of its local table,
SYSTEM SYNC REPLICA skipped). What this proves: which statements a cluster load issues and in
what order, that they parse as ClickHouse, that the SQL around the engines is accepted by
ClickHouse, and that a load through this layout publishes the same facts and rollups as a
single-machine load. What it cannot prove: Keeper paths, replication, the cluster's
internal_replication setting, or network behaviour — those need a real cluster.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from crosstrack.config import load_settings
from crosstrack.engine import Engine
from crosstrack.cube.rollups import build_rollups
from fixtures_loaders import quiet_console
from crosstrack.loaders.cluster import INSERT_SETTINGS, LOCAL_SUFFIX, Layout, single_node_equivalent
from crosstrack.loaders.publish import current_version, drop_stale
from crosstrack.loaders.schema import FACT_TABLES

CLUSTER = "east_coast"
YEARS = [2023, 2024]


class RecordingEngine:
    """Stands in for ``crosstrack.engine.Engine`` (same methods): records every statement as
    issued and runs it — for a command, its one-node equivalent — on the real chDB engine."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.embedded = engine.embedded
        self.commands: list[tuple[str, dict[str, Any] | None]] = []
        self.queries: list[str] = []

    def command(self, sql, parameters=None, settings=None):
        sql = sql if isinstance(sql, str) else sql.sql(dialect="clickhouse")
        self.commands.append((sql, settings))
        local = single_node_equivalent(sql) if CLUSTER in sql else sql
        if local is not None:
            return self._engine.command(local, parameters, settings)
        return None

    def query(self, sql, parameters=None, settings=None):
        self.queries.append(sql if isinstance(sql, str) else sql.sql(dialect="clickhouse"))
        return self._engine.query(sql, parameters, settings)

    def query_arrow(self, sql, parameters=None, settings=None):
        self.queries.append(sql if isinstance(sql, str) else sql.sql(dialect="clickhouse"))
        return self._engine.query_arrow(sql, parameters, settings)

    def scalar(self, sql, parameters=None):
        rows = self.query(sql, parameters).rows
        return rows[0][0] if rows else None

    def insert_arrow(self, table, data, database=None):
        self.commands.append((f"INSERT INTO {database}.{table} FORMAT Arrow", None))
        return self._engine.insert_arrow(table, data, database=database)

    def ping(self):
        return self._engine.ping()


def _settings(tmp: Path, database: str, cluster: str):
    return load_settings(clickhouse_url="chdb://memory", data_dir=tmp / database, database=database,
                         person_key_secret="test-secret", snapshot_years=YEARS, cluster=cluster)


@pytest.fixture(scope="module")
def extract(tmp_path_factory):
    from crosstrack.loaders.generate import generate_extracts
    out = tmp_path_factory.mktemp("cluster_extract") / "extract"
    generate_extracts(out, seed=11, scale=0.02, fmt="csv", years=YEARS, console=None)
    return out


def _load(settings, extract, model):
    from crosstrack.loaders.pipeline import run_load
    rec = RecordingEngine(Engine.from_settings(settings))
    hook = lambda engine, db: build_rollups(engine, model, db, cluster=settings.cluster)  # noqa: E731
    rc = run_load(settings, extract, console=quiet_console(), before_publish=[hook], engine=rec)
    assert rc == 0, f"load failed with exit code {rc}"
    return rec, current_version(rec, settings)


@pytest.fixture(scope="module")
def loads(tmp_path_factory, extract, model):
    tmp = tmp_path_factory.mktemp("cluster_loads")
    single = _settings(tmp, "cl_single", "")
    clustered = _settings(tmp, "cl_cluster", CLUSTER)
    return {"single": (single, *_load(single, extract, model)),
            "cluster": (clustered, *_load(clustered, extract, model))}


def _parse(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="clickhouse")


def _on_cluster(tree: exp.Expression) -> str | None:
    oc = tree.find(exp.OnCluster)
    return oc.this.name if oc is not None else None


def _engine_call(tree: exp.Expression):
    prop = tree.find(exp.EngineProperty)
    return prop.this if prop is not None else None


def _target(tree: exp.Expression) -> tuple[str, str]:
    """(database, table) a CREATE/DROP/INSERT acts on ('' table for a database)."""
    node = tree.this
    if isinstance(node, exp.Schema):
        node = node.this
    if isinstance(node, exp.Table):
        return (node.db, node.name) if node.db else (node.name, "")
    return (node.name if node is not None else "", "")


def _durable(rec: RecordingEngine, settings) -> list[tuple[str, dict | None]]:
    """Statements on what outlives the load: not the loading node's staging database."""
    # the first lower-case name after the keywords (this test's database names are lower case)
    head = re.compile(r"^(?:CREATE|DROP|INSERT)[A-Z ]*? `?([a-z_]\w*)")
    stage = re.compile(rf"^{settings.database}_stage_\d+$")
    out = []
    for sql, st in rec.commands:
        m = head.match(sql)
        if not (m and stage.match(m.group(1))):
            out.append((sql, st))
    return out


def test_cluster_load_every_durable_create_and_drop_is_on_the_configured_cluster(loads):
    """Issue 9: every CREATE/DROP of a version database, fact table, load_history or rollup is
    ON CLUSTER <CROSSTRACK_CLUSTER> and parses with sqlglot's ClickHouse dialect; staging DDL
    (read only on the loading node) is not."""
    settings, rec, _ = loads["cluster"]
    ddl = 0
    for sql, _ in _durable(rec, settings):
        if sql.startswith("SYSTEM SYNC REPLICA"):
            # sqlglot has no tree for SYSTEM statements (it keeps them as a Command)
            assert re.fullmatch(rf"SYSTEM SYNC REPLICA ON CLUSTER {CLUSTER} \w+\.\w+", sql), sql
            continue
        if sql.endswith("FORMAT Arrow"):
            continue
        tree = _parse(sql)
        assert not isinstance(tree, exp.Command), sql[:120]
        if isinstance(tree, (exp.Create, exp.Drop)):
            assert _on_cluster(tree) == CLUSTER, sql[:160]
            ddl += 1
    assert ddl >= 8
    stage_ddl = [s for s, _ in rec.commands if s not in {x for x, _ in _durable(rec, settings)}
                 and s.startswith(("CREATE", "DROP"))]
    assert stage_ddl and not any("ON CLUSTER" in s for s in stage_ddl)


def test_cluster_load_facts_are_replicated_locals_and_distributed_by_person_key_p1(loads):
    """P1: each fact table is a ReplicatedMergeTree per shard ({shard}/{replica} macros) under a
    Distributed table sharded by person_key, so every person is on one shard."""
    settings, rec, version = loads["cluster"]
    created: dict[str, exp.Expression] = {}
    for sql, _ in _durable(rec, settings):
        if sql.startswith("CREATE TABLE"):
            tree = _parse(sql)
            db, table = _target(tree)
            if db == version.database:
                created[table] = tree
    for table in FACT_TABLES:
        local = _engine_call(created[table + LOCAL_SUFFIX])
        assert local.name == "ReplicatedMergeTree"
        assert [a.name for a in local.expressions] == ["/clickhouse/tables/{shard}/{database}/{table}", "{replica}"]
        dist = _engine_call(created[table])
        assert dist.name == "Distributed"
        args = dist.expressions
        assert [a.name for a in args[:3]] == [CLUSTER, version.database, table + LOCAL_SUFFIX]
        assert [c.name for c in args[3].find_all(exp.Column)] == ["person_key"]


def test_cluster_load_inserts_facts_through_distributed_tables_in_the_foreground(loads):
    """Rows reach the shards through the Distributed tables, synchronously (INSERT_SETTINGS), and
    every replica is synced before the facts are checked or rollups read them."""
    settings, rec, version = loads["cluster"]
    durable = _durable(rec, settings)
    # the database name as an f-string wrote it (backticks) or as sqlglot renders it (bare)
    into = re.compile(rf"INSERT INTO `?{re.escape(version.database)}`?\.({'|'.join(FACT_TABLES)}) ")
    fact_inserts = [(s, st) for s, st in durable if into.match(s)]
    assert len(fact_inserts) == len(FACT_TABLES)
    for sql, st in fact_inserts:
        assert LOCAL_SUFFIX not in sql.split(" SELECT ")[0]
        assert st == INSERT_SETTINGS
    assert not any(s.startswith("INSERT") and f"{LOCAL_SUFFIX}" in s.split(" SELECT ")[0] for s, _ in durable)
    order = [s for s, _ in durable]
    last_insert = max(order.index(s) for s, _ in fact_inserts)
    syncs = [i for i, s in enumerate(order) if s.startswith("SYSTEM SYNC REPLICA")
             and s.endswith(tuple(f".{t}{LOCAL_SUFFIX}" for t in FACT_TABLES))]
    assert len(syncs) == len(FACT_TABLES) and min(syncs) > last_insert
    first_rollup = min(i for i, s in enumerate(order) if "ReplicatedAggregatingMergeTree" in s)
    assert max(syncs) < first_rollup


def test_cluster_load_history_and_rollups_are_on_every_node(loads, model):
    """load_history and rollups are whole on every node (Keeper path under /clickhouse/tables/all/,
    no {shard}); each rollup is filled once from the Distributed facts (every shard, so people
    counts and medians are exact: P1, R7) and synced to every replica before the publish."""
    settings, rec, version = loads["cluster"]
    order = [s for s, _ in _durable(rec, settings)]
    every_node = {}
    for sql in order:
        if sql.startswith("CREATE TABLE"):
            tree = _parse(sql)
            call = _engine_call(tree)
            if call.name.startswith("Replicated") and "{shard}" not in call.expressions[0].name:
                assert call.expressions[0].name == "/clickhouse/tables/all/{database}/{table}"
                every_node[_target(tree)] = call.name
    rollups = {pa.table for c in model.cubes.values() for pa in c.pre_aggregations.values()}
    assert rollups
    assert every_node[(settings.database, "load_history")] == "ReplicatedMergeTree"
    for table in rollups:
        assert every_node[(version.database, table)] == "ReplicatedAggregatingMergeTree"
        fills = [s for s in order if s.startswith("INSERT INTO")
                 and _target(_parse(s)) == (version.database, table)]
        assert fills
        for sql in fills:
            read = {(t.db, t.name) for t in _parse(sql).expression.find_all(exp.Table)}
            assert read and all(db == version.database and name in FACT_TABLES for db, name in read), read
    publish = max(i for i, s in enumerate(order) if s.startswith(f"INSERT INTO `{settings.database}`.load_history"))
    for table in rollups:
        assert order.index(f"SYSTEM SYNC REPLICA ON CLUSTER {CLUSTER} {version.database}.{table}") < publish


def test_cluster_rehearsal_publishes_the_same_facts_and_rollups_as_one_machine_p1(loads, model):
    """The cluster statements' one-node equivalents run on chDB (the SQL is valid ClickHouse) and
    the rehearsed cluster load publishes exactly the single-machine facts and rollup rows."""
    engine = Engine.from_settings(loads["single"][0])
    a, b = loads["single"][2].database, loads["cluster"][2].database
    for table in FACT_TABLES:
        rows_a = engine.query(f"SELECT * FROM `{a}`.`{table}` ORDER BY ALL").rows
        rows_b = engine.query(f"SELECT * FROM `{b}`.`{table}` ORDER BY ALL").rows
        assert rows_a and rows_a == rows_b
    for c in model.cubes.values():
        for pa in c.pre_aggregations.values():
            cols = engine.query(f"DESCRIBE TABLE `{a}`.`{pa.table}`").rows
            assert [r[:2] for r in cols] == [r[:2] for r in engine.query(f"DESCRIBE TABLE `{b}`.`{pa.table}`").rows]
            # every column as text (states included), so equal rows mean equal states
            text = ", ".join(f"toString(`{r[0]}`)" if not r[1].startswith("AggregateFunction")
                             else f"hex(toString(finalizeAggregation(`{r[0]}`)))" for r in cols)
            q = "SELECT {t} FROM `{db}`.`{tab}` ORDER BY ALL"
            got_a = engine.query(q.format(t=text, db=a, tab=pa.table)).rows
            got_b = engine.query(q.format(t=text, db=b, tab=pa.table)).rows
            assert got_a and got_a == got_b, pa.table
            comment = "SELECT comment FROM system.tables WHERE database = {db:String} AND name = {t:String}"
            assert (engine.scalar(comment, {"db": a, "t": pa.table})
                    == engine.scalar(comment, {"db": b, "t": pa.table}))


def test_single_machine_load_issues_no_cluster_sql(loads):
    """Without CROSSTRACK_CLUSTER nothing changes: plain MergeTree facts and load_history, no ON
    CLUSTER, no replicated or Distributed engine, no insert settings, no SYSTEM statement; the
    fact DDL is byte-for-byte the single-machine text the loader always issued."""
    settings, rec, version = loads["single"]
    for sql, st in rec.commands:
        assert "ON CLUSTER" not in sql and "Replicated" not in sql and "Distributed" not in sql, sql[:120]
        assert not sql.startswith("SYSTEM") and st is None
    for table, (cols, order) in FACT_TABLES.items():
        body = ", ".join(f"`{c}` {t}" for c, t in cols.items())
        old = (f"CREATE TABLE `{version.database}`.`{table}` ({body}) ENGINE = MergeTree "
               f"ORDER BY ({', '.join(f'`{c}`' for c in order)})")
        assert old in [s for s, _ in rec.commands]
    assert f"CREATE DATABASE `{version.database}`" in [s for s, _ in rec.commands]
    assert (f"CREATE TABLE IF NOT EXISTS `{settings.database}`.load_history (version_id String, "
            "version_number UInt32, database String, loaded_at DateTime64(3, 'UTC'), source_checksums String, "
            "row_counts String, rejected_rows UInt64, snapshot_years Array(UInt16)) ENGINE = MergeTree "
            "ORDER BY version_number") in [s for s, _ in rec.commands]


def test_drop_stale_drops_on_every_node_on_a_cluster(tmp_path):
    """A killed load's version database is dropped ON CLUSTER ... SYNC on a cluster, plainly on one
    machine."""
    for cluster, expected in ((CLUSTER, "DROP DATABASE IF EXISTS cl_drop_{c}_v5 ON CLUSTER east_coast SYNC"),
                              ("", "DROP DATABASE IF EXISTS `cl_drop_{c}_v5` SYNC")):
        tag = "c" if cluster else "s"
        settings = _settings(tmp_path, f"cl_drop_{tag}", cluster)
        rec = RecordingEngine(Engine.from_settings(settings))
        rec.command(f"CREATE DATABASE cl_drop_{tag}_v5")
        assert drop_stale(rec, settings) == [f"cl_drop_{tag}_v5"]
        assert rec.commands[-1][0] == expected.format(c=tag)
        _parse(rec.commands[-1][0])


def test_layout_without_cluster_matches_the_single_machine_statements():
    layout = Layout()
    assert not layout.is_cluster and layout.insert_settings is None and layout.sync_facts("d_v1") == []
    assert layout.create_database("d_v1") == ["CREATE DATABASE `d_v1`"]
    assert Layout.for_settings(load_settings()).cluster == ""
    assert Layout.for_settings(load_settings(cluster=CLUSTER)).is_cluster

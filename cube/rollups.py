"""Build the model's ``rollup`` pre-aggregations as ClickHouse tables.

Each rollup is an AggregatingMergeTree keyed by a grouping mask and its dimensions:

- base rows (every dimension grouped) carry one ``-State`` column per aggregate call of each
  measure, so medians (quantileExactInclusive), distinct counts (uniqExact) and cell keys
  (sumDistinct) stay exact when the compiler later merges them with ``-Merge``;
- base rows and one row per group of every stored *grouping* (subset of the dimensions; the
  cube's ``meta.rollup_subsets.required`` says which dimensions every grouping keeps) carry each
  measure's final value, computed from the facts by the same expression as the raw query. A query
  whose groups are one grouping's rows reads those values without merging any state;
- for a distinct measure with ``meta.distinct_within`` (e.g. people: ``[snapshot_year]``), base
  rows also carry a plain count/sum and the values repeated within one such value, so a query
  within one snapshot year merges small states and subtracts the repeats (exact).
The compiler uses a rollup only for these cheap reads; a query that would merge whole value sets
(exact distinct counts across years, medians over several stored rows) reads the facts instead.
"""

from __future__ import annotations

import hashlib

from sqlglot import exp

from crosstrack.cube.compiler import GROUPING_COL, Compiler
from crosstrack.cube.model import Model
from crosstrack.cube.model_cache import ModelCache, ModelScope
from crosstrack.engine import Engine
from crosstrack.sql import DIALECT, EVERY_NODE_PATH, REPLICA, checked, drop_table_sql, ident, sync_replica


def _table_sql(database: str, table: str) -> str:
    return exp.Table(this=exp.to_identifier(table, quoted=True), db=exp.to_identifier(database, quoted=True)).sql(
        dialect=DIALECT)


ROLLUP_COMMENT = "crosstrack rollup "
_FP_DB = "__rollup_fingerprint__"


def rollup_fingerprint(model: Model, table: str, cache: ModelCache | None = None) -> str:
    """A digest of what a rollup table holds (its columns, groupings and every expression), kept in
    the table's COMMENT: a table built by another model or engine version is never read.
    ``cache``: where the digests of the model's rollups are kept (computed once per model)."""
    scope = ModelScope.of(model, cache)

    def build() -> dict[str, str]:
        comp = Compiler(model, scope.cache)
        out = {}
        for cube in model.cubes.values():
            for pa in cube.pre_aggregations.values():
                parts = [comp.rollup_select(pa, _FP_DB).sql(dialect=DIALECT)]
                parts += [s.sql(dialect=DIALECT) for s in comp.rollup_groupings_selects(pa, _FP_DB)]
                out[pa.table] = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
        return out
    return scope.get(("rollup_fingerprints",), build)[table]


def rollup_ddl(model: Model, database: str, final_types: dict[str, dict[str, str]] | None = None,
               cache: ModelCache | None = None) -> list[tuple[str, list[str]]]:
    """(table, statements) for every declared rollup: CREATE ... AS SELECT (base rows), then
    INSERT ... SELECT ... GROUP BY GROUPING SETS (the stored groupings, a few per statement).
    ``final_types`` (table -> column -> type, see ``final_value_types``) types the final values."""
    cache = cache if cache is not None else ModelCache()
    comp = Compiler(model, cache)
    out = []
    for cube in model.cubes.values():
        for pa in cube.pre_aggregations.values():
            types = (final_types or {}).get(pa.table)
            table = _table_sql(database, pa.table)
            order = exp.Tuple(expressions=[exp.column(d, quoted=True) for d in (GROUPING_COL, *pa.dimensions)])
            comment = exp.Literal.string(ROLLUP_COMMENT + rollup_fingerprint(model, pa.table, cache)).sql(
                dialect=DIALECT)
            stmts = [(f"CREATE TABLE {table} ENGINE = AggregatingMergeTree ORDER BY {order.sql(dialect=DIALECT)} "
                      f"COMMENT {comment} AS {comp.rollup_select(pa, database, types).sql(dialect=DIALECT)}")]
            for extra in comp.rollup_groupings_selects(pa, database):
                # Insert by the SELECT's own column names; a dimension outside every grouping of the
                # batch keeps its default (never read: queries select rows by the grouping mask).
                # The mask reads grouping(d) = 0 as "d is grouped": pin the SQL-standard convention
                # whatever the server's default.
                cols = ", ".join(exp.to_identifier(e.alias_or_name, quoted=True).sql(dialect=DIALECT)
                                 for e in extra.expressions)
                stmts.append(f"INSERT INTO {table} ({cols}) {extra.sql(dialect=DIALECT)} "
                             "SETTINGS group_by_use_nulls = 0, force_grouping_standard_compatibility = 1")
            out.append((pa.table, stmts))
    return out


def final_value_types(engine: Engine, model: Model, database: str,
                      cache: ModelCache | None = None) -> dict[str, dict[str, str]]:
    """ClickHouse types of every rollup's final-value columns, as the engine infers them (no data read)."""
    comp = Compiler(model, cache)
    out: dict[str, dict[str, str]] = {}
    for cube in model.cubes.values():
        for pa in cube.pre_aggregations.values():
            sql = comp.rollup_finals_select(pa, database).sql(dialect=DIALECT)
            out[pa.table] = {r[0]: r[1] for r in engine.query(f"DESCRIBE TABLE ({sql})").rows}
    return out


def rollup_column_types(engine: Engine, model: Model, database: str,
                        final_types: dict[str, dict[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """(column, type) of every rollup table, in order: the types ``CREATE ... AS SELECT`` would give
    it, as the engine infers them from the base-row SELECT (no data read)."""
    comp = Compiler(model)
    out: dict[str, list[tuple[str, str]]] = {}
    for cube in model.cubes.values():
        for pa in cube.pre_aggregations.values():
            sql = comp.rollup_select(pa, database, final_types.get(pa.table)).sql(dialect=DIALECT)
            out[pa.table] = [(r[0], r[1]) for r in engine.query(f"DESCRIBE TABLE ({sql})").rows]
    return out


def cluster_rollup_ddl(model: Model, database: str, cluster: str, final_types: dict[str, dict[str, str]],
                       column_types: dict[str, list[tuple[str, str]]]) -> list[tuple[str, list[str]]]:
    """(table, statements) for every rollup on a cluster (``CROSSTRACK_CLUSTER``).

    A rollup groups by dimensions, not by person, so a shard-local rollup would count a group's
    people on each shard separately. Each rollup is therefore built once, on the loading node,
    from the Distributed facts (every shard: distinct counts, medians and cell keys merge exactly)
    into a ReplicatedAggregatingMergeTree that every node holds whole (one Keeper path under
    ``/clickhouse/tables/all/``, created ON CLUSTER), and the load waits until every replica has it.
    ``CREATE ... ON CLUSTER ... AS SELECT`` would run the SELECT on every node, so the table is
    created empty with the types the SELECT has (``rollup_column_types``) and filled by INSERT."""
    comp = Compiler(model)
    cl = ident(cluster, "cluster")
    out = []
    for cube in model.cubes.values():
        for pa in cube.pre_aggregations.values():
            table = _table_sql(database, pa.table)
            cols = column_types[pa.table]
            order = exp.Tuple(expressions=[exp.column(d, quoted=True) for d in (GROUPING_COL, *pa.dimensions)])
            comment = exp.Literal.string(ROLLUP_COMMENT + rollup_fingerprint(model, pa.table)).sql(dialect=DIALECT)
            body = ", ".join(
                f"{exp.to_identifier(c, quoted=True).sql(dialect=DIALECT)} "
                f"{exp.DataType.build(t, dialect=DIALECT).sql(dialect=DIALECT)}" for c, t in cols)
            names = ", ".join(exp.to_identifier(c, quoted=True).sql(dialect=DIALECT) for c, _ in cols)
            stmts = [drop_table_sql(database, pa.table, cl),
                     checked(f"CREATE TABLE {table} ON CLUSTER {cl} ({body}) "
                              f"ENGINE = ReplicatedAggregatingMergeTree('{EVERY_NODE_PATH}', '{REPLICA}') "
                              f"ORDER BY {order.sql(dialect=DIALECT)} COMMENT {comment}"),
                     f"INSERT INTO {table} ({names}) "
                     f"{comp.rollup_select(pa, database, final_types.get(pa.table)).sql(dialect=DIALECT)}"]
            for extra in comp.rollup_groupings_selects(pa, database):
                gcols = ", ".join(exp.to_identifier(e.alias_or_name, quoted=True).sql(dialect=DIALECT)
                                  for e in extra.expressions)
                stmts.append(f"INSERT INTO {table} ({gcols}) {extra.sql(dialect=DIALECT)} "
                             "SETTINGS group_by_use_nulls = 0, force_grouping_standard_compatibility = 1")
            stmts.append(sync_replica(database, pa.table, cl))
            out.append((pa.table, stmts))
    return out


def build_rollups(engine: Engine, model: Model, database: str, *, cluster: str = "") -> list[str]:
    """Build every declared rollup into ``database`` (a ``before_publish`` hook); returns the tables built.

    ``cluster``: the ClickHouse cluster the version lives on (the caller passes
    ``settings.cluster``, ``CROSSTRACK_CLUSTER``); '' is one machine (plain AggregatingMergeTree)."""
    if cluster:
        finals = final_value_types(engine, model, database)
        plan = cluster_rollup_ddl(model, database, cluster, finals,
                                  rollup_column_types(engine, model, database, finals))
        for _, stmts in plan:
            for sql in stmts:
                engine.command(sql)
        return [table for table, _ in plan]
    built = []
    cache = ModelCache()  # one build: every rollup's trees and fingerprints derived once
    for table, stmts in rollup_ddl(model, database, final_value_types(engine, model, database, cache), cache):
        engine.command(f"DROP TABLE IF EXISTS {_table_sql(database, table)}")
        for sql in stmts:
            engine.command(sql)
        built.append(table)
    return built

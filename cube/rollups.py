"""Build the model's ``rollup`` pre-aggregations as ClickHouse tables.

Each rollup is an AggregatingMergeTree keyed by its dimensions with one ``-State`` column per
aggregate call of each measure, so medians (quantileExactInclusive), distinct counts (uniqExact)
and cell keys (sumDistinct) stay exact when the compiler later merges them with ``-Merge``.
"""

from __future__ import annotations

from sqlglot import exp

from cube.compiler import Compiler
from cube.model import Model
from crosstrack.engine import DIALECT, Engine


def rollup_ddl(model: Model, database: str) -> list[tuple[str, str]]:
    """(table, CREATE statement) for every declared rollup."""
    comp = Compiler(model)
    out = []
    for cube in model.cubes.values():
        for pa in cube.pre_aggregations.values():
            select = comp.rollup_select(pa, database)
            table = exp.Table(this=exp.to_identifier(pa.table, quoted=True), db=exp.to_identifier(database, quoted=True))
            order = exp.Tuple(expressions=[exp.column(d, quoted=True) for d in pa.dimensions])
            out.append((pa.table, f"CREATE TABLE {table.sql(dialect=DIALECT)} ENGINE = AggregatingMergeTree "
                                  f"ORDER BY {order.sql(dialect=DIALECT)} AS {select.sql(dialect=DIALECT)}"))
    return out


def build_rollups(engine: Engine, model: Model, database: str) -> list[str]:
    """Build every declared rollup into ``database`` (a ``before_publish`` hook); returns the tables built."""
    built = []
    for table, ddl in rollup_ddl(model, database):
        drop = f"DROP TABLE IF EXISTS {exp.Table(this=exp.to_identifier(table, quoted=True), db=exp.to_identifier(database, quoted=True)).sql(dialect=DIALECT)}"
        engine.command(drop)
        engine.command(ddl)
        built.append(table)
    return built

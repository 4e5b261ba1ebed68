"""Execute compiled queries: pick a rollup when one fits, run the tree, shape rows like Cube.

Row values: Cube's REST API returns every value as it comes from the driver (for ClickHouse,
numbers often arrive as strings). Crosstrack returns JSON numbers instead — integers stay ``int``
(counts, sums, integer dimensions), means and medians are ``float`` — and times as Cube's
``YYYY-MM-DDTHH:MM:SS.000`` strings. The keys are Cube's: ``view.member`` (and
``view.member.granularity`` for time dimensions).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from crosstrack.cube.compiler import Column, Compiled, Compiler
from crosstrack.cube.model import Model
from crosstrack.cube.model_cache import ModelCache
from crosstrack.cube.rollups import ROLLUP_COMMENT, rollup_fingerprint
from crosstrack.engine import Engine
from crosstrack.sql import DIALECT

_DIALECT = Dialect.get_or_raise(DIALECT)


@dataclass
class LoadResult:
    data: list[dict[str, Any]]
    total: int | None
    annotation: dict[str, Any]
    sql: str
    used_rollup: str | None = None
    columns: list[str] = field(default_factory=list)


def _value(v: Any) -> Any:
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}"
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%dT00:00:00.000")
    return v


_PLAIN = frozenset({int, str, bool, type(None)})  # values _value returns unchanged


def _shape(names: tuple[str, ...], rows: list[tuple], columns: tuple[Column, ...]) -> list[dict[str, Any]]:
    """Rows keyed like Cube (``column.key`` and its ``extra_keys``), values through :func:`_value`.

    Column-wise: a column whose values are all plain (int, str, bool, None) is taken as it is;
    only the others go through :func:`_value`."""
    if not rows:
        return []
    index = {name: i for i, name in enumerate(names)}
    by_position = list(zip(*rows))
    keys: list[str] = []
    cols: list[Any] = []
    for c in columns:
        col = by_position[index[c.alias]]
        if not _PLAIN.issuperset(map(type, col)):
            col = list(map(_value, col))
        for key in (c.key, *c.extra_keys):
            keys.append(key)
            cols.append(col)
    if not cols:
        return [{} for _ in rows]
    return [dict(zip(keys, values)) for values in zip(*cols)]


@dataclass(frozen=True)
class _Plan:
    """What :meth:`QueryEngine.load` needs of a compiled query, with its SQL rendered once."""

    sql: str
    columns: tuple[Column, ...]
    rollup: str | None
    needs_join_nulls: bool
    count_sql: str | None


PLAN_CACHE_SIZE = 512  # compiled + rendered queries kept per QueryEngine (least recently used go)


def _freeze(v: Any) -> Any:
    """An exact, hashable image of a JSON-like query (types kept: 1, 1.0, True and "1" differ).

    Raises TypeError for anything else, and such a query is simply compiled without the cache."""
    t = type(v)
    if t is str or t is int or t is float or t is bool or v is None:
        return (t, v)
    if t is dict:
        return (dict, tuple((_freeze(k), _freeze(x)) for k, x in v.items()))
    if t is list or t is tuple:
        return (t, tuple(_freeze(x) for x in v))
    raise TypeError(t.__name__)


class QueryEngine:
    """Compile and run Cube REST queries against one published database at a time."""

    def __init__(self, model: Model, engine: Engine, *, use_rollups: bool = True, cache: ModelCache | None = None):
        self.model = model
        self.engine = engine
        self.use_rollups = use_rollups
        # What is derived from the model alone (member trees, rollup fingerprints, the meta index),
        # keyed by the model's fingerprint; pass one to share it between engines of one model.
        self.cache = cache if cache is not None else ModelCache()
        self.compiler = Compiler(model, self.cache)
        self._tables: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        # (query, database, internal, rollup tables used) -> _Plan. The compiler is a pure function
        # of these and the (immutable) model, so a new data version — a new database — never gets
        # an older version's SQL.
        self._plans: OrderedDict[tuple, _Plan] = OrderedDict()

    # Rollup tables present in a database and built for this model by this engine (their COMMENT
    # carries the rollup's fingerprint: a table from an older model or engine is ignored, never
    # half-read). Published databases are immutable once referenced, so the answer is cached;
    # forget() drops it (tests that build rollups later).
    def rollup_tables(self, database: str) -> set[str]:
        with self._lock:
            cached = self._tables.get(database)
        if cached is not None:
            return cached
        wanted = {pa.table: ROLLUP_COMMENT + rollup_fingerprint(self.model, pa.table, self.cache)
                  for c in self.model.cubes.values() for pa in c.pre_aggregations.values()}
        found: set[str] = set()
        if wanted:
            q = exp.select("name", "comment").from_(exp.Table(this=exp.to_identifier("tables"),
                                                              db=exp.to_identifier("system"))) \
                .where(exp.column("database").eq(exp.Literal.string(database))) \
                .where(exp.column("name").isin(*[exp.Literal.string(t) for t in sorted(wanted)]))
            found = {name for name, comment in self.engine.query(q).rows if wanted.get(name) == comment}
        with self._lock:
            self._tables[database] = found
        return found

    def forget(self, database: str | None = None) -> None:
        with self._lock:
            if database is None:
                self._tables.clear()
            else:
                self._tables.pop(database, None)
            self._plans.clear()

    def _compile(self, query: dict, database: str, internal: bool, rollups: bool) -> Compiled:
        available = self.rollup_tables(database) if (rollups and self.use_rollups) else None
        return self.compiler.compile(query, database=database, internal=internal, rollups=available)

    def compile(self, query: dict, *, database: str, internal: bool = False, rollups: bool = True) -> exp.Expression:
        return self._compile(query, database, internal, rollups).tree

    def _plan(self, query: dict, database: str, internal: bool, rollups: bool) -> _Plan:
        available = self.rollup_tables(database) if (rollups and self.use_rollups) else None
        try:
            key: tuple | None = (_freeze(query), database, bool(internal),
                                 None if available is None else frozenset(available))
        except TypeError:
            key = None
        if key is not None:
            with self._lock:
                plan = self._plans.get(key)
                if plan is not None:
                    self._plans.move_to_end(key)
                    return plan
        compiled = self.compiler.compile(query, database=database, internal=internal, rollups=available)
        # Rendered without sqlglot's defensive copy: the trees were built for this call only.
        plan = _Plan(_DIALECT.generate(compiled.tree, copy=False), tuple(compiled.columns), compiled.rollup,
                     compiled.needs_join_nulls,
                     _DIALECT.generate(compiled.count_tree, copy=False)
                     if query.get("total") and compiled.count_tree is not None else None)
        if key is not None:
            with self._lock:
                self._plans[key] = plan
                while len(self._plans) > PLAN_CACHE_SIZE:
                    self._plans.popitem(last=False)
        return plan

    def load(self, query: dict, *, database: str, settings: dict | None = None, internal: bool = False,
             rollups: bool = True) -> LoadResult:
        plan = self._plan(query, database, internal, rollups)
        run_settings = dict(settings or {})
        if plan.needs_join_nulls:
            run_settings["join_use_nulls"] = 1
        sql = plan.sql
        rows = self.engine.query(sql, settings=run_settings)
        data = _shape(rows.columns, rows.rows, plan.columns)
        total = None
        if query.get("total"):
            total = int(self.engine.query(plan.count_sql, settings=run_settings).rows[0][0])
        return LoadResult(data, total, self.annotation(plan), sql, plan.rollup, [c.key for c in plan.columns])

    def _meta_index(self) -> dict[str, dict]:
        """Every member's /v1/meta entry by name, built once per model (in the model cache)."""
        def build() -> dict[str, dict]:
            index = {}
            for owner in self.model.meta(internal=True)["cubes"]:
                for coll in ("measures", "dimensions", "segments"):
                    for m in owner[coll]:
                        index[m["name"]] = m
            return index
        return self.compiler.scope.get(("meta_index",), build)

    def annotation(self, compiled: Compiled | _Plan) -> dict[str, Any]:
        """Cube's ``annotation`` block: title, shortTitle, type (and format/meta) per member."""
        meta_by_name = self._meta_index()
        out: dict[str, dict] = {"measures": {}, "dimensions": {}, "segments": {}, "timeDimensions": {}}
        for c in compiled.columns:
            base = c.key if c.kind != "time" else c.key.rsplit(".", 1)[0]
            m = meta_by_name.get(base, {})
            entry = {"title": m.get("title"), "shortTitle": m.get("shortTitle"), "type": m.get("type", c.type)}
            if m.get("format"):
                entry["format"] = m["format"]
            if m.get("meta"):
                entry["meta"] = m["meta"]
            coll = {"measure": "measures", "dimension": "dimensions", "time": "timeDimensions"}[c.kind]
            out[coll][c.key] = entry
        return out

"""A query plan: what a validated Cube REST query asks of the model, as frozen data.

The planner (``cube/planner.py``) builds a plan and is the only step that validates; the
renderer (``cube/render.py``) turns a plan into a sqlglot tree and trusts it. A plan holds no
sqlglot objects and no model objects, only names, so two plans compare (and print) as values:
the golden tests of each step read them as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

Value = Union[str, int, float, bool]


@dataclass(frozen=True)
class MemberRef:
    """A member as the query names it (``owner.member``) and the cube member behind it."""

    full_name: str
    owner: str  # the view or cube the query asked
    cube: str  # the cube that defines the member
    name: str  # its name in that cube
    kind: str  # measure | dimension | segment
    type: str  # the member's type (a segment's is "segment")
    join_path: tuple[str, ...]

    @property
    def alias(self) -> str:
        """Its output column (SQL alias): ``owner__member``."""
        return self.full_name.replace(".", "__")

    @property
    def is_time(self) -> bool:
        return self.kind == "dimension" and self.type == "time"


@dataclass(frozen=True)
class Condition:
    """``{member, operator, values}``; values are already typed (numbers, booleans, date strings)."""

    member: MemberRef
    operator: str
    values: tuple[Value, ...] = ()


@dataclass(frozen=True)
class And:
    parts: tuple["Filter", ...]


@dataclass(frozen=True)
class Or:
    parts: tuple["Filter", ...]


Filter = Union[Condition, And, Or]


def filter_members(f: Filter) -> tuple[MemberRef, ...]:
    """Every member a filter reads, in order."""
    if isinstance(f, Condition):
        return (f.member,)
    return tuple(m for part in f.parts for m in filter_members(part))


def flatten_and(filters: tuple[Filter, ...]) -> tuple[Filter, ...]:
    """The top-level conjunction as one list (``and`` groups opened, ``or`` groups kept whole)."""
    out: list[Filter] = []
    for f in filters:
        out += flatten_and(f.parts) if isinstance(f, And) else [f]
    return tuple(out)


def pins_one_value(f: Filter) -> bool:
    """An ``equals`` filter on a dimension with a single value: that dimension is one value per row."""
    return isinstance(f, Condition) and f.member.kind == "dimension" and f.operator == "equals" and \
        len(f.values) == 1


@dataclass(frozen=True)
class TimeDimension:
    member: MemberRef
    granularity: str | None = None
    date_range: tuple[str, str] | None = None


@dataclass(frozen=True)
class Column:
    """One output column: its SQL alias, the row key Cube uses for it, and what it is."""

    alias: str
    key: str  # row key (Cube's member name; ``member.granularity`` for a time dimension)
    kind: str  # measure | dimension | time
    type: str
    extra_keys: tuple[str, ...] = ()  # further row keys with the same value (a time dimension's bare name)


@dataclass(frozen=True)
class OrderBy:
    alias: str
    desc: bool = False


@dataclass(frozen=True)
class JoinEdge:
    """Join ``target`` onto the tree at ``source``; the ON clause is the ``owner`` cube's join to
    the other one (``owner`` is ``source`` or ``target``)."""

    source: str
    target: str
    owner: str
    relationship: str  # of the join as its owner declares it: one_to_one | one_to_many | many_to_one


@dataclass(frozen=True)
class JoinPlan:
    root: str
    edges: tuple[JoinEdge, ...] = ()

    def multiplied(self, cube: str) -> bool:
        """True when the join tree holds several rows for one row of ``cube`` (fan-out)."""
        adj: dict[str, list[tuple[str, bool]]] = {}
        for e in self.edges:
            # owner -> other is to-one for many_to_one/one_to_one; other -> owner for one_to_many/one_to_one
            other = e.target if e.owner == e.source else e.source
            adj.setdefault(e.owner, []).append((other, e.relationship in ("many_to_one", "one_to_one")))
            adj.setdefault(other, []).append((e.owner, e.relationship in ("one_to_many", "one_to_one")))
        seen, stack = {cube}, [cube]
        while stack:
            cur = stack.pop()
            for nxt, to_one in adj.get(cur, []):
                if nxt in seen:
                    continue
                if not to_one:
                    return True
                seen.add(nxt)
                stack.append(nxt)
        return False


@dataclass(frozen=True)
class RollupChoice:
    """The rollup a plan reads. ``exact``: the query's groups are the rows of one stored grouping
    (``grain`` is its GROUPING_COL mask) and final values are read; otherwise base rows
    (``grain`` = every dimension) are merged, with ``fixed`` the dimensions that are one value in
    every output row."""

    table: str
    cube: str
    name: str
    exact: bool
    grain: int
    fixed: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueryPlan:
    measures: tuple[MemberRef, ...]
    dimensions: tuple[MemberRef, ...]
    segments: tuple[MemberRef, ...]
    time_dimensions: tuple[TimeDimension, ...]
    filters: tuple[Filter, ...]
    columns: tuple[Column, ...]
    order: tuple[OrderBy, ...]
    limit: int
    offset: int
    database: str
    total: bool
    joins: JoinPlan
    # measures aggregated per primary key of their cube first (their rows are multiplied by a join)
    fan_out: tuple[str, ...] = ()
    rollup: RollupChoice | None = field(default=None)

    @property
    def where(self) -> tuple[Filter, ...]:
        """Filters on dimensions only (the planner refuses a group that mixes kinds)."""
        return tuple(f for f in self.filters if any(m.kind != "measure" for m in filter_members(f))
                     or not filter_members(f))

    @property
    def having(self) -> tuple[Filter, ...]:
        """Filters on measures only."""
        return tuple(f for f in self.filters if filter_members(f) and
                     all(m.kind == "measure" for m in filter_members(f)))

    @property
    def output_measures(self) -> tuple[MemberRef, ...]:
        """Measures with their own output column (one also asked as a dimension is not repeated)."""
        keys = {c.key for c in self.columns}
        return tuple(m for m in self.measures if m.full_name in keys)

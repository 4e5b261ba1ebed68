"""Validate a Cube REST query against the model and build its ``QueryPlan``.

This is the only step that refuses a query: every refusal is a ``QueryError`` naming the member
or query key and what would have been accepted. No SQL is built here; the plan says what to
compute and ``cube/render.py`` says how.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from crosstrack.cube.errors import QueryError
from crosstrack.cube.joins import plan_joins
from crosstrack.cube.model import GRANULARITIES, Model, Resolved
from crosstrack.cube.plan import Column, JoinPlan, MemberRef, OrderBy, QueryPlan, TimeDimension, filter_members
from crosstrack.cube.plan_filters import DATE_RE, parse_filter

DEFAULT_LIMIT = 10_000
QUERY_KEYS = {"measures", "dimensions", "filters", "segments", "timeDimensions", "order", "limit", "offset",
              "total", "timezone", "renewQuery", "ungrouped", "responseFormat"}
# aggregates a join's repeated rows cannot change
SAFE_UNDER_FANOUT = {"count_distinct", "count_distinct_approx", "min", "max"}


def member_ref(r: Resolved) -> MemberRef:
    m = r.member
    return MemberRef(r.full_name, r.owner, r.cube, m.name, m.kind, getattr(m, "type", "segment"), tuple(r.join_path))


class Planner:
    """Plans queries of one model; ``internal`` queries may also use non-public members."""

    def __init__(self, model: Model):
        self.model = model

    def resolve(self, name: Any, kinds: tuple[str, ...], where: str, internal: bool) -> Resolved:
        model = self.model
        if not isinstance(name, str) or "." not in name:
            raise QueryError(f"{where}: '{name}' is not a member name of the form view.member", member=str(name),
                             allowed=model.queryable(internal=internal), code="unknown_member")
        owner = name.split(".", 1)[0]
        if owner not in model.views and owner not in model.cubes or (
                not internal and owner not in model.queryable(internal=False)):
            raise QueryError(f"{where}: '{owner}' is not a dataset", member=name,
                             allowed=model.queryable(internal=internal), code="unknown_member")
        r = model.resolve(name)
        if r is not None and (r.public or internal) and r.kind in kinds:
            return r
        allowed = [n for k in kinds for n in model.members_of(owner, k, internal=internal)]
        if r is None or (not r.public and not internal):
            raise QueryError(f"{where}: '{owner}' has no {' or '.join(kinds)} '{name.split('.', 1)[1]}'",
                             member=name, allowed=allowed, code="unknown_member")
        raise QueryError(f"{where}: '{name}' is a {r.kind}, not a {' or '.join(kinds)}", member=name,
                         allowed=allowed, code="wrong_member_kind")

    def plan(self, query: Any, *, database: str, internal: bool = False) -> QueryPlan:
        """The plan of ``query`` (no rollup chosen yet: see ``cube/rollup_match.py``)."""
        _check_shape(query)

        def resolve(name: Any, kinds: tuple[str, ...], where: str) -> Resolved:
            return self.resolve(name, kinds, where, internal)

        measures = [resolve(n, ("measure",), "measures") for n in query.get("measures", [])]
        dims = [resolve(n, ("dimension",), "dimensions") for n in query.get("dimensions", [])]
        segments = [resolve(n, ("segment",), "segments") for n in query.get("segments", [])]
        tds = [self._time_dimension(td, internal) for td in query.get("timeDimensions", [])]
        seen: set[str] = set()
        dims = [d for d in dims if not (d.full_name in seen or seen.add(d.full_name))]
        if not measures and not dims and not any(g for _, g, _ in tds):
            queryable = self.model.queryable(internal=internal)
            raise QueryError("a query needs at least one measure or dimension", member="measures",
                             allowed=self.model.members_of(queryable[0], "measure") if queryable else [],
                             code="invalid_query")
        raw_filters = query.get("filters", [])
        if not isinstance(raw_filters, list):
            raise QueryError("'filters' must be a list", member="filters", code="invalid_query")
        filter_resolved: list[Resolved] = []
        filters = tuple(parse_filter(f, resolve, member_ref, filter_resolved) for f in raw_filters)

        every = measures + dims + segments + [t[0] for t in tds] + filter_resolved
        owners = {r.owner for r in every}
        if any(o in self.model.views for o in owners) and len(owners) > 1:
            raise QueryError("all members of a query must come from one dataset (view)", member=sorted(owners)[1],
                             allowed=sorted(owners)[:1], code="invalid_query")
        limit = query.get("limit", DEFAULT_LIMIT)
        offset = query.get("offset", 0)
        for key, val in (("limit", limit), ("offset", offset)):
            if not isinstance(val, int) or isinstance(val, bool) or val < 0:
                raise QueryError(f"'{key}' must be a non-negative integer", member=key, code="invalid_value")

        m_refs = tuple(member_ref(r) for r in measures)
        d_refs = tuple(member_ref(r) for r in dims)
        t_refs = tuple(TimeDimension(member_ref(r), g, rng) for r, g, rng in tds)
        columns = _columns(m_refs, d_refs, t_refs)
        order = _order(query.get("order"), columns, m_refs, d_refs)
        joins = plan_joins(self.model, [member_ref(r) for r in every])
        for f in filters:
            kinds = {m.kind for m in filter_members(f)}
            if not (kinds == {"measure"} or kinds <= {"dimension"}):
                raise QueryError("a filter group may not mix measures and dimensions",
                                 member=filter_members(f)[0].full_name, code="invalid_query")
        plan = QueryPlan(m_refs, d_refs, tuple(member_ref(r) for r in segments), t_refs, filters, columns, order,
                         limit, offset, database, bool(query.get("total")), joins)
        return replace(plan, fan_out=self._fan_out(plan, joins))

    def _time_dimension(self, td: Any, internal: bool) -> tuple[Resolved, str | None, tuple[str, str] | None]:
        if not isinstance(td, dict) or "dimension" not in td:
            raise QueryError("a timeDimension is {dimension, granularity?, dateRange?}", member="timeDimensions",
                             code="invalid_query")
        extra = set(td) - {"dimension", "granularity", "dateRange"}
        if extra:
            raise QueryError(f"timeDimensions: '{sorted(extra)[0]}' is not supported", member=sorted(extra)[0],
                             allowed=["dimension", "granularity", "dateRange"], code="invalid_query")
        r = self.resolve(td["dimension"], ("dimension",), "timeDimensions", internal)
        if r.member.type != "time":
            raise QueryError(f"timeDimensions: '{r.full_name}' is not a time dimension", member=r.full_name,
                             allowed=[n for n in self.model.members_of(r.owner, "dimension", internal=internal)
                                      if self.model.resolve(n).member.type == "time"], code="wrong_member_kind")
        gran = td.get("granularity")
        if gran is not None and gran not in GRANULARITIES:
            raise QueryError(f"granularity '{gran}' is not supported", member=r.full_name,
                             allowed=list(GRANULARITIES), code="invalid_value")
        rng = td.get("dateRange")
        return r, gran, (_date_range(r, rng) if rng is not None else None)

    def leaf_types(self, cube: str, name: str) -> set[str]:
        """The aggregation types a measure is made of (a number measure: those of the measures it reads)."""
        m = self.model.cubes[cube].measures[name]
        if m.type != "number":
            return {m.type}
        refs = [r for r in m.sql.resolved if r and r[0] == "member"]
        if not refs:
            return {"number"}
        out: set[str] = set()
        for _, c, n in refs:
            out |= self.leaf_types(c, n)
        if m.sql.has_aggregate:
            out.add("number")
        return out

    def _fan_out(self, plan: QueryPlan, joins: JoinPlan) -> tuple[str, ...]:
        """Measures whose rows a one-to-many join multiplies and whose aggregate would change: they
        are aggregated per primary key of their cube first (Cube's approach), which needs one."""
        measures = {r.full_name: r for r in plan.measures + tuple(m for f in plan.having for m in filter_members(f))}
        multiplied = [r for r in measures.values() if joins.multiplied(r.cube)
                      and not self.leaf_types(r.cube, r.name) <= SAFE_UNDER_FANOUT]
        if multiplied:
            firsts: dict[str, MemberRef] = {}
            for r in measures.values():
                firsts.setdefault(r.cube if r in multiplied else "", r)
            for cube, first in firsts.items():
                if cube and not self.model.cubes[cube].primary_keys:
                    raise QueryError(f"cube '{cube}' needs a primary_key dimension to aggregate measures across a "
                                     "one-to-many join", member=first.full_name, code="invalid_query")
        return tuple(r.full_name for r in multiplied)


def _check_shape(query: Any) -> None:
    if not isinstance(query, dict):
        raise QueryError("a query is a JSON object", code="invalid_query")
    for k in query:
        if k not in QUERY_KEYS:
            raise QueryError(f"unknown query key '{k}'", member=k, allowed=sorted(QUERY_KEYS), code="invalid_query")
    if query.get("ungrouped"):
        raise QueryError("ungrouped queries are not supported", member="ungrouped", code="invalid_query")
    if query.get("timezone") not in (None, "UTC", "Etc/UTC"):
        raise QueryError("only the UTC timezone is supported", member="timezone", allowed=["UTC"],
                         code="invalid_query")
    for key in ("measures", "dimensions", "segments", "timeDimensions"):
        if not isinstance(query.get(key, []), list):
            raise QueryError(f"'{key}' must be a list", member=key, code="invalid_query")


def _date_range(r: Resolved, rng: Any) -> tuple[str, str]:
    if isinstance(rng, str):
        rng = [rng, rng]
    if not (isinstance(rng, list) and len(rng) == 2 and all(isinstance(v, str) and DATE_RE.match(v) for v in rng)):
        raise QueryError(f"dateRange of '{r.full_name}' must be two dates YYYY-MM-DD (relative ranges are not "
                         "supported)", member=r.full_name, code="invalid_value")
    return rng[0], rng[1]


def _columns(measures: tuple[MemberRef, ...], dims: tuple[MemberRef, ...],
             tds: tuple[TimeDimension, ...]) -> tuple[Column, ...]:
    cols: list[Column] = [Column(r.alias, r.full_name, "dimension", r.type) for r in dims]
    for td in tds:
        if td.granularity:
            r = td.member
            extra = (r.full_name,) if not any(c.key == r.full_name for c in cols) else ()
            cols.append(Column(f"{r.alias}_{td.granularity}", f"{r.full_name}.{td.granularity}", "time", "time",
                               extra))
    for r in measures:
        if not any(c.key == r.full_name for c in cols):
            cols.append(Column(r.alias, r.full_name, "measure", r.type))
    return tuple(cols)


def _order(order: Any, cols: tuple[Column, ...], measures: tuple[MemberRef, ...],
           dims: tuple[MemberRef, ...]) -> tuple[OrderBy, ...]:
    by_key = {c.key: c for c in cols}
    for c in cols:
        for k in c.extra_keys:
            by_key.setdefault(k, c)
    pairs: list[tuple[Any, Any]] = []
    if order is None:
        # Cube's default: first time dimension with granularity asc, else first measure desc,
        # else first dimension asc.
        timecols = [c for c in cols if c.kind == "time"]
        if timecols:
            pairs = [(timecols[0].key, "asc")]
        elif measures:
            pairs = [(measures[0].full_name, "desc")]
        elif dims:
            pairs = [(dims[0].full_name, "asc")]
    elif isinstance(order, dict):
        pairs = list(order.items())
    elif isinstance(order, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in order):
        pairs = [tuple(p) for p in order]
    else:
        raise QueryError("'order' is {member: asc|desc} or [[member, asc|desc], ...]", member="order",
                         code="invalid_query")
    out: list[OrderBy] = []
    for key, direction in pairs:
        if key not in by_key:
            raise QueryError(f"order: '{key}' is not a member of this query", member=str(key),
                             allowed=list(by_key), code="invalid_value")
        if direction not in ("asc", "desc"):
            raise QueryError(f"order: direction of '{key}' must be asc or desc", member=str(key),
                             allowed=["asc", "desc"], code="invalid_value")
        out.append(OrderBy(by_key[key].alias, direction == "desc"))
    # Deterministic output: the same query always gives the same rows in the same order.
    for c in cols:
        if c.kind != "measure" and c.alias not in [o.alias for o in out]:
            out.append(OrderBy(c.alias, False))
    return tuple(out)

"""The loaded model: cubes, views and their members, and its description in Cube's /v1/meta shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crosstrack.cube.sqlexpr import Template

MEASURE_TYPES = ("count", "count_distinct", "count_distinct_approx", "sum", "avg", "min", "max", "number")
DIMENSION_TYPES = ("string", "number", "boolean", "time")
RELATIONSHIPS = {"one_to_one": "one_to_one", "one_to_many": "one_to_many", "many_to_one": "many_to_one",
                 "has_one": "one_to_one", "has_many": "one_to_many", "belongs_to": "many_to_one",
                 "hasOne": "one_to_one", "hasMany": "one_to_many", "belongsTo": "many_to_one"}
GRANULARITIES = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")


def humanize(name: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in name.replace("_", " ").split())


@dataclass
class Measure:
    cube: str
    name: str
    type: str
    sql: Template | None = None
    filters: list[Template] = field(default_factory=list)
    title: str | None = None
    description: str | None = None
    format: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    public: bool = True
    kind: str = "measure"


@dataclass
class Dimension:
    cube: str
    name: str
    type: str
    sql: Template | None = None
    case_when: list[tuple[Template, Any]] = field(default_factory=list)  # (condition, label or Template)
    case_else: Any = None
    primary_key: bool = False
    title: str | None = None
    description: str | None = None
    format: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    public: bool = True
    kind: str = "dimension"


@dataclass
class Segment:
    cube: str
    name: str
    sql: Template
    title: str | None = None
    description: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    public: bool = True
    kind: str = "segment"


@dataclass
class Join:
    owner: str
    target: str
    relationship: str  # one_to_one | one_to_many | many_to_one
    sql: Template


@dataclass
class PreAggregation:
    cube: str
    name: str
    measures: list[str]
    dimensions: list[str]
    segments: list[str] = field(default_factory=list)
    time_dimension: str | None = None
    granularity: str | None = None

    @property
    def table(self) -> str:
        return f"{self.cube}__{self.name}"


@dataclass
class Cube:
    name: str
    sql_table: str | None = None
    sql: Template | None = None
    title: str | None = None
    description: str | None = None
    public: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)
    dimensions: dict[str, Dimension] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    joins: dict[str, Join] = field(default_factory=dict)
    pre_aggregations: dict[str, PreAggregation] = field(default_factory=dict)

    def member(self, name: str):
        return self.measures.get(name) or self.dimensions.get(name) or self.segments.get(name)

    @property
    def primary_keys(self) -> list[Dimension]:
        return [d for d in self.dimensions.values() if d.primary_key]


@dataclass
class ViewMember:
    view: str
    name: str
    cube: str
    member: str
    kind: str
    join_path: tuple[str, ...]
    title: str | None = None
    description: str | None = None
    format: str | None = None
    meta: dict[str, Any] | None = None


@dataclass
class View:
    name: str
    title: str | None = None
    description: str | None = None
    public: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    members: dict[str, ViewMember] = field(default_factory=dict)


@dataclass
class Resolved:
    """A query member: where it was asked (``owner.name``) and the cube member behind it."""

    full_name: str
    owner: str
    cube: str
    member: Any  # Measure | Dimension | Segment
    join_path: tuple[str, ...]
    public: bool
    view_member: ViewMember | None = None

    @property
    def kind(self) -> str:
        return self.member.kind

    @property
    def meta(self) -> dict[str, Any]:
        vm = self.view_member
        return vm.meta if vm is not None and vm.meta is not None else self.member.meta


@dataclass
class Model:
    cubes: dict[str, Cube]
    views: dict[str, View]
    files: list[str] = field(default_factory=list)

    # --- lookup ---------------------------------------------------------------------------
    def resolve(self, full_name: str) -> Resolved | None:
        owner, _, name = full_name.partition(".")
        if owner in self.views:
            view = self.views[owner]
            vm = view.members.get(name)
            if vm is None:
                return None
            cube = self.cubes[vm.cube]
            m = cube.member(vm.member)
            return Resolved(full_name, owner, vm.cube, m, vm.join_path, view.public and m.public, vm)
        if owner in self.cubes:
            cube = self.cubes[owner]
            m = cube.member(name)
            if m is None:
                return None
            return Resolved(full_name, owner, owner, m, (owner,), cube.public and m.public)
        return None

    def members_of(self, owner: str, kind: str | None = None, *, internal: bool = False) -> list[str]:
        """Names (``owner.member``) a query may use, for error messages."""
        out = []
        if owner in self.views:
            v = self.views[owner]
            for n, vm in v.members.items():
                r = self.resolve(f"{owner}.{n}")
                if r and (kind is None or r.kind == kind) and (internal or r.public):
                    out.append(f"{owner}.{n}")
        elif owner in self.cubes:
            c = self.cubes[owner]
            for coll in (c.measures, c.dimensions, c.segments):
                for n, m in coll.items():
                    if (kind is None or m.kind == kind) and (internal or (c.public and m.public)):
                        out.append(f"{owner}.{n}")
        return out

    def queryable(self, *, internal: bool = False) -> list[str]:
        names = [n for n, v in self.views.items() if internal or v.public]
        names += [n for n, c in self.cubes.items() if internal or c.public]
        return names

    # --- /v1/meta ---------------------------------------------------------------------------
    def meta(self, *, internal: bool = False) -> dict[str, Any]:
        """Cube's ``/v1/meta`` shape: ``{"cubes": [...]}`` with cubes and views."""
        out = []
        for cname, c in self.cubes.items():
            if not (c.public or internal):
                continue
            out.append(self._meta_owner(cname, c.title, c.description, c.meta, "cube", c.public,
                                        [(n, self.resolve(f"{cname}.{n}"), None) for n in
                                         [*c.measures, *c.dimensions, *c.segments]], internal))
        for vname, v in self.views.items():
            if not (v.public or internal):
                continue
            out.append(self._meta_owner(vname, v.title, v.description, v.meta, "view", v.public,
                                        [(n, self.resolve(f"{vname}.{n}"), vm) for n, vm in v.members.items()],
                                        internal))
        return {"cubes": out}

    def _meta_owner(self, name, title, description, meta, type_, public, members, internal):
        otitle = title or humanize(name)
        entry: dict[str, Any] = {"name": name, "type": type_, "title": otitle, "description": description,
                                 "public": public, "isVisible": public, "connectedComponent": 1,
                                 "meta": meta or {}, "measures": [], "dimensions": [], "segments": []}
        for short, r, vm in members:
            if r is None or not (r.public or internal):
                continue
            m = r.member
            mtitle = (vm.title if vm and vm.title else None) or m.title or humanize(short)
            desc = (vm.description if vm and vm.description else None) or m.description
            item: dict[str, Any] = {"name": f"{name}.{short}", "title": f"{otitle} {mtitle}", "shortTitle": mtitle,
                                    "description": desc, "meta": r.meta or {}, "isVisible": r.public,
                                    "public": r.public}
            if m.kind == "measure":
                item.update(type="number" if m.type not in ("string", "time", "boolean") else m.type,
                            aggType=m.type, format=(vm.format if vm and vm.format else None) or m.format,
                            cumulative=False, cumulativeTotal=False, drillMembers=[],
                            drillMembersGrouped={"measures": [], "dimensions": []})
                entry["measures"].append(item)
            elif m.kind == "dimension":
                item.update(type=m.type, format=(vm.format if vm and vm.format else None) or m.format,
                            suggestFilterValues=True, primaryKey=m.primary_key)
                entry["dimensions"].append(item)
            else:
                entry["segments"].append(item)
        return entry

"""Load and validate model files (Cube's data-model syntax in YAML).

Every problem is collected, not just the first, and each points at the offending key:
``file:line:col: error[code] path: message`` with a "did you mean" where a near name exists.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosstrack.cube.errors import Diagnostic, ModelError
from crosstrack.cube.factcheck import check_fact_columns
from crosstrack.cube.model import (DIMENSION_TYPES, GRANULARITIES, MEASURE_TYPES, RELATIONSHIPS, Cube, Dimension, Join,
                        Measure, Model, PreAggregation, Segment, View, ViewMember)
from crosstrack.cube.sqlexpr import Template, TemplateError, parse_template, placeholder_refs
from crosstrack.cube.yamlpos import PosDoc, YamlSyntaxError, load_with_positions

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FORMATS = ("number", "percent", "currency", "imageUrl", "link", "id")
DISCLOSURE_KINDS = ("people", "count", "mean", "median", "cohort", "event", "rate")
COUNT_TYPES = ("count", "count_distinct")
# the median forms the disclosure control knows (R7: quantileExactInclusive matches the FAQ's median)
MEDIAN_FORM = re.compile(r"^\s*(quantileExact(Inclusive)?\(\s*0?\.5\s*\)|median(Exact)?)\s*\(", re.IGNORECASE)

# key -> expected python type(s); a tuple of types means any of them.
TOP_KEYS = {"cubes": list, "views": list}
CUBE_KEYS = {"name": str, "sql_table": str, "sql": str, "title": str, "description": str, "public": bool,
             "shown": bool, "meta": dict, "measures": list, "dimensions": list, "segments": list, "joins": list,
             "pre_aggregations": list}
MEASURE_KEYS = {"name": str, "type": str, "sql": (str, int), "title": str, "description": str, "public": bool,
                "shown": bool, "format": str, "meta": dict, "filters": list, "drill_members": list}
DIMENSION_KEYS = {"name": str, "type": str, "sql": (str, int), "case": dict, "primary_key": bool, "title": str,
                  "description": str, "public": bool, "shown": bool, "format": str, "meta": dict}
SEGMENT_KEYS = {"name": str, "sql": str, "title": str, "description": str, "public": bool, "shown": bool,
                "meta": dict}
JOIN_KEYS = {"name": str, "relationship": str, "sql": str}
PREAGG_KEYS = {"name": str, "type": str, "measures": list, "dimensions": list, "segments": list,
               "time_dimension": str, "granularity": str, "refresh_key": dict, "scheduled_refresh": bool}
VIEW_KEYS = {"name": str, "title": str, "description": str, "public": bool, "shown": bool, "meta": dict,
             "cubes": list}
VIEW_CUBE_KEYS = {"join_path": str, "includes": (str, list), "excludes": list, "prefix": bool, "alias": str}
INCLUDE_KEYS = {"name": str, "alias": str, "title": str, "description": str, "format": str, "meta": dict}
UNSUPPORTED = {
    "cube": {"extends", "hierarchies", "access_policy", "data_source", "sql_alias", "rewrite_queries", "calendar",
             "refresh_key"},
    "measure": {"rolling_window", "multi_stage", "time_shift", "cumulative", "reduce_by", "group_by",
                "add_group_by", "order_by", "case"},
    "dimension": {"sub_query", "propagate_filters_to_sub_query", "granularities", "multi_stage", "latitude",
                  "longitude", "add_group_by", "time_shift"},
    "view": {"folders", "access_policy", "extends"},
    "pre_aggregation": {"partition_granularity", "indexes", "build_range_start", "build_range_end",
                        "rollups", "external", "allow_non_strict_date_range_match", "use_original_sql_pre_aggregations",
                        "union_with_source_data", "lambda"},
}
TYPE_NAMES = {str: "a string", bool: "true or false", dict: "a mapping", list: "a list", int: "a number"}


def _did_you_mean(name: str, options) -> str:
    near = difflib.get_close_matches(str(name), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""


@dataclass
class _Loc:
    file: str
    doc: PosDoc
    path: tuple
    label: str


class _Loader:
    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.cubes: dict[str, Cube] = {}
        self.views: dict[str, View] = {}
        self.locs: dict[tuple, _Loc] = {}  # (kind, owner, name[, key]) -> location
        self.raw_views: list[tuple[_Loc, dict]] = []
        self.broken: set[tuple[str, str]] = set()  # members that failed to load: no cascading errors

    # --- diagnostics -------------------------------------------------------------------------
    def err(self, loc: _Loc, code: str, message: str, key: str | int | None = None, *, value: bool = False,
            label_suffix: str | None = None) -> None:
        path = loc.path + ((key,) if key is not None else ())
        line, col = loc.doc.value_at(path) if value else loc.doc.at(path)
        label = loc.label
        if label_suffix is not None:
            label += label_suffix
        elif key is not None:
            label += f"[{key}]" if isinstance(key, int) else f".{key}"
        self.diags.append(Diagnostic(loc.file, line, col, code, label, message))

    def child(self, loc: _Loc, key, label: str) -> _Loc:
        return _Loc(loc.file, loc.doc, loc.path + (key,), label)

    def check_keys(self, loc: _Loc, data: Any, schema: dict, kind: str, required=("name",)) -> bool:
        if not isinstance(data, dict):
            self.err(loc, "wrong-type", f"expected a mapping for a {kind.replace('_', ' ')}, got {type(data).__name__}",
                     value=True)
            return False
        for key, val in data.items():
            if key not in schema:
                if key in UNSUPPORTED.get(kind, ()):
                    self.err(loc, "unsupported", f"'{key}' (a {kind.replace('_', ' ')} key in Cube) is not supported by crosstrack", key)
                else:
                    self.err(loc, "unknown-key", f"unknown {kind.replace('_', ' ')} key '{key}'{_did_you_mean(key, schema)}", key)
                continue
            want = schema[key]
            wants = want if isinstance(want, tuple) else (want,)
            if not isinstance(val, wants) or (isinstance(val, bool) and bool not in wants):
                self.err(loc, "wrong-type", f"'{key}' must be {' or '.join(TYPE_NAMES[w] for w in wants)}, "
                                            f"got {type(val).__name__}", key)
        ok = True
        for key in required:
            if key not in data:
                self.err(loc, "missing-key", f"missing required key '{key}'")
                ok = False
        if "name" in data and isinstance(data["name"], str) and not NAME_RE.match(data["name"]):
            self.err(loc, "bad-name", f"name '{data['name']}' must be letters, digits and _ (not starting with a digit)", "name")
            ok = False
        return ok and isinstance(data.get("name", ""), str)

    def _typed(self, data: dict, key: str, typ, default=None):
        v = data.get(key, default)
        types = typ if isinstance(typ, tuple) else (typ,)
        if isinstance(v, bool) and bool not in types:
            return default
        return v if isinstance(v, types) else default

    def template(self, loc: _Loc, data: dict, key: str) -> Template | None:
        if key not in data or not isinstance(data[key], (str, int)) or isinstance(data[key], bool):
            return None
        try:
            return parse_template(str(data[key]))
        except TemplateError as e:
            self.err(loc, "bad-sql", str(e), key, value=True)
            return None

    # --- phase 1: shapes -------------------------------------------------------------------
    def load_file(self, file: str, text: str) -> None:
        try:
            doc = load_with_positions(text)
        except YamlSyntaxError as e:
            self.diags.append(Diagnostic(file, e.line, e.col, "yaml-syntax", "<file>", e.message))
            return
        root = _Loc(file, doc, (), "")
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            self.err(root, "wrong-type", "a model file is a mapping with 'cubes' and/or 'views'", value=True,
                     label_suffix="<file>")
            return
        for key, val in doc.data.items():
            if key not in TOP_KEYS:
                self.err(root, "unknown-key", f"unknown top-level key '{key}'{_did_you_mean(key, TOP_KEYS)}", key,
                         label_suffix=str(key))
            elif not isinstance(val, list):
                self.err(root, "wrong-type", f"'{key}' must be a list", key, label_suffix=str(key))
        for i, c in enumerate(self._typed(doc.data, "cubes", list, [])):
            name = c.get("name") if isinstance(c, dict) and isinstance(c.get("name"), str) else str(i)
            self.load_cube(_Loc(file, doc, ("cubes", i), f"cubes[{name}]"), c)
        for i, v in enumerate(self._typed(doc.data, "views", list, [])):
            name = v.get("name") if isinstance(v, dict) and isinstance(v.get("name"), str) else str(i)
            loc = _Loc(file, doc, ("views", i), f"views[{name}]")
            if self.check_keys(loc, v, VIEW_KEYS, "view", required=("name", "cubes")):
                if name in self.views or name in self.cubes or any(name == n for _, d in self.raw_views
                                                                   for n in [d.get("name")]):
                    self.err(loc, "duplicate-name", f"'{name}' is already defined", "name")
                    continue
                self.raw_views.append((loc, v))

    def load_cube(self, loc: _Loc, c: Any) -> None:
        if not self.check_keys(loc, c, CUBE_KEYS, "cube"):
            return
        name = c["name"]
        if name in self.cubes:
            self.err(loc, "duplicate-name", f"cube '{name}' is already defined", "name")
            return
        if "sql_table" in c and "sql" in c:
            self.err(loc, "conflict", "give either 'sql_table' or 'sql', not both", "sql")
        elif "sql_table" not in c and "sql" not in c:
            self.err(loc, "missing-key", "missing 'sql_table' (or 'sql')")
        cube = Cube(name=name, title=self._typed(c, "title", str), description=self._typed(c, "description", str),
                    public=self._typed(c, "public", bool, self._typed(c, "shown", bool, True)),
                    meta=self._typed(c, "meta", dict, {}))
        if isinstance(c.get("sql_table"), str):
            parts = c["sql_table"].split(".")
            if not all(NAME_RE.match(p) for p in parts) or len(parts) > 2:
                self.err(loc, "bad-sql", f"sql_table '{c['sql_table']}' must be a table name or database.table",
                         "sql_table", value=True)
            cube.sql_table = c["sql_table"]
        if isinstance(c.get("sql"), str):
            cube.sql = self.template(loc, c, "sql")
        self.cubes[name] = cube
        self.locs[("cube", name)] = loc
        self.check_meta_shape(loc, cube.meta)
        for coll_key, schema, kind in (("dimensions", DIMENSION_KEYS, "dimension"), ("measures", MEASURE_KEYS, "measure"),
                                       ("segments", SEGMENT_KEYS, "segment"), ("joins", JOIN_KEYS, "join"),
                                       ("pre_aggregations", PREAGG_KEYS, "pre_aggregation")):
            for i, m in enumerate(self._typed(c, coll_key, list, [])):
                mname = m.get("name") if isinstance(m, dict) and isinstance(m.get("name"), str) else str(i)
                mloc = self.child(loc, coll_key, f"{loc.label}.{coll_key}[{mname}]")
                mloc = _Loc(loc.file, loc.doc, loc.path + (coll_key, i), f"{loc.label}.{coll_key}[{mname}]")
                required = ("name", "type") if kind in ("measure", "dimension", "pre_aggregation") else (
                    ("name", "relationship", "sql") if kind == "join" else ("name", "sql"))
                if not self.check_keys(mloc, m, schema, kind, required=required):
                    self.broken.add((name, mname))
                    continue
                if kind != "join" and (cube.member(mname) or mname in cube.pre_aggregations):
                    self.err(mloc, "duplicate-name", f"'{mname}' is already a member of cube '{name}'", "name")
                    continue
                getattr(self, f"load_{kind}")(cube, mloc, m)

    def check_meta_shape(self, loc: _Loc, meta: dict, key="meta") -> None:
        codes = meta.get("codes") if isinstance(meta, dict) else None
        if isinstance(codes, dict):
            codes = self.codes_from_mapping(loc, meta, key)
        if codes is not None:
            if not isinstance(codes, list) or not all(isinstance(x, dict) and set(x) >= {"code", "label"} for x in codes):
                self.err(loc, "bad-meta", "meta.codes must be a mapping {code: label} or a list of {code, label}", key)

    def codes_from_mapping(self, loc: _Loc, meta: dict, key: str) -> list | None:
        """``codes: {F: Felony, M: Misdemeanor}`` (the form Cube's YAML reader accepts: it reads
        every string value, meta included, as a Python f-string, and a bare ``F`` breaks it; keys
        are kept as they are) becomes the list of {code, label} the rest of crosstrack reads."""
        codes = meta["codes"]
        bad = [c for c, lab in codes.items() if not isinstance(c, str) or not isinstance(lab, str)]
        if bad:
            self.err(loc, "bad-meta", f"meta.codes: code {bad[0]!r} and its label must be strings (quote them)", key)
            return None
        meta["codes"] = [{"code": c, "label": lab} for c, lab in codes.items()]
        return meta["codes"]

    def _common(self, m: dict) -> dict:
        return dict(title=self._typed(m, "title", str), description=self._typed(m, "description", str),
                    meta=self._typed(m, "meta", dict, {}),
                    public=self._typed(m, "public", bool, self._typed(m, "shown", bool, True)))

    def _member_type(self, cube: Cube, loc: _Loc, member: dict, kind: str, allowed) -> str | None:
        """The member's type, or None (and an error, and the member marked broken) when it is not allowed."""
        typ = member.get("type")
        if typ in allowed:
            return typ
        self.broken.add((cube.name, member["name"]))
        self.err(loc, "bad-value", f"{kind} type '{typ}' is not one of {', '.join(allowed)}"
                                   f"{_did_you_mean(typ, allowed)}", "type", value=True)
        return None

    def load_measure(self, cube: Cube, loc: _Loc, m: dict) -> None:
        typ = self._member_type(cube, loc, m, "measure", MEASURE_TYPES)
        if typ is None:
            return
        if typ != "count" and "sql" not in m:
            self.err(loc, "missing-key", f"a '{typ}' measure needs 'sql'")
        fmt = self._typed(m, "format", str)
        if fmt is not None and fmt not in FORMATS:
            self.err(loc, "bad-value", f"format '{fmt}' is not one of {', '.join(FORMATS)}", "format", value=True)
        filters = []
        for j, f in enumerate(self._typed(m, "filters", list, [])):
            floc = _Loc(loc.file, loc.doc, loc.path + ("filters", j), f"{loc.label}.filters[{j}]")
            if self.check_keys(floc, f, {"sql": str}, "measure filter", required=("sql",)):
                t = self.template(floc, f, "sql")
                if t:
                    filters.append(t)
        meas = Measure(cube.name, m["name"], typ, self.template(loc, m, "sql"), filters, format=fmt, **self._common(m))
        cube.measures[meas.name] = meas
        self.locs[("member", cube.name, meas.name)] = loc
        self.check_meta_shape(loc, meas.meta)

    def load_dimension(self, cube: Cube, loc: _Loc, d: dict) -> None:
        typ = self._member_type(cube, loc, d, "dimension", DIMENSION_TYPES)
        if typ is None:
            return
        dim = Dimension(cube.name, d["name"], typ, self.template(loc, d, "sql"),
                        primary_key=self._typed(d, "primary_key", bool, False), format=self._typed(d, "format", str),
                        **self._common(d))
        if "case" in d and isinstance(d["case"], dict):
            cloc = _Loc(loc.file, loc.doc, loc.path + ("case",), f"{loc.label}.case")
            case = d["case"]
            for k in case:
                if k not in ("when", "else"):
                    self.err(cloc, "unknown-key", f"unknown case key '{k}'{_did_you_mean(k, ('when', 'else'))}", k)
            whens = case.get("when")
            if not isinstance(whens, list) or not whens:
                self.err(cloc, "missing-key", "case needs a non-empty 'when' list")
                whens = []
            for j, w in enumerate(whens):
                wloc = _Loc(loc.file, loc.doc, cloc.path + ("when", j), f"{cloc.label}.when[{j}]")
                if self.check_keys(wloc, w, {"sql": str, "label": (str, dict, int)}, "case when", required=("sql", "label")):
                    cond = self.template(wloc, w, "sql")
                    label = self._label(wloc, w.get("label"))
                    if cond is not None:
                        dim.case_when.append((cond, label))
            if "else" in case:
                eloc = _Loc(loc.file, loc.doc, cloc.path + ("else",), f"{cloc.label}.else")
                if self.check_keys(eloc, case["else"], {"label": (str, dict, int)}, "case else", required=("label",)):
                    dim.case_else = self._label(eloc, case["else"].get("label"))
        elif "sql" not in d:
            self.err(loc, "missing-key", "a dimension needs 'sql' or 'case'")
        cube.dimensions[dim.name] = dim
        self.locs[("member", cube.name, dim.name)] = loc
        self.check_meta_shape(loc, dim.meta)

    def _label(self, loc: _Loc, label: Any) -> Any:
        if isinstance(label, dict):
            if set(label) != {"sql"}:
                self.err(loc, "bad-value", "a case label is a string or {sql: ...}", "label")
                return None
            return self.template(_Loc(loc.file, loc.doc, loc.path + ("label",), f"{loc.label}.label"), label, "sql")
        return str(label) if label is not None else None

    def load_segment(self, cube: Cube, loc: _Loc, s: dict) -> None:
        t = self.template(loc, s, "sql")
        if t is None:
            return
        cube.segments[s["name"]] = Segment(cube.name, s["name"], t, **self._common(s))
        self.locs[("member", cube.name, s["name"])] = loc

    def load_join(self, cube: Cube, loc: _Loc, j: dict) -> None:
        rel = j.get("relationship")
        if rel not in RELATIONSHIPS:
            opts = ("one_to_one", "one_to_many", "many_to_one")
            self.err(loc, "bad-value", f"relationship '{rel}' is not one of {', '.join(opts)}{_did_you_mean(rel, opts)}",
                     "relationship", value=True)
            return
        t = self.template(loc, j, "sql")
        if t is None:
            return
        if j["name"] in cube.joins:
            self.err(loc, "duplicate-name", f"cube '{cube.name}' already joins '{j['name']}'", "name")
            return
        cube.joins[j["name"]] = Join(cube.name, j["name"], RELATIONSHIPS[rel], t)
        self.locs[("join", cube.name, j["name"])] = loc

    def load_pre_aggregation(self, cube: Cube, loc: _Loc, p: dict) -> None:
        if p.get("type") != "rollup":
            self.err(loc, "unsupported", f"pre-aggregation type '{p.get('type')}' is not supported (only 'rollup')",
                     "type", value=True)
            return
        gran = self._typed(p, "granularity", str)
        if gran is not None and gran not in GRANULARITIES:
            self.err(loc, "bad-value", f"granularity '{gran}' is not one of {', '.join(GRANULARITIES)}", "granularity",
                     value=True)
        lists = {}
        for key in ("measures", "dimensions", "segments"):
            vals = self._typed(p, key, list, [])
            if not all(isinstance(v, str) for v in vals):
                self.err(loc, "wrong-type", f"'{key}' must be a list of member names", key)
                vals = [v for v in vals if isinstance(v, str)]
            lists[key] = vals
        pa = PreAggregation(cube.name, p["name"], lists["measures"], lists["dimensions"], lists["segments"],
                            self._typed(p, "time_dimension", str), gran)
        cube.pre_aggregations[pa.name] = pa
        self.locs[("preagg", cube.name, pa.name)] = loc

    # --- phase 2: references ------------------------------------------------------------------
    def resolve_all(self) -> None:
        deps: dict[tuple, set[tuple]] = {}
        for cname, cube in self.cubes.items():
            loc = self.locs[("cube", cname)]
            if cube.sql is not None:
                self.resolve_template(cube.sql, cube, loc, "sql", allow="none")
            for m in cube.measures.values():
                mloc = self.locs[("member", cname, m.name)]
                d = set()
                if m.sql is not None:
                    allow = "measure" if m.type == "number" else "dimension"
                    d |= self.resolve_template(m.sql, cube, mloc, "sql", allow=allow)
                for j, f in enumerate(m.filters):
                    d |= self.resolve_template(f, cube, mloc, "filters", allow="dimension")
                deps[(cname, m.name)] = d
            for dim in cube.dimensions.values():
                dloc = self.locs[("member", cname, dim.name)]
                d = set()
                if dim.sql is not None:
                    d |= self.resolve_template(dim.sql, cube, dloc, "sql", allow="dimension")
                for cond, label in dim.case_when:
                    d |= self.resolve_template(cond, cube, dloc, "case", allow="dimension")
                    if hasattr(label, "tree"):
                        d |= self.resolve_template(label, cube, dloc, "case", allow="dimension")
                if hasattr(dim.case_else, "tree"):
                    d |= self.resolve_template(dim.case_else, cube, dloc, "case", allow="dimension")
                deps[(cname, dim.name)] = d
            for seg in cube.segments.values():
                sloc = self.locs[("member", cname, seg.name)]
                deps[(cname, seg.name)] = self.resolve_template(seg.sql, cube, sloc, "sql", allow="dimension")
            for target, join in list(cube.joins.items()):
                jloc = self.locs[("join", cname, target)]
                if target not in self.cubes:
                    self.err(jloc, "unknown-ref", f"joined cube '{target}' is not defined"
                                                  f"{_did_you_mean(target, self.cubes)}", "name")
                    del cube.joins[target]
                    continue
                self.resolve_template(join.sql, cube, jloc, "sql", allow="dimension")
            for pa in cube.pre_aggregations.values():
                self.resolve_preagg(cube, pa)
            self.check_disclosure_meta(cube)
            self.check_rollup_meta(cube)
        self.check_cycles(deps)
        for loc, v in self.raw_views:
            self.load_view(loc, v)

    def resolve_template(self, tpl: Template, cube: Cube, loc: _Loc, key: str, allow: str) -> set[tuple]:
        tables, values = placeholder_refs(tpl)
        deps: set[tuple] = set()
        tpl.resolved = [None] * len(tpl.refs)
        for i, ref in enumerate(tpl.refs):
            head, _, tail = ref.partition(".")
            if i in tables and not tail:
                if head not in self.cubes:
                    self.err(loc, "unknown-ref", f"{{{ref}}} is not a cube{_did_you_mean(head, self.cubes)}", key,
                             value=True)
                    continue
                tpl.resolved[i] = ("table", head)
                continue
            if tail:
                owner = cube.name if head == "CUBE" else head
                if owner not in self.cubes:
                    self.err(loc, "unknown-ref", f"{{{ref}}}: cube '{head}' is not defined{_did_you_mean(head, self.cubes)}",
                             key, value=True)
                    continue
                target, mname = self.cubes[owner], tail
            else:
                target, mname = cube, head
            m = target.member(mname)
            if m is None and (target.name, mname) in self.broken:
                continue
            if m is None:
                names = [*target.measures, *target.dimensions, *target.segments]
                self.err(loc, "unknown-ref", f"{{{ref}}}: cube '{target.name}' has no member '{mname}'"
                                             f"{_did_you_mean(mname, names)}", key, value=True)
                continue
            if allow == "none" or (allow == "measure" and m.kind != "measure") or (
                    allow == "dimension" and m.kind != "dimension"):
                what = {"measure": "a number measure may only reference measures",
                        "dimension": "this SQL may only reference dimensions",
                        "none": "this SQL may not reference members"}[allow]
                self.err(loc, "wrong-member-type", f"{{{ref}}} is a {m.kind}: {what}", key, value=True)
                continue
            tpl.resolved[i] = ("member", target.name, mname)
            deps.add((target.name, mname))
        return deps

    def check_cycles(self, deps: dict[tuple, set[tuple]]) -> None:
        state: dict[tuple, int] = {}
        reported: set[tuple] = set()

        def visit(node: tuple, stack: list[tuple]) -> None:
            state[node] = 1
            stack.append(node)
            for nxt in deps.get(node, ()):
                if state.get(nxt) == 1:
                    cycle = stack[stack.index(nxt):] + [nxt]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        loc = self.locs[("member",) + nxt]
                        self.err(loc, "cyclic-ref", "reference cycle: " + " -> ".join(f"{c}.{m}" for c, m in cycle),
                                 "sql")
                elif state.get(nxt) is None:
                    visit(nxt, stack)
            stack.pop()
            state[node] = 2

        for node in deps:
            if node not in state:
                visit(node, [])
        self.has_cycles = bool(reported)

    def _member_name(self, cube: Cube, ref: str) -> str:
        head, _, tail = ref.partition(".")
        return tail if tail and head in ("CUBE", cube.name) else ref

    def resolve_preagg(self, cube: Cube, pa: PreAggregation) -> None:
        loc = self.locs[("preagg", cube.name, pa.name)]
        for key, coll in (("measures", cube.measures), ("dimensions", cube.dimensions), ("segments", cube.segments)):
            resolved = []
            for j, ref in enumerate(getattr(pa, key)):
                name = self._member_name(cube, ref)
                if name not in coll:
                    self.err(_Loc(loc.file, loc.doc, loc.path + (key, j), f"{loc.label}.{key}[{j}]"), "unknown-ref",
                             f"cube '{cube.name}' has no {key[:-1]} '{ref}'{_did_you_mean(name, coll)}", value=True)
                else:
                    resolved.append(name)
            setattr(pa, key, resolved)
        if pa.time_dimension is not None:
            name = self._member_name(cube, pa.time_dimension)
            if name not in cube.dimensions or cube.dimensions[name].type != "time":
                self.err(loc, "unknown-ref", f"'{pa.time_dimension}' is not a time dimension of '{cube.name}'",
                         "time_dimension", value=True)
                pa.time_dimension = None
            else:
                pa.time_dimension = name
                if pa.granularity is None:
                    self.err(loc, "missing-key", "a rollup with a time_dimension needs a granularity")

    def check_rollup_meta(self, cube: Cube) -> None:
        """meta.rollup_subsets: {required: [dims]} for every rollup of the cube, and/or
        {<rollup name>: {required: [dims]}} for one rollup."""
        spec = cube.meta.get("rollup_subsets") if isinstance(cube.meta, dict) else None
        if spec is None:
            return
        loc = self.locs[("cube", cube.name)]
        shape = ("meta.rollup_subsets must be a mapping {required: [dimension names]} and/or "
                 "{<rollup name>: {required: [dimension names]}}")
        if not isinstance(spec, dict):
            self.err(loc, "bad-meta", shape, "meta")
            return
        for key, val in spec.items():
            where = "meta.rollup_subsets" + ("" if key == "required" else f".{key}")
            if key != "required":
                if key not in cube.pre_aggregations:
                    self.err(loc, "bad-meta", f"{where}: '{key}' is not a rollup of '{cube.name}'"
                                              f"{_did_you_mean(key, cube.pre_aggregations)}", "meta")
                    continue
                if not isinstance(val, dict) or set(val) != {"required"}:
                    self.err(loc, "bad-meta", shape, "meta")
                    continue
                val = val["required"]
            if not isinstance(val, list) or not all(isinstance(d, str) for d in val):
                self.err(loc, "bad-meta", shape, "meta")
                continue
            for d in val:
                if d not in cube.dimensions:
                    self.err(loc, "bad-meta", f"{where}.required: '{d}' is not a dimension of "
                                              f"'{cube.name}'{_did_you_mean(d, cube.dimensions)}", "meta")

    def check_disclosure_meta(self, cube: Cube) -> None:
        for m in cube.measures.values():
            within = m.meta.get("distinct_within") if isinstance(m.meta, dict) else None
            if within is not None:
                mloc = self.locs[("member", cube.name, m.name)]
                if not isinstance(within, list) or not all(isinstance(d, str) for d in within):
                    self.err(mloc, "bad-meta", "meta.distinct_within must be a list of dimension names", "meta")
                else:
                    for d in within:
                        if d not in cube.dimensions:
                            self.err(mloc, "bad-meta", f"meta.distinct_within: '{d}' is not a dimension of "
                                                       f"'{cube.name}'{_did_you_mean(d, cube.dimensions)}", "meta")
            disc = m.meta.get("disclosure") if isinstance(m.meta, dict) else None
            if disc is None:
                continue
            loc = self.locs[("member", cube.name, m.name)]
            if not isinstance(disc, dict):
                self.err(loc, "bad-disclosure", "meta.disclosure must be a mapping {kind, governed_by}", "meta")
                continue
            kind = disc.get("kind")
            if kind not in DISCLOSURE_KINDS:
                self.err(loc, "bad-disclosure", f"meta.disclosure.kind '{kind}' is not one of {', '.join(DISCLOSURE_KINDS)}"
                                                f"{_did_you_mean(kind, DISCLOSURE_KINDS)}", "meta")
            else:
                self.check_kind_fits(cube, loc, m, kind, disc)
            gov = disc.get("governed_by")
            if gov is not None:
                g = cube.measures.get(gov)
                if g is None:
                    self.err(loc, "bad-disclosure", f"meta.disclosure.governed_by '{gov}' is not a measure of "
                                                    f"'{cube.name}'{_did_you_mean(gov, cube.measures)}", "meta")
                elif not self._is_people_count(g):
                    self.err(loc, "bad-disclosure", f"meta.disclosure.governed_by '{gov}' is a '{g.type}' measure, "
                                                    "not a count of people (count or count_distinct)", "meta")
            elif kind in ("mean", "median", "count", "cohort", "event", "rate"):
                self.err(loc, "bad-disclosure", "meta.disclosure needs governed_by: the count of people that decides "
                                                "whether this value may be published", "meta")

    def check_kind_fits(self, cube: Cube, loc: _Loc, m: Measure, kind: str, disc: dict) -> None:
        """K9, P2: a measure's aggregation must be a form its disclosure kind can protect, so that
        no model edit publishes one person's value (a max, a min, a raw column) or an unprotected
        count. Each refusal says why, at the measure's meta."""
        why = None
        if m.type in ("min", "max"):
            why = (f"a '{m.type}' is one person's value and is never published (P2); publish a mean or a "
                   "median instead")
        elif m.type == "count_distinct_approx":
            why = "an approximate distinct count cannot be thresholded exactly at k (P1); use count_distinct"
        elif kind == "people" and not self._is_people_count(m):
            why = (f"a people count must be a count or count_distinct measure (or a number measure that is "
                   f"exactly one of them), not '{m.type}'")
        elif kind == "count" and not (m.type in ("count", "sum") or self._is_people_count(m)):
            why = f"a record count must be a count or sum measure, not '{m.type}'"
        elif kind == "mean" and m.type != "avg":
            why = f"a mean must be an avg measure, not '{m.type}'"
        elif kind == "median" and not (m.type == "number" and m.sql is not None and MEDIAN_FORM.match(m.sql.text)):
            why = ("a median must be a number measure whose sql is quantileExactInclusive(0.5)(...), "
                   "quantileExact(0.5)(...) or median(...)")
        elif kind in ("cohort", "event") and m.type not in ("count", "sum"):
            why = f"a {kind} count (docs/recidivism.md RC12) must be a count or sum measure, not '{m.type}'"
        elif kind == "event" and not (isinstance(disc.get("of"), str) and
                                      getattr(cube.measures.get(disc["of"]), "meta", {}).get("disclosure", {})
                                      .get("kind") in ("cohort", "count")):
            why = ("an event count needs meta.disclosure.of: the cohort or count measure of the same cube it is "
                   "part of, so that a group in which all or none had the event is withheld (RC12)")
        elif kind == "rate" and not all(
                isinstance(disc.get(p), str) and getattr(cube.measures.get(disc[p]), "meta", {})
                .get("disclosure", {}).get("kind") in ok for p, ok in (("numerator", ("event",)),
                                                                        ("denominator", ("cohort", "count")))):
            why = ("a rate needs meta.disclosure.numerator (an event measure) and denominator (its cohort "
                   "measure) of the same cube: it is computed from their published values only (RC12)")
        if why:
            self.err(loc, "disclosure-kind-mismatch", f"meta.disclosure.kind '{kind}' does not fit this measure: {why}",
                     "meta")
            return
        key = disc.get("key")
        if key is None:
            if kind in ("count", "cohort", "event"):
                self.err(loc, "bad-disclosure", "a record count needs meta.disclosure.key: a hidden sum of the "
                                                "counted records' own keys (K7), e.g. sum({CUBE}.row_key)", "meta")
            return
        k = cube.measures.get(key) if isinstance(key, str) else None
        if k is None:
            self.err(loc, "bad-disclosure", f"meta.disclosure.key '{key}' is not a measure of "
                                            f"'{cube.name}'{_did_you_mean(str(key), cube.measures)}", "meta")
        elif k.public or k.type != "sum":
            self.err(loc, "bad-disclosure", f"meta.disclosure.key '{key}' must be a hidden (public: false) sum of "
                                            "record keys", "meta")

    def _is_people_count(self, m: Measure, distinct: bool = False) -> bool:
        """A count of people: count or count_distinct (``distinct``: count_distinct only), or a
        number measure that is exactly one of those."""
        types = ("count_distinct",) if distinct else COUNT_TYPES
        if m.type in types:
            return True
        # number measure that is exactly one count measure, e.g. record_count: "{people}"
        if m.type == "number" and m.sql is not None and len(m.sql.resolved) == 1 and m.sql.resolved[0]:
            _, c, n = m.sql.resolved[0]
            inner = self.cubes[c].measures.get(n)
            return inner is not None and inner is not m and inner.type in types and \
                m.sql.tree.sql() == "__ref_0__"
        return False

    # --- views ------------------------------------------------------------------------------
    def load_view(self, loc: _Loc, v: dict) -> None:
        view = View(v["name"], self._typed(v, "title", str), self._typed(v, "description", str),
                    self._typed(v, "public", bool, self._typed(v, "shown", bool, True)), self._typed(v, "meta", dict, {}))
        root = None
        for i, entry in enumerate(self._typed(v, "cubes", list, [])):
            eloc = _Loc(loc.file, loc.doc, loc.path + ("cubes", i), f"{loc.label}.cubes[{i}]")
            if not self.check_keys(eloc, entry, VIEW_CUBE_KEYS, "view cube", required=("join_path",)):
                continue
            path = tuple(entry["join_path"].split("."))
            bad = False
            for j, seg in enumerate(path):
                if seg not in self.cubes:
                    self.err(eloc, "unknown-ref", f"join_path '{entry['join_path']}': cube '{seg}' is not defined"
                                                  f"{_did_you_mean(seg, self.cubes)}", "join_path", value=True)
                    bad = True
                    break
                if j and not self._joined(path[j - 1], seg):
                    self.err(eloc, "unknown-ref", f"join_path '{entry['join_path']}': cube '{path[j - 1]}' has no join "
                                                  f"with '{seg}'", "join_path", value=True)
                    bad = True
                    break
            if bad:
                continue
            if root is None:
                root = path[0]
            elif path[0] != root:
                self.err(eloc, "bad-value", f"every join_path of a view starts at its root cube '{root}'", "join_path",
                         value=True)
                continue
            cube = self.cubes[path[-1]]
            all_names = [*cube.measures, *cube.dimensions, *cube.segments]
            includes = entry.get("includes", [])
            picked: list[tuple[str, dict]] = []
            if includes == "*":
                picked = [(n, {}) for n in all_names]
            elif isinstance(includes, list):
                for j, inc in enumerate(includes):
                    iloc = _Loc(loc.file, loc.doc, eloc.path + ("includes", j), f"{eloc.label}.includes[{j}]")
                    if isinstance(inc, dict):
                        if not self.check_keys(iloc, inc, INCLUDE_KEYS, "include"):
                            continue
                        n, over = inc["name"], inc
                    elif isinstance(inc, str):
                        n, over = inc, {}
                    else:
                        self.err(iloc, "wrong-type", "an include is a member name or {name, alias, ...}", value=True)
                        continue
                    if cube.member(n) is None:
                        self.err(iloc, "unknown-member", f"cube '{cube.name}' has no member '{n}'"
                                                         f"{_did_you_mean(n, all_names)}", value=True)
                        continue
                    picked.append((n, over))
            else:
                self.err(eloc, "wrong-type", "includes must be \"*\" or a list of member names", "includes")
            excludes = self._typed(entry, "excludes", list, [])
            for j, ex in enumerate(excludes):
                if cube.member(str(ex)) is None:
                    self.err(_Loc(loc.file, loc.doc, eloc.path + ("excludes", j), f"{eloc.label}.excludes[{j}]"),
                             "unknown-member", f"cube '{cube.name}' has no member '{ex}'{_did_you_mean(ex, all_names)}",
                             value=True)
            prefix = (entry.get("alias") or path[-1]) + "_" if entry.get("prefix") is True else ""
            for n, over in picked:
                if n in excludes:
                    continue
                m = cube.member(n)
                short = prefix + (over.get("alias") or n)
                if short in view.members:
                    self.err(eloc, "duplicate-name", f"view '{view.name}' already has a member '{short}' "
                                                     "(use prefix or alias)", "includes")
                    continue
                view.members[short] = ViewMember(view.name, short, cube.name, n, m.kind, path,
                                                 over.get("title"), over.get("description"), over.get("format"),
                                                 over.get("meta"))
        self.views[view.name] = view
        self.check_view_disclosure(loc, view)

    def _joined(self, a: str, b: str) -> bool:
        return b in self.cubes[a].joins or a in self.cubes[b].joins

    def check_view_disclosure(self, loc: _Loc, view: View) -> None:
        disc = view.meta.get("disclosure")
        if disc is None:
            return
        if not isinstance(disc, dict) or set(disc) - {"people", "cell_key", "records"}:
            self.err(loc, "bad-disclosure", "meta.disclosure of a view is {people: <member>, cell_key: <member>, "
                                            "records: <member> (optional)}", "meta")
            return
        for key in ("people", "cell_key", "records"):
            name = disc.get(key)
            if key == "records" and name is None:
                continue
            vm = view.members.get(name) if isinstance(name, str) else None
            if vm is None or vm.kind != "measure":
                measures = [n for n, x in view.members.items() if x.kind == "measure"]
                self.err(loc, "bad-disclosure", f"meta.disclosure.{key} '{name}' is not a measure of view "
                                                f"'{view.name}'{_did_you_mean(name, measures)}", "meta")
                continue
            m = self.cubes[vm.cube].measures[vm.member]
            if key in ("people", "records") and not self._is_people_count(m):
                self.err(loc, "bad-disclosure", f"meta.disclosure.{key} '{name}' is a '{m.type}' measure, not a count "
                                                "of people", "meta")
            elif key == "people" and not self._is_people_count(m, distinct=True):
                # P1: the threshold counts distinct people, never records (a person in five
                # snapshots is five records and still one person)
                self.err(loc, "bad-disclosure", f"meta.disclosure.people '{name}' must count distinct people "
                                                f"(count_distinct), not '{m.type}'", "meta")
            if key == "cell_key" and m.public:
                self.err(loc, "bad-disclosure", f"meta.disclosure.cell_key '{name}' must be hidden (public: false)", "meta")
        for n, vm in view.members.items():
            m = self.cubes[vm.cube].member(vm.member)
            if vm.kind == "measure" and m.public and not isinstance((vm.meta or m.meta).get("disclosure"), dict):
                self.err(loc, "bad-disclosure", f"measure '{n}' of a disclosure-controlled view has no "
                                                "meta.disclosure {kind, governed_by}", "cubes")


def _display(path: Path) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)


def model_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        return sorted([*path.glob("*.yml"), *path.glob("*.yaml")])
    return [path]


def collect(path: Path | str) -> tuple[Model | None, list[Diagnostic]]:
    path = Path(path)
    ld = _Loader()
    files = model_files(path)
    if not path.exists():
        return None, [Diagnostic(str(path), 1, 1, "not-found", "<file>", "no such model file or folder")]
    if not files:
        return None, [Diagnostic(str(path), 1, 1, "not-found", "<folder>", "no .yml or .yaml model files")]
    texts = {}
    for f in files:
        texts[_display(f)] = f.read_text(encoding="utf-8")
        ld.load_file(_display(f), texts[_display(f)])
    ld.resolve_all()
    check_fact_columns(ld, texts)  # cube/factcheck.py: columns against the published fact schema
    model = Model(ld.cubes, ld.views, [_display(f) for f in files])
    return model, sorted(ld.diags, key=lambda d: (d.file, d.line, d.col))


def load_model(path: Path | str) -> Model:
    model, diags = collect(path)
    if diags or model is None:
        raise ModelError(diags)
    return model

"""Phase 1 of loading a model: each file's shape — cubes, members, joins and rollups with their keys,
types and SQL snippets (parsed, not yet resolved)."""

from __future__ import annotations

from typing import Any

from crosstrack.cube.errors import Diagnostic
from crosstrack.cube.load_base import LoaderBase, Loc
from crosstrack.cube.load_keys import (
    CUBE_KEYS,
    DIMENSION_KEYS,
    FORMATS,
    JOIN_KEYS,
    MEASURE_KEYS,
    NAME_RE,
    PREAGG_KEYS,
    SEGMENT_KEYS,
    TOP_KEYS,
    VIEW_KEYS,
    did_you_mean,
)
from crosstrack.cube.model import (
    DIMENSION_TYPES,
    GRANULARITIES,
    MEASURE_TYPES,
    RELATIONSHIPS,
    Cube,
    Dimension,
    Join,
    Measure,
    PreAggregation,
    Segment,
)
from crosstrack.cube.yamlpos import YamlSyntaxError, load_with_positions


class ShapeLoader(LoaderBase):
    # --- phase 1: shapes -------------------------------------------------------------------
    def load_file(self, file: str, text: str) -> None:
        try:
            doc = load_with_positions(text)
        except YamlSyntaxError as e:
            self.diags.append(Diagnostic(file, e.line, e.col, "model.yaml_syntax", "<file>", e.message))
            return
        root = Loc(file, doc, (), "")
        if doc.data is None:
            return
        if not isinstance(doc.data, dict):
            self.err(root, "model.wrong_type", "a model file is a mapping with 'cubes' and/or 'views'", value=True,
                     label_suffix="<file>")
            return
        for key, val in doc.data.items():
            if key not in TOP_KEYS:
                self.err(root, "model.unknown_key", f"unknown top-level key '{key}'{did_you_mean(key, TOP_KEYS)}", key,
                         label_suffix=str(key))
            elif not isinstance(val, list):
                self.err(root, "model.wrong_type", f"'{key}' must be a list", key, label_suffix=str(key))
        for i, c in enumerate(self._typed(doc.data, "cubes", list, [])):
            name = c.get("name") if isinstance(c, dict) and isinstance(c.get("name"), str) else str(i)
            self.load_cube(Loc(file, doc, ("cubes", i), f"cubes[{name}]"), c)
        for i, v in enumerate(self._typed(doc.data, "views", list, [])):
            name = v.get("name") if isinstance(v, dict) and isinstance(v.get("name"), str) else str(i)
            loc = Loc(file, doc, ("views", i), f"views[{name}]")
            if self.check_keys(loc, v, VIEW_KEYS, "view", required=("name", "cubes")):
                if name in self.views or name in self.cubes or any(name == n for _, d in self.raw_views
                                                                   for n in [d.get("name")]):
                    self.err(loc, "model.duplicate_name", f"'{name}' is already defined", "name")
                    continue
                self.raw_views.append((loc, v))

    def load_cube(self, loc: Loc, c: Any) -> None:
        if not self.check_keys(loc, c, CUBE_KEYS, "cube"):
            return
        name = c["name"]
        if name in self.cubes:
            self.err(loc, "model.duplicate_name", f"cube '{name}' is already defined", "name")
            return
        if "sql_table" in c and "sql" in c:
            self.err(loc, "conflict", "give either 'sql_table' or 'sql', not both", "sql")
        elif "sql_table" not in c and "sql" not in c:
            self.err(loc, "model.missing_key", "missing 'sql_table' (or 'sql')")
        cube = Cube(name=name, title=self._typed(c, "title", str), description=self._typed(c, "description", str),
                    public=self._typed(c, "public", bool, self._typed(c, "shown", bool, True)),
                    meta=self._typed(c, "meta", dict, {}))
        if isinstance(c.get("sql_table"), str):
            parts = c["sql_table"].split(".")
            if not all(NAME_RE.match(p) for p in parts) or len(parts) > 2:
                self.err(loc, "model.bad_sql", f"sql_table '{c['sql_table']}' must be a table name or database.table",
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
                mloc = Loc(loc.file, loc.doc, loc.path + (coll_key, i), f"{loc.label}.{coll_key}[{mname}]")
                required = ("name", "type") if kind in ("measure", "dimension", "pre_aggregation") else (
                    ("name", "relationship", "sql") if kind == "join" else ("name", "sql"))
                if not self.check_keys(mloc, m, schema, kind, required=required):
                    self.broken.add((name, mname))
                    continue
                if kind != "join" and (cube.member(mname) or mname in cube.pre_aggregations):
                    self.err(mloc, "model.duplicate_name", f"'{mname}' is already a member of cube '{name}'", "name")
                    continue
                getattr(self, f"load_{kind}")(cube, mloc, m)

    def check_meta_shape(self, loc: Loc, meta: dict, key="meta") -> None:
        codes = meta.get("codes") if isinstance(meta, dict) else None
        if isinstance(codes, dict):
            codes = self.codes_from_mapping(loc, meta, key)
        if codes is not None:
            if not isinstance(codes, list) or not all(isinstance(x, dict) and set(x) >= {"code", "label"} for x in codes):
                self.err(loc, "model.bad_meta", "meta.codes must be a mapping {code: label} or a list of {code, label}", key)

    def codes_from_mapping(self, loc: Loc, meta: dict, key: str) -> list | None:
        """``codes: {F: Felony, M: Misdemeanor}`` (the form Cube's YAML reader accepts: it reads
        every string value, meta included, as a Python f-string, and a bare ``F`` breaks it; keys
        are kept as they are) becomes the list of {code, label} the rest of crosstrack reads."""
        codes = meta["codes"]
        bad = [c for c, lab in codes.items() if not isinstance(c, str) or not isinstance(lab, str)]
        if bad:
            self.err(loc, "model.bad_meta", f"meta.codes: code {bad[0]!r} and its label must be strings (quote them)", key)
            return None
        meta["codes"] = [{"code": c, "label": lab} for c, lab in codes.items()]
        return meta["codes"]

    def _common(self, m: dict) -> dict:
        return dict(title=self._typed(m, "title", str), description=self._typed(m, "description", str),
                    meta=self._typed(m, "meta", dict, {}),
                    public=self._typed(m, "public", bool, self._typed(m, "shown", bool, True)))

    def _member_type(self, cube: Cube, loc: Loc, member: dict, kind: str, allowed) -> str | None:
        """The member's type, or None (and an error, and the member marked broken) when it is not allowed."""
        typ = member.get("type")
        if typ in allowed:
            return typ
        self.broken.add((cube.name, member["name"]))
        self.err(loc, "model.bad_value", f"{kind} type '{typ}' is not one of {', '.join(allowed)}"
                                   f"{did_you_mean(typ, allowed)}", "type", value=True)
        return None

    def load_measure(self, cube: Cube, loc: Loc, m: dict) -> None:
        typ = self._member_type(cube, loc, m, "measure", MEASURE_TYPES)
        if typ is None:
            return
        if typ != "count" and "sql" not in m:
            self.err(loc, "model.missing_key", f"a '{typ}' measure needs 'sql'")
        fmt = self._typed(m, "format", str)
        if fmt is not None and fmt not in FORMATS:
            self.err(loc, "model.bad_value", f"format '{fmt}' is not one of {', '.join(FORMATS)}", "format", value=True)
        filters = []
        for j, f in enumerate(self._typed(m, "filters", list, [])):
            floc = Loc(loc.file, loc.doc, loc.path + ("filters", j), f"{loc.label}.filters[{j}]")
            if self.check_keys(floc, f, {"sql": str}, "measure filter", required=("sql",)):
                t = self.template(floc, f, "sql")
                if t:
                    filters.append(t)
        meas = Measure(cube.name, m["name"], typ, self.template(loc, m, "sql"), filters, format=fmt, **self._common(m))
        cube.measures[meas.name] = meas
        self.locs[("member", cube.name, meas.name)] = loc
        self.check_meta_shape(loc, meas.meta)

    def load_dimension(self, cube: Cube, loc: Loc, d: dict) -> None:
        typ = self._member_type(cube, loc, d, "dimension", DIMENSION_TYPES)
        if typ is None:
            return
        dim = Dimension(cube.name, d["name"], typ, self.template(loc, d, "sql"),
                        primary_key=self._typed(d, "primary_key", bool, False), format=self._typed(d, "format", str),
                        **self._common(d))
        if "case" in d and isinstance(d["case"], dict):
            cloc = Loc(loc.file, loc.doc, loc.path + ("case",), f"{loc.label}.case")
            case = d["case"]
            for k in case:
                if k not in ("when", "else"):
                    self.err(cloc, "model.unknown_key", f"unknown case key '{k}'{did_you_mean(k, ('when', 'else'))}", k)
            whens = case.get("when")
            if not isinstance(whens, list) or not whens:
                self.err(cloc, "model.missing_key", "case needs a non-empty 'when' list")
                whens = []
            for j, w in enumerate(whens):
                wloc = Loc(loc.file, loc.doc, cloc.path + ("when", j), f"{cloc.label}.when[{j}]")
                if self.check_keys(wloc, w, {"sql": str, "label": (str, dict, int)}, "case when", required=("sql", "label")):
                    cond = self.template(wloc, w, "sql")
                    label = self._label(wloc, w.get("label"))
                    if cond is not None:
                        dim.case_when.append((cond, label))
            if "else" in case:
                eloc = Loc(loc.file, loc.doc, cloc.path + ("else",), f"{cloc.label}.else")
                if self.check_keys(eloc, case["else"], {"label": (str, dict, int)}, "case else", required=("label",)):
                    dim.case_else = self._label(eloc, case["else"].get("label"))
        elif "sql" not in d:
            self.err(loc, "model.missing_key", "a dimension needs 'sql' or 'case'")
        cube.dimensions[dim.name] = dim
        self.locs[("member", cube.name, dim.name)] = loc
        self.check_meta_shape(loc, dim.meta)

    def _label(self, loc: Loc, label: Any) -> Any:
        if isinstance(label, dict):
            if set(label) != {"sql"}:
                self.err(loc, "model.bad_value", "a case label is a string or {sql: ...}", "label")
                return None
            return self.template(Loc(loc.file, loc.doc, loc.path + ("label",), f"{loc.label}.label"), label, "sql")
        return str(label) if label is not None else None

    def load_segment(self, cube: Cube, loc: Loc, s: dict) -> None:
        t = self.template(loc, s, "sql")
        if t is None:
            return
        cube.segments[s["name"]] = Segment(cube.name, s["name"], t, **self._common(s))
        self.locs[("member", cube.name, s["name"])] = loc

    def load_join(self, cube: Cube, loc: Loc, j: dict) -> None:
        rel = j.get("relationship")
        if rel not in RELATIONSHIPS:
            opts = ("one_to_one", "one_to_many", "many_to_one")
            self.err(loc, "model.bad_value", f"relationship '{rel}' is not one of {', '.join(opts)}{did_you_mean(rel, opts)}",
                     "relationship", value=True)
            return
        t = self.template(loc, j, "sql")
        if t is None:
            return
        if j["name"] in cube.joins:
            self.err(loc, "model.duplicate_name", f"cube '{cube.name}' already joins '{j['name']}'", "name")
            return
        cube.joins[j["name"]] = Join(cube.name, j["name"], RELATIONSHIPS[rel], t)
        self.locs[("join", cube.name, j["name"])] = loc

    def load_pre_aggregation(self, cube: Cube, loc: Loc, p: dict) -> None:
        if p.get("type") != "rollup":
            self.err(loc, "model.unsupported", f"pre-aggregation type '{p.get('type')}' is not supported (only 'rollup')",
                     "type", value=True)
            return
        gran = self._typed(p, "granularity", str)
        if gran is not None and gran not in GRANULARITIES:
            self.err(loc, "model.bad_value", f"granularity '{gran}' is not one of {', '.join(GRANULARITIES)}", "granularity",
                     value=True)
        lists = {}
        for key in ("measures", "dimensions", "segments"):
            vals = self._typed(p, key, list, [])
            if not all(isinstance(v, str) for v in vals):
                self.err(loc, "model.wrong_type", f"'{key}' must be a list of member names", key)
                vals = [v for v in vals if isinstance(v, str)]
            lists[key] = vals
        pa = PreAggregation(cube.name, p["name"], lists["measures"], lists["dimensions"], lists["segments"],
                            self._typed(p, "time_dimension", str), gran)
        cube.pre_aggregations[pa.name] = pa
        self.locs[("preagg", cube.name, pa.name)] = loc

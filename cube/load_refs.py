"""Phase 2 of loading a model: every reference in a SQL snippet or rollup resolved to a cube or
member, reference cycles found, and the rollup and distinct-count meta checked."""

from __future__ import annotations

from crosstrack.cube.load_base import LoaderBase, Loc
from crosstrack.cube.load_keys import did_you_mean
from crosstrack.cube.model import Cube, PreAggregation
from crosstrack.cube.sqlexpr import Template, placeholder_refs


class ReferenceResolver(LoaderBase):
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
                    self.err(jloc, "model.unknown_ref", f"joined cube '{target}' is not defined"
                                                  f"{did_you_mean(target, self.cubes)}", "name")
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

    def resolve_template(self, tpl: Template, cube: Cube, loc: Loc, key: str, allow: str) -> set[tuple]:
        tables, values = placeholder_refs(tpl)
        deps: set[tuple] = set()
        tpl.resolved = [None] * len(tpl.refs)
        for i, ref in enumerate(tpl.refs):
            head, _, tail = ref.partition(".")
            if i in tables and not tail:
                if head not in self.cubes:
                    self.err(loc, "model.unknown_ref", f"{{{ref}}} is not a cube{did_you_mean(head, self.cubes)}", key,
                             value=True)
                    continue
                tpl.resolved[i] = ("table", head)
                continue
            if tail:
                owner = cube.name if head == "CUBE" else head
                if owner not in self.cubes:
                    self.err(loc, "model.unknown_ref", f"{{{ref}}}: cube '{head}' is not defined{did_you_mean(head, self.cubes)}",
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
                self.err(loc, "model.unknown_ref", f"{{{ref}}}: cube '{target.name}' has no member '{mname}'"
                                             f"{did_you_mean(mname, names)}", key, value=True)
                continue
            if allow == "none" or (allow == "measure" and m.kind != "measure") or (
                    allow == "dimension" and m.kind != "dimension"):
                what = {"measure": "a number measure may only reference measures",
                        "dimension": "this SQL may only reference dimensions",
                        "none": "this SQL may not reference members"}[allow]
                self.err(loc, "model.wrong_member_type", f"{{{ref}}} is a {m.kind}: {what}", key, value=True)
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
                        self.err(loc, "model.cyclic_ref", "reference cycle: " + " -> ".join(f"{c}.{m}" for c, m in cycle),
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
                    self.err(Loc(loc.file, loc.doc, loc.path + (key, j), f"{loc.label}.{key}[{j}]"), "model.unknown_ref",
                             f"cube '{cube.name}' has no {key[:-1]} '{ref}'{did_you_mean(name, coll)}", value=True)
                else:
                    resolved.append(name)
            setattr(pa, key, resolved)
        if pa.time_dimension is not None:
            name = self._member_name(cube, pa.time_dimension)
            if name not in cube.dimensions or cube.dimensions[name].type != "time":
                self.err(loc, "model.unknown_ref", f"'{pa.time_dimension}' is not a time dimension of '{cube.name}'",
                         "time_dimension", value=True)
                pa.time_dimension = None
            else:
                pa.time_dimension = name
                if pa.granularity is None:
                    self.err(loc, "model.missing_key", "a rollup with a time_dimension needs a granularity")

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
            self.err(loc, "model.bad_meta", shape, "meta")
            return
        for key, val in spec.items():
            where = "meta.rollup_subsets" + ("" if key == "required" else f".{key}")
            if key != "required":
                if key not in cube.pre_aggregations:
                    self.err(loc, "model.bad_meta", f"{where}: '{key}' is not a rollup of '{cube.name}'"
                                              f"{did_you_mean(key, cube.pre_aggregations)}", "meta")
                    continue
                if not isinstance(val, dict) or set(val) != {"required"}:
                    self.err(loc, "model.bad_meta", shape, "meta")
                    continue
                val = val["required"]
            if not isinstance(val, list) or not all(isinstance(d, str) for d in val):
                self.err(loc, "model.bad_meta", shape, "meta")
                continue
            for d in val:
                if d not in cube.dimensions:
                    self.err(loc, "model.bad_meta", f"{where}.required: '{d}' is not a dimension of "
                                              f"'{cube.name}'{did_you_mean(d, cube.dimensions)}", "meta")

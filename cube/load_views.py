"""Views: their join paths, included and excluded members, prefixes and aliases (loaded after
every cube is resolved)."""

from __future__ import annotations

from crosstrack.cube.load_base import LoaderBase, Loc
from crosstrack.cube.load_keys import INCLUDE_KEYS, VIEW_CUBE_KEYS, did_you_mean
from crosstrack.cube.model import View, ViewMember


class ViewLoader(LoaderBase):
    # --- views ------------------------------------------------------------------------------
    def load_view(self, loc: Loc, v: dict) -> None:
        view = View(v["name"], self._typed(v, "title", str), self._typed(v, "description", str),
                    self._typed(v, "public", bool, self._typed(v, "shown", bool, True)), self._typed(v, "meta", dict, {}))
        root = None
        for i, entry in enumerate(self._typed(v, "cubes", list, [])):
            eloc = Loc(loc.file, loc.doc, loc.path + ("cubes", i), f"{loc.label}.cubes[{i}]")
            if not self.check_keys(eloc, entry, VIEW_CUBE_KEYS, "view cube", required=("join_path",)):
                continue
            path = tuple(entry["join_path"].split("."))
            bad = False
            for j, seg in enumerate(path):
                if seg not in self.cubes:
                    self.err(eloc, "model.unknown_ref", f"join_path '{entry['join_path']}': cube '{seg}' is not defined"
                                                  f"{did_you_mean(seg, self.cubes)}", "join_path", value=True)
                    bad = True
                    break
                if j and not self._joined(path[j - 1], seg):
                    self.err(eloc, "model.unknown_ref", f"join_path '{entry['join_path']}': cube '{path[j - 1]}' has no join "
                                                  f"with '{seg}'", "join_path", value=True)
                    bad = True
                    break
            if bad:
                continue
            if root is None:
                root = path[0]
            elif path[0] != root:
                self.err(eloc, "model.bad_value", f"every join_path of a view starts at its root cube '{root}'", "join_path",
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
                    iloc = Loc(loc.file, loc.doc, eloc.path + ("includes", j), f"{eloc.label}.includes[{j}]")
                    if isinstance(inc, dict):
                        if not self.check_keys(iloc, inc, INCLUDE_KEYS, "include"):
                            continue
                        n, over = inc["name"], inc
                    elif isinstance(inc, str):
                        n, over = inc, {}
                    else:
                        self.err(iloc, "model.wrong_type", "an include is a member name or {name, alias, ...}", value=True)
                        continue
                    if cube.member(n) is None:
                        self.err(iloc, "model.unknown_member", f"cube '{cube.name}' has no member '{n}'"
                                                         f"{did_you_mean(n, all_names)}", value=True)
                        continue
                    picked.append((n, over))
            else:
                self.err(eloc, "model.wrong_type", "includes must be \"*\" or a list of member names", "includes")
            excludes = self._typed(entry, "excludes", list, [])
            for j, ex in enumerate(excludes):
                if cube.member(str(ex)) is None:
                    self.err(Loc(loc.file, loc.doc, eloc.path + ("excludes", j), f"{eloc.label}.excludes[{j}]"),
                             "model.unknown_member", f"cube '{cube.name}' has no member '{ex}'{did_you_mean(ex, all_names)}",
                             value=True)
            prefix = (entry.get("alias") or path[-1]) + "_" if entry.get("prefix") is True else ""
            for n, over in picked:
                if n in excludes:
                    continue
                m = cube.member(n)
                short = prefix + (over.get("alias") or n)
                if short in view.members:
                    self.err(eloc, "model.duplicate_name", f"view '{view.name}' already has a member '{short}' "
                                                     "(use prefix or alias)", "includes")
                    continue
                view.members[short] = ViewMember(view.name, short, cube.name, n, m.kind, path,
                                                 over.get("title"), over.get("description"), over.get("format"),
                                                 over.get("meta"))
        self.views[view.name] = view
        self.check_view_disclosure(loc, view)

    def _joined(self, a: str, b: str) -> bool:
        return b in self.cubes[a].joins or a in self.cubes[b].joins

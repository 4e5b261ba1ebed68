"""The model loader's state and its diagnostics: each problem is reported at the offending key
(``file:line:col: error[code] path: message``), every one of them, not just the first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crosstrack.cube.errors import Diagnostic
from crosstrack.cube.load_keys import NAME_RE, TYPE_NAMES, UNSUPPORTED, did_you_mean
from crosstrack.cube.model import Cube, View
from crosstrack.cube.sqlexpr import Template, TemplateError, parse_template
from crosstrack.cube.yamlpos import PosDoc


@dataclass
class Loc:
    """Where an entry is: its file, the positions of its document, its key path and its label."""

    file: str
    doc: PosDoc
    path: tuple
    label: str


class LoaderBase:
    """What every loading step shares: the loaded cubes and views, their locations, the diagnostics."""

    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []
        self.cubes: dict[str, Cube] = {}
        self.views: dict[str, View] = {}
        self.locs: dict[tuple, Loc] = {}  # (kind, owner, name[, key]) -> location
        self.raw_views: list[tuple[Loc, dict]] = []
        self.broken: set[tuple[str, str]] = set()  # members that failed to load: no cascading errors

    # --- diagnostics -------------------------------------------------------------------------
    def err(self, loc: Loc, code: str, message: str, key: str | int | None = None, *, value: bool = False,
            label_suffix: str | None = None) -> None:
        path = loc.path + ((key,) if key is not None else ())
        line, col = loc.doc.value_at(path) if value else loc.doc.at(path)
        label = loc.label
        if label_suffix is not None:
            label += label_suffix
        elif key is not None:
            label += f"[{key}]" if isinstance(key, int) else f".{key}"
        self.diags.append(Diagnostic(loc.file, line, col, code, label, message, path))

    def child(self, loc: Loc, key, label: str) -> Loc:
        return Loc(loc.file, loc.doc, loc.path + (key,), label)

    def check_keys(self, loc: Loc, data: Any, schema: dict, kind: str, required=("name",)) -> bool:
        if not isinstance(data, dict):
            self.err(loc, "model.wrong_type", f"expected a mapping for a {kind.replace('_', ' ')}, got {type(data).__name__}",
                     value=True)
            return False
        for key, val in data.items():
            if key not in schema:
                if key in UNSUPPORTED.get(kind, ()):
                    self.err(loc, "model.unsupported", f"'{key}' (a {kind.replace('_', ' ')} key in Cube) is not supported by crosstrack", key)
                else:
                    self.err(loc, "model.unknown_key", f"unknown {kind.replace('_', ' ')} key '{key}'{did_you_mean(key, schema)}", key)
                continue
            want = schema[key]
            wants = want if isinstance(want, tuple) else (want,)
            if not isinstance(val, wants) or (isinstance(val, bool) and bool not in wants):
                self.err(loc, "model.wrong_type", f"'{key}' must be {' or '.join(TYPE_NAMES[w] for w in wants)}, "
                                            f"got {type(val).__name__}", key)
        ok = True
        for key in required:
            if key not in data:
                self.err(loc, "model.missing_key", f"missing required key '{key}'")
                ok = False
        if "name" in data and isinstance(data["name"], str) and not NAME_RE.match(data["name"]):
            self.err(loc, "model.bad_name", f"name '{data['name']}' must be letters, digits and _ (not starting with a digit)", "name")
            ok = False
        return ok and isinstance(data.get("name", ""), str)

    def _typed(self, data: dict, key: str, typ, default=None):
        v = data.get(key, default)
        types = typ if isinstance(typ, tuple) else (typ,)
        if isinstance(v, bool) and bool not in types:
            return default
        return v if isinstance(v, types) else default

    def template(self, loc: Loc, data: dict, key: str) -> Template | None:
        if key not in data or not isinstance(data[key], (str, int)) or isinstance(data[key], bool):
            return None
        try:
            return parse_template(str(data[key]))
        except TemplateError as e:
            self.err(loc, "model.bad_sql", str(e), key, value=True)
            return None

"""Issue 17, layers: no import runs back up the stack (read from the source with ``ast``, so an
import inside a function or under TYPE_CHECKING counts as much as one at the top).

From the bottom:

0. ``crosstrack.config``, ``crosstrack.sql`` (dialect, quoting, shared cluster DDL) and
   ``crosstrack.fact_tables`` (the published columns): what everyone shares, importing nothing;
1. ``crosstrack.engine``: the one place that talks to ClickHouse;
2. ``crosstrack.loaders`` and ``crosstrack.cube``, siblings that never import each other: data
   flows loaders → ClickHouse ← cube;
3. ``crosstrack.api``, which answers through cube and reads the published-version pointer the
   loaders keep (``loaders/publish.py``);
4. the composition layer: ``crosstrack/handoff.py`` (the CLI's client of a running server),
   ``crosstrack/control.py`` (a load run inside the server: loaders + cube rollups + api cache
   warming, so it must sit above all three), ``crosstrack/cli.py`` and ``__main__`` — the only
   modules that import every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Source folder -> the import name it installs under (pyproject's package-dir mapping).
PACKAGES = {"api": "crosstrack.api", "cube": "crosstrack.cube", "loaders": "crosstrack.loaders",
            "crosstrack": "crosstrack"}
# Unit -> rank. A module may import its own unit and any unit of a lower rank; units of the same
# rank are siblings and may not import each other.
RANK = {
    "crosstrack": 0,  # the package's __init__ (its version string; imports nothing)
    "crosstrack.config": 0, "crosstrack.sql": 0, "crosstrack.fact_tables": 0,
    "crosstrack.problem": 0,  # the one error shape every layer raises and every surface renders
    "crosstrack.engine": 1,
    "crosstrack.loaders": 2, "crosstrack.cube": 2,
    "crosstrack.api": 3,
    "crosstrack.handoff": 4, "crosstrack.control": 5, "crosstrack.cli": 6, "crosstrack.__main__": 7,
}
BARE = ("api", "cube", "loaders")  # the folders' names, which must never be imported as top-level packages
SKIP_DIRS = {".venv", ".clients", "node_modules", ".git", ".cache", "build", "dist"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and ".".join(parts[:2]) in RANK:
        return ".".join(parts[:2])
    return module if module == "crosstrack" else None


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, imported module) of every import; ``from crosstrack import cube`` is crosstrack.cube."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            out.append((node.lineno, base))
            # ``from crosstrack import cube`` names a unit in the imported name, not in the module
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names
                    if _unit(f"{base}.{a.name}") not in (None, _unit(base))]
    return out


def _source_files() -> list[Path]:
    files = []
    for folder in PACKAGES:
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _all_python() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]


def test_every_module_has_a_layer():
    """A new top-level module must be placed in a layer here (a decision, not an accident)."""
    unplaced = sorted({_module_name(p) for p in _source_files() if _unit(_module_name(p)) is None})
    assert unplaced == [], f"modules with no layer in tests/test_layers.py RANK: {unplaced}"


def test_no_import_runs_back_up_the_layers():
    violations = []
    for path in _source_files():
        module = _module_name(path)
        src_unit = _unit(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in _imports(tree, module, path.name == "__init__.py"):
            dst_unit = _unit(target)
            if dst_unit is None or dst_unit == src_unit or target == "crosstrack":
                continue
            if RANK[dst_unit] >= RANK[src_unit]:
                kind = "sibling" if RANK[dst_unit] == RANK[src_unit] else "upward"
                violations.append(f"{path.relative_to(ROOT)}:{line}: {module} imports {target} ({kind}: "
                                  f"{src_unit} is rank {RANK[src_unit]}, {dst_unit} rank {RANK[dst_unit]})")
    assert violations == [], "imports that run back up the layers:\n" + "\n".join(violations)


def test_no_bare_top_level_api_cube_or_loaders_import():
    """Everything imports crosstrack.api / crosstrack.cube / crosstrack.loaders; a bare ``import cube``
    would only work from a source checkout (and clash with any other package of that name)."""
    bad = []
    for path in _all_python():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in BARE]
    assert bad == [], "bare imports of the source folders:\n" + "\n".join(bad)


def test_shared_sql_helpers_are_defined_once():
    """DIALECT and the loaders' quoting live in crosstrack/sql.py only."""
    defined: dict[str, list[str]] = {}
    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            names = ([t.id for t in node.targets if isinstance(t, ast.Name)] if isinstance(node, ast.Assign)
                     else [node.name] if isinstance(node, ast.FunctionDef) else [])
            for n in names:
                if n in ("DIALECT", "q", "qi", "arr", "_qi", "_ident", "_checked"):
                    defined.setdefault(n, []).append(str(path.relative_to(ROOT)))
    assert defined == {"DIALECT": ["crosstrack/sql.py"], "q": ["crosstrack/sql.py"], "qi": ["crosstrack/sql.py"],
                       "arr": ["crosstrack/sql.py"]}, defined


def test_the_checker_sees_a_violation(tmp_path):
    """The walk is not vacuous: an upward import in a snippet is found."""
    tree = ast.parse("def f():\n    from crosstrack.loaders.cluster import qi\nfrom crosstrack import api\n")
    found = {t for _, t in _imports(tree, "crosstrack.cube.rollups", False)}
    assert {"crosstrack.loaders.cluster", "crosstrack.api"} <= found


def test_the_api_reads_only_the_published_version_pointer_from_the_loaders():
    """Answers come through cube (loaders → ClickHouse ← cube ← api); what the API takes from the
    loaders is the pointer they keep (``loaders/publish.py``: which version is published, which are kept)."""
    reads = set()
    for path in _source_files():
        module = _module_name(path)
        if _unit(module) != "crosstrack.api":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reads |= {t for _, t in _imports(tree, module, path.name == "__init__.py") if _unit(t) == "crosstrack.loaders"}
    assert reads <= {"crosstrack.loaders.publish", "crosstrack.loaders.publish.current_version",
                     "crosstrack.loaders.publish.version_states"}, reads

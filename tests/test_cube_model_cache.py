"""What cube/ derives from a model lives in one explicit ModelCache keyed by the model's
fingerprint — never on the Model object — and cube/ keeps the shape issue 17 asks for: the
compiler under 300 lines, no module over 500, the plan built without sqlglot."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

from crosstrack.cube.compiler import Compiler
from crosstrack.cube.model_cache import ModelCache, model_fingerprint
from crosstrack.cube.query import QueryEngine
from crosstrack.cube.rollups import rollup_ddl, rollup_fingerprint
from cube_data import build_shop

from crosstrack import cube

ROOT = Path(__file__).resolve().parent.parent
CUBE = ROOT / "cube"
SHOP_DB = "cube_model_cache"


def _own_attributes(model: cube.Model) -> set[str]:
    return set(vars(model)) - {f.name for f in dataclasses.fields(model)}


def test_nothing_is_hung_on_the_model(engine):
    """Compiling, loading (annotations), rollup fingerprints and DDL leave the Model as loaded."""
    model = cube.load_model(ROOT / "tests" / "golden" / "models")
    build_shop(engine, SHOP_DB)
    qe = QueryEngine(model, engine)
    qe.load({"measures": ["orders.count"], "dimensions": ["orders.status"]}, database=SHOP_DB)
    facts = cube.load_model(ROOT / "models")
    Compiler(facts).compile({"measures": ["population.people"]}, database="x", internal=True,
                            rollups={"custody_snapshot__by_agency"})
    rollup_fingerprint(facts, "custody_snapshot__by_agency")
    rollup_ddl(facts, "x")
    assert _own_attributes(model) == set() and _own_attributes(facts) == set()
    assert len(qe.cache) > 0  # the engine's own cache holds the trees instead


def test_cache_is_keyed_by_fingerprint():
    """Two loads of the same files share entries; an edited model gets its own."""
    cache = ModelCache()
    first, second = cube.load_model(ROOT / "models"), cube.load_model(ROOT / "models")
    edited = cube.load_model(ROOT / "models")
    edited.cubes["custody_snapshot"].meta = {}  # every grouping of every rollup stored
    assert model_fingerprint(first) == model_fingerprint(second) != model_fingerprint(edited)
    table = "custody_snapshot__by_demographics"
    fp = rollup_fingerprint(first, table, cache)
    entries = len(cache)
    assert rollup_fingerprint(second, table, cache) == fp and len(cache) == entries
    assert rollup_fingerprint(edited, table, cache) != fp and len(cache) > entries


def test_module_sizes():
    """Issue 17: cube/compiler.py under 300 lines and no cube/ module over 500."""
    sizes = {p.name: len(p.read_text().splitlines()) for p in CUBE.glob("*.py")}
    assert sizes["compiler.py"] < 300
    assert {n: s for n, s in sizes.items() if s > 500} == {}


PLAN_STEP = ("plan.py", "planner.py", "plan_filters.py", "joins.py")


def test_the_plan_is_built_without_sqlglot():
    """The plan types, the planner, filter validation and join planning import neither sqlglot
    nor a module that builds SQL (they read the model as data)."""
    allowed = {f"crosstrack.cube.{n[:-3]}" for n in PLAN_STEP} | {
        "crosstrack.cube.errors", "crosstrack.cube.model"}
    for name in PLAN_STEP:
        tree = ast.parse((CUBE / name).read_text())
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        ours = {m for m in imported if m.startswith("crosstrack")}
        assert not any(m.split(".")[0] == "sqlglot" for m in imported), name
        assert ours <= allowed, (name, ours - allowed)

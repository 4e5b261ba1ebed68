"""Shared fixtures: every tests/fixtures_*.py module is registered once as a pytest plugin,
so a session fixture (one synthetic data set loaded into the process's chDB engine, one live
server) is built once for the whole run, whichever test module asks for it first. Test
modules use these fixtures by name; they do not import them.

The suite runs on three pytest-xdist workers (scripts/test.sh). Each worker is its own process
with its own session and module fixtures, so the scheduler below decides what shares a worker:

- every test module on the scale-1 data (``api_s1``, and ``synthetic_scale1`` built from it)
  runs on one worker, so that data is generated and loaded once, not once per worker;
- a module that defines a module-scoped fixture (a load, a server for its tests) runs whole on
  one worker, so that fixture is built once;
- the tests of every other module are handed out one by one.

Tests marked ``slow`` are collected first (``pytest_collection_modifyitems``) and the scheduler
keeps that order (``--no-loadscope-reorder`` in pyproject.toml), so the long ones start at the
beginning and the short ones fill every worker up to the end.

(xdist's own ``--dist loadgroup`` would do the grouping from ``xdist_group`` marks, but with
pytest 9.2 its group suffix no longer reaches the node id, and every group is split.)
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

_here = Path(__file__).resolve().parent
if str(_here) not in sys.path:
    sys.path.insert(0, str(_here))

pytest_plugins = sorted(p.stem for p in _here.glob("fixtures_*.py"))

SCALE1_FIXTURES = ("api_s1", "synthetic_scale1")  # tests/fixtures_attack.py, tests/fixtures_loaders.py


@cache
def _module_scope(path: Path) -> str | None:
    """The unit a module's tests are scheduled in: "scale1-data", the module, or None (test by
    test). Read from the module's text, since the scheduler runs in xdist's controller, which
    collects nothing: a module naming a scale-1 fixture, or defining a module-scoped fixture."""
    text = path.read_text(encoding="utf-8")
    if any(name in text for name in SCALE1_FIXTURES):
        return "scale1-data"
    if 'scope="module"' in text:
        return str(path)
    return None


class DataSetScheduling(LoadScopeScheduling):
    """xdist's loadscope scheduler with the units described in this module's docstring."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return _module_scope(self.config.rootpath / module) or nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> DataSetScheduling | None:
    # -n alone means --dist load: schedule as above; an explicit other --dist is obeyed
    return DataSetScheduling(config, log) if config.getvalue("dist") == "load" else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # slow tests (and every test of a module scheduled whole with a slow one) first; otherwise
    # collection order (a stable sort: every worker collects the same order, as xdist requires)
    def scope(item: pytest.Item) -> str:
        return _module_scope(item.path) or item.nodeid

    slow_scopes = {scope(it) for it in items if it.get_closest_marker("slow")}
    items.sort(key=lambda it: scope(it) not in slow_scopes)

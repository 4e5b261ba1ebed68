"""Shared fixtures: every tests/fixtures_*.py module is registered once as a pytest plugin,
so a session fixture (one synthetic data set loaded into the process's chDB engine, one live
server) is built once for the whole run, whichever test module asks for it first. Test
modules use these fixtures by name; they do not import them.

The suite runs on two pytest-xdist workers with ``--dist loadgroup`` (scripts/test.sh). Each
worker is its own process with its own session fixtures, so ``pytest_collection_modifyitems``
below decides what must share a worker and what runs first:

- every test on the scale-1 data (``api_s1``, and ``synthetic_scale1`` built from it) is one
  group, so that data is generated and loaded once, not once per worker;
- the tests of a module that share a module-scoped fixture of that module (a server, a load)
  are one group, so that fixture is built once;
- everything else is scheduled test by test, and tests marked ``slow`` are handed out first,
  so the long ones start at the beginning and the short ones fill both workers up to the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_here = Path(__file__).resolve().parent
if str(_here) not in sys.path:
    sys.path.insert(0, str(_here))

pytest_plugins = sorted(p.stem for p in _here.glob("fixtures_*.py"))

# session fixtures too costly to build on both workers: their tests share one worker
ONE_WORKER_FIXTURES = {"api_s1": "scale1-data"}


def _group(item: pytest.Item) -> str | None:
    if not isinstance(item, pytest.Function):
        return None
    for name, group in ONE_WORKER_FIXTURES.items():
        if name in item.fixturenames:
            return group
    module = item.nodeid.split("::", 1)[0]
    for defs in item._fixtureinfo.name2fixturedefs.values():
        # a module-scoped fixture the test module defines itself (a load, a server for its tests)
        if any(d.scope == "module" and d.baseid == module for d in defs):
            return module
    return None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks (loadgroup)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {item: _group(item) for item in items}
    slow_groups = {g for item, g in groups.items() if g and item.get_closest_marker("slow")}
    for item, group in groups.items():
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    # slow tests (and the groups holding one) first; otherwise collection order (a stable sort,
    # so every worker collects the same order, as xdist requires)
    items.sort(key=lambda it: not (it.get_closest_marker("slow") or groups[it] in slow_groups))

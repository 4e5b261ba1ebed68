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

With three or more workers, the last one is the waiting worker: it runs only the modules in
``WAITING_MODULES``, whose tests spend most of their time waiting (on a publish under 100 users,
on login delays, on locust, on a browser, on timeouts) rather than on this process's CPU, and
shuts down when none are left. The other workers take them only when nothing else is left, so
the CPU-bound suites keep both cores and the waits overlap them instead of holding a CPU-bound
worker idle. (A third worker of the ordinary kind only made every test slower: 318 s against 304 s.)

Tests marked ``slow`` are collected first (``pytest_collection_modifyitems``) and the scheduler
keeps that order (``--no-loadscope-reorder`` in pyproject.toml), so the long ones start at the
beginning and the short ones fill the workers up to the end.

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
# Modules whose tests mostly wait (measured: wall time far above the worker's CPU time); see above.
WAITING_MODULES = frozenset({
    "test_online_publish.py", "test_sql_lockout.py", "test_loadtest_locust.py", "test_engine_pool.py",
    "test_http_limits.py", "test_sql_limits.py", "test_web_context.py", "test_web_contract.py", "test_web_page.py",
})


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

    def _assign_work_unit(self, node) -> None:
        if not hasattr(self, "_waiter"):  # chosen once, from every worker: not again as workers leave
            self._waiter = (max(self.nodes, key=lambda n: int(n.gateway.id.removeprefix("gw")))
                            if len(self.nodes) >= 3 else None)
        if self._waiter is None:
            super()._assign_work_unit(node)
            return
        waiter = node is self._waiter
        scope = next((s for s in self.workqueue if _waits(s) == waiter), None)
        if scope is None:
            if waiter:  # only CPU-bound work is left: the waiting worker is done
                self.assigned_work.setdefault(node, {})
                node.shutdown()
                return
            scope = next(iter(self.workqueue))  # no CPU-bound work left: waiting work for a free worker
        self.workqueue.move_to_end(scope, last=False)
        super()._assign_work_unit(node)


def _waits(scope: str) -> bool:
    return Path(scope.split("::", 1)[0]).name in WAITING_MODULES


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

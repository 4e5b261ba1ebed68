"""Shared fixtures: every tests/fixtures_*.py module is registered once as a pytest plugin,
so a session fixture (one synthetic data set loaded into the process's chDB engine, one live
server) is built once for the whole run, whichever test module asks for it first. Test
modules use these fixtures by name; they do not import them."""

from __future__ import annotations

import sys
from pathlib import Path

_here = Path(__file__).resolve().parent
if str(_here) not in sys.path:
    sys.path.insert(0, str(_here))

pytest_plugins = sorted(p.stem for p in _here.glob("fixtures_*.py"))

"""The floor under bench_load's ratio: what a load costs the engine before any business rule.

bench_load compares a crosstrack load with chDB's own ingest of the same CSV files (target: at
most 2x, issue 18). This script splits a load into the work every load must do and the work of
the rules. It times each of these on one fresh on-disk engine, alternated, ``--repeat`` times:

* ``raw ingest``: bench_load's baseline (every column a String, into MergeTree).
* ``read``: the load's own read phase alone (loaders/extract.py: chDB's reader into String
  staging tables, checksums, the UTF-8 check).
* ``write``: writing the finished fact rows (custody, charge and release facts, copied into
  Memory tables beforehand) into MergeTree tables with the published DDL and sort order.
* ``load``: a whole crosstrack load, with the seconds of each phase.

``load - read - write`` is what validation and the R1-R12 rules cost (row checks, typing, the
snapshot placement, joins, keys). The script prints how much of the 2x budget that leaves
for them.

    .venv/bin/python benchmarks/load_floor.py [--scale 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402

from benchmarks.bench_load import TARGET, raw_ingest  # noqa: E402
from crosstrack.config import load_settings  # noqa: E402
from crosstrack.engine import Engine  # noqa: E402
from crosstrack.fact_tables import FACT_TABLES  # noqa: E402
from crosstrack.loaders.cluster import Layout  # noqa: E402
from crosstrack.loaders.extract import TABLES, find_files, stage_file  # noqa: E402
from crosstrack.loaders.generate import generate_extracts  # noqa: E402
from crosstrack.loaders.pipeline import run_load  # noqa: E402
from crosstrack.loaders.publish import current_version  # noqa: E402
from crosstrack.sql import qi  # noqa: E402

# benchmark-only scratch databases on the benchmark's own temporary engine
FINISHED, READ, WRITTEN = "floor_finished", "floor_read", "floor_written"


@contextmanager
def _timing_statements(engine: Engine, spent: list[float]) -> Iterator[None]:
    """Add each engine statement's wall and process CPU seconds to ``spent`` (scalar() is a query())."""
    def timed(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            w, c = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - w
                spent[1] += time.process_time() - c
        return run
    names = ("command", "query", "query_arrow", "insert_arrow")
    for name in names:
        setattr(engine, name, timed(getattr(engine, name)))
    try:
        yield
    finally:
        for name in names:
            delattr(engine, name)  # back to the class's methods


def load_floor(scale: float = 10.0, seed: int = 7, repeat: int = 3) -> dict:
    """Medians (s) of raw ingest, read, write and load, alternated ``repeat`` times, the load's
    phases, and what validation and the rules take and may take (benchmarks/run_all.py)."""
    quiet = Console(stderr=True, quiet=True)
    with tempfile.TemporaryDirectory(prefix="crosstrack-floor-", ignore_cleanup_errors=True) as tmp:
        tmpd = Path(tmp)
        settings = load_settings(clickhouse_url=f"chdb://{(tmpd / 'chdb').as_posix()}", data_dir=tmpd / "data",
                                 person_key_secret="bench")
        extract = tmpd / "extract"
        generate_extracts(extract, seed=seed, scale=scale, fmt="csv", years=settings.snapshot_years, console=None)
        files = find_files(extract)
        engine = Engine.from_settings(settings)
        if run_load(settings, extract, console=quiet, engine=engine) != 0:
            raise RuntimeError("the first load failed")
        version = current_version(engine, settings).database
        engine.command(f"CREATE DATABASE {FINISHED}")
        for table in FACT_TABLES:
            engine.command(f"CREATE TABLE {FINISHED}.{qi(table)} ENGINE = Memory AS SELECT * FROM "
                           f"{qi(version)}.{qi(table)}", settings={"allow_suspicious_low_cardinality_types": 1})
        runs: dict[str, list[float]] = {"raw ingest": [], "read": [], "write": [], "load": [], "in engine": [],
                                        "engine cores": []}
        phases: list[dict[str, float]] = []
        for _ in range(max(1, repeat)):
            runs["raw ingest"].append(raw_ingest(engine, extract))
            engine.command(f"DROP DATABASE IF EXISTS {READ} SYNC")
            engine.command(f"CREATE DATABASE {READ}")
            t0 = time.perf_counter()
            for table, path in files.items():
                stage_file(engine, READ, table, path)
            runs["read"].append(time.perf_counter() - t0)
            engine.command(f"DROP DATABASE IF EXISTS {READ} SYNC")
            engine.command(f"DROP DATABASE IF EXISTS {WRITTEN} SYNC")
            engine.command(f"CREATE DATABASE {WRITTEN}")
            t0 = time.perf_counter()
            for table in FACT_TABLES:
                for sql in Layout().fact_table(WRITTEN, table):
                    engine.command(sql)
                engine.command(f"INSERT INTO {WRITTEN}.{qi(table)} SELECT * FROM {FINISHED}.{qi(table)}")
            runs["write"].append(time.perf_counter() - t0)
            engine.command(f"DROP DATABASE IF EXISTS {WRITTEN} SYNC")
            timings: dict[str, float] = {}
            spent = [0.0, 0.0]  # wall and process CPU seconds inside engine statements
            with _timing_statements(engine, spent):
                t0 = time.perf_counter()
                if run_load(settings, extract, console=quiet, engine=engine, timings=timings) != 0:
                    raise RuntimeError("a load failed")
                runs["load"].append(time.perf_counter() - t0)
            runs["in engine"].append(spent[0])
            runs["engine cores"].append(spent[1] / max(spent[0], 1e-9))
            phases.append(timings)
    m = {k: statistics.median(v) for k, v in runs.items()}
    cores = m.pop("engine cores")
    rules = m["load"] - m["read"] - m["write"]
    budget = TARGET * m["raw ingest"] - m["read"] - m["write"]
    return {"scale": scale, "medians": m, "runs": runs,
            "phases": {k: statistics.median(t.get(k, 0.0) for t in phases) for k in ("read", "validate", "facts",
                                                                                      "checks")},
            "rules_s": rules, "rules_budget_s": budget, "engine_cores": cores}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here (benchmarks/run_all.py)")
    args = ap.parse_args()
    d = load_floor(args.scale, args.seed, args.repeat)
    m, raw = d["medians"], d["medians"]["raw ingest"]
    print(f"load_floor: scale {args.scale:g}, {len(TABLES)} tables, {args.repeat} alternated runs, medians in s")
    for k, v in m.items():
        print(f"  {k:<11} {v:6.2f} s  {v / raw:5.2f}x raw ingest   runs: " + ", ".join(f"{x:.2f}" for x in d["runs"][k]))
    print(f"  the load spent {m['in engine']:.2f} s ({m['in engine'] / m['load']:.0%}) inside engine statements, "
          f"with {d['engine_cores']:.2f} of the {os.cpu_count()} cores busy meanwhile")
    print("  load phases: " + ", ".join(f"{k} {v:.2f}" for k, v in d["phases"].items()))
    rules, budget = d["rules_s"], d["rules_budget_s"]
    print(f"validation and rules (load - read - write): {rules:.2f} s = {rules / raw:.2f}x raw ingest; "
          f"a {TARGET:g}x load leaves them {budget:.2f} s = {budget / raw:.2f}x, "
          f"{rules / max(budget, 1e-9):.1f} times less than they take now")
    if args.json:
        args.json.write_text(json.dumps(d))


if __name__ == "__main__":
    main()

"""A load split into its parts, each against bench_load's baseline: where the 2x budget goes.

bench_load compares a crosstrack load with chDB's own ingest of the same CSV files (target: at
most 2x, issue 18). This script times, on one fresh on-disk engine, alternated, ``--repeat``
times:

* ``raw ingest``: bench_load's baseline (every column a String, into MergeTree).
* ``read``: the load's read phase on its own (loaders/extract.py: chDB's reader into String
  staging tables, checksums, the UTF-8 check).
* ``write``: writing the finished fact rows (custody, charge and release facts, copied into
  Memory tables beforehand) into MergeTree tables with the published DDL and sort order.
* ``load``: a whole crosstrack load, with the seconds of each of its phases, and the seconds it
  spends inside engine statements (through a wrapper that times each statement the load issues).

From each run, ``validate + facts - write`` is what validation and the R1-R12 rules take (row
checks, typing, the snapshot placement, joins, keys), and ``2 x raw ingest - read - write`` is
what a load at the target would leave them; the medians of both over the runs are printed. Read
and write are today's code doing work that any load does. They are not a proven minimum, so the
gap shows how much the rules would have to shrink, not that they cannot.

    .venv/bin/python benchmarks/load_parts.py [--scale 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402

from benchmarks.bench_load import TARGET, raw_ingest  # noqa: E402
from crosstrack.config import load_settings  # noqa: E402
from crosstrack.engine import Engine  # noqa: E402
from crosstrack.fact_tables import FACT_TABLES  # noqa: E402
from crosstrack.loaders.cluster import Layout  # noqa: E402
from crosstrack.loaders.extract import find_files, stage_file  # noqa: E402
from crosstrack.loaders.generate import generate_extracts  # noqa: E402
from crosstrack.loaders.pipeline import run_load  # noqa: E402
from crosstrack.loaders.publish import current_version  # noqa: E402
from crosstrack.sql import qi  # noqa: E402

# benchmark-only scratch databases on the benchmark's own temporary engine
FINISHED, READ, WRITTEN = "parts_finished", "parts_read", "parts_written"
PHASES = ("read", "validate", "facts", "checks", "publish")


class TimedEngine:
    """Stands in for the engine (same methods, the rest passed through): adds up the wall and
    process CPU seconds of every statement. Process CPU counts every thread, so the person keys
    and checksums computed beside the statements are in it too."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self.wall = self.cpu = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def _timed(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - w
            self.cpu += time.process_time() - c

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._engine.command, *args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._engine.query, *args, **kwargs)

    def query_arrow(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._engine.query_arrow, *args, **kwargs)

    def insert_arrow(self, *args: Any, **kwargs: Any) -> Any:
        return self._timed(self._engine.insert_arrow, *args, **kwargs)

    def scalar(self, sql: Any, parameters: dict[str, Any] | None = None) -> Any:
        rows = self.query(sql, parameters).rows
        return rows[0][0] if rows else None


def _time_read(engine: Engine, files: dict[str, Path]) -> float:
    engine.command(f"DROP DATABASE IF EXISTS {READ} SYNC")
    engine.command(f"CREATE DATABASE {READ}")
    t0 = time.perf_counter()
    for table, path in files.items():
        stage_file(engine, READ, table, path)
    seconds = time.perf_counter() - t0
    engine.command(f"DROP DATABASE {READ} SYNC")
    return seconds


def _time_write(engine: Engine) -> float:
    engine.command(f"DROP DATABASE IF EXISTS {WRITTEN} SYNC")
    engine.command(f"CREATE DATABASE {WRITTEN}")
    t0 = time.perf_counter()
    for table in FACT_TABLES:
        for sql in Layout().fact_table(WRITTEN, table):
            engine.command(sql)
        engine.command(f"INSERT INTO {WRITTEN}.{qi(table)} SELECT * FROM {FINISHED}.{qi(table)}")
    seconds = time.perf_counter() - t0
    engine.command(f"DROP DATABASE {WRITTEN} SYNC")
    return seconds


def load_parts(scale: float = 10.0, seed: int = 7, repeat: int = 3) -> dict[str, Any]:
    """Every run's parts (s) and their medians, the load's phases, and what validation and the
    rules take and may take (benchmarks/run_all.py)."""
    quiet = Console(stderr=True, quiet=True)
    with tempfile.TemporaryDirectory(prefix="crosstrack-parts-", ignore_cleanup_errors=True) as tmp:
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
        runs: list[dict[str, Any]] = []
        for _ in range(max(1, repeat)):
            run: dict[str, Any] = {"raw ingest": raw_ingest(engine, extract), "read": _time_read(engine, files),
                                   "write": _time_write(engine)}
            timed, phases = TimedEngine(engine), {}
            t0 = time.perf_counter()
            if run_load(settings, extract, console=quiet, engine=timed, timings=phases) != 0:
                raise RuntimeError("a load failed")
            run["load"] = time.perf_counter() - t0
            run["phases"] = {ph: phases.get(ph, 0.0) for ph in PHASES}
            run["other"] = run["load"] - sum(run["phases"].values())  # set-up, retention, the summary
            run["in engine"], run["cores in statements"] = timed.wall, timed.cpu / max(timed.wall, 1e-9)
            run["rules"] = run["phases"]["validate"] + run["phases"]["facts"] - run["write"]
            run["rules budget"] = TARGET * run["raw ingest"] - run["read"] - run["write"]
            runs.append(run)
    keys = ("raw ingest", "read", "write", "load", "other", "in engine", "cores in statements", "rules",
            "rules budget")
    return {"scale": scale, "runs": runs, "medians": {k: statistics.median(r[k] for r in runs) for k in keys},
            "phases": {ph: statistics.median(r["phases"][ph] for r in runs) for ph in PHASES}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    d = load_parts(args.scale, args.seed, args.repeat)
    m = d["medians"]
    raw = m["raw ingest"]
    print(f"load_parts: scale {args.scale:g}, {args.repeat} alternated runs, medians in s")
    for k in ("raw ingest", "read", "write", "load"):
        print(f"  {k:<11} {m[k]:6.2f} s  {m[k] / raw:5.2f}x raw ingest   runs: "
              + ", ".join(f"{r[k]:.2f}" for r in d["runs"]))
    print("  load phases: " + ", ".join(f"{k} {v:.2f}" for k, v in d["phases"].items()) + f", other {m['other']:.2f}")
    print(f"  inside engine statements: {m['in engine']:.2f} s of the load's {m['load']:.2f} s, with "
          f"{m['cores in statements']:.2f} cores of process CPU meanwhile")
    print(f"validation and rules (validate + facts - write): {m['rules']:.2f} s = {m['rules'] / raw:.2f}x raw "
          f"ingest; a {TARGET:g}x load would leave them {m['rules budget']:.2f} s = {m['rules budget'] / raw:.2f}x: "
          f"{m['rules'] / max(m['rules budget'], 1e-9):.1f} times less than they take")
    if args.json:
        args.json.write_text(json.dumps(d))


if __name__ == "__main__":
    main()

"""Load benchmark: generate the 10x synthetic set, load it, compare with chDB simply ingesting
the same raw files (INSERT INTO t SELECT * FROM file(..., CSVWithNames)). Target: <= 2x.

    .venv/bin/python benchmarks/bench_load.py [--scale 10] [--seed 7] [--repeat 3] [--extract DIR]

Runs in a fresh temporary data directory (embedded chDB on disk) and prints the figures: the
raw ingest and the crosstrack load are run ``--repeat`` times, alternately, so both see the same
machine (other work on a shared machine moves both); the best run of each is compared, and
every run is listed. ``--extract`` loads an extract generated beforehand (e.g. by
``crosstrack generate --scale 100``) instead of generating one. Peak memory is this process's
maximum resident set size (generation, when it runs here, included).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from crosstrack.config import load_settings  # noqa: E402
from crosstrack.engine import Engine  # noqa: E402
from crosstrack.loaders.extract import COLUMNS  # noqa: E402
from crosstrack.loaders.generate import generate_extracts  # noqa: E402
from crosstrack.loaders.pipeline import run_load  # noqa: E402

PHASES = ("read", "validate", "facts", "checks", "publish")


def raw_ingest(engine: Engine, out: Path) -> float:
    engine.command("DROP DATABASE IF EXISTS bench_raw SYNC")
    engine.command("CREATE DATABASE bench_raw")
    t0 = time.perf_counter()
    for name, cols in COLUMNS.items():
        body = ", ".join(f"`{c}` String" for c in cols)
        engine.command(f"CREATE TABLE bench_raw.`{name}` ({body}) ENGINE = MergeTree ORDER BY tuple()")
        # benchmark only: the path is our own temporary file, not user input
        engine.command(f"INSERT INTO bench_raw.`{name}` SELECT * FROM file('{(out / (name + '.csv')).as_posix()}', "
                       f"CSVWithNames, '{body.replace('`', '')}')")
    seconds = time.perf_counter() - t0
    engine.command("DROP DATABASE bench_raw SYNC")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (raw ingest, load); the best is compared")
    ap.add_argument("--extract", type=Path, help="load this CSV extract folder instead of generating one")
    ap.add_argument("--memory", action="store_true", help="use chdb://memory instead of an on-disk engine")
    args = ap.parse_args()
    console = Console(stderr=True)
    # the embedded engine may still be merging parts in its folder when the block ends
    with tempfile.TemporaryDirectory(prefix="crosstrack-bench-", ignore_cleanup_errors=True) as tmp:
        tmpd = Path(tmp)
        url = "chdb://memory" if args.memory else f"chdb://{(tmpd / 'chdb').as_posix()}"
        settings = load_settings(clickhouse_url=url, data_dir=tmpd / "data", person_key_secret="bench")
        t_gen = None
        if args.extract:
            out = args.extract
            rows = sum(sum(1 for _ in (out / f"{n}.csv").open("rb")) - 1 for n in COLUMNS)
        else:
            out = tmpd / "extract"
            t0 = time.perf_counter()
            counts = generate_extracts(out, seed=args.seed, scale=args.scale, fmt="csv",
                                       years=settings.snapshot_years, console=None)
            t_gen = time.perf_counter() - t0
            rows = sum(counts.values())
        size = sum((out / f"{n}.csv").stat().st_size for n in COLUMNS)

        engine = Engine.from_settings(settings)
        raws: list[float] = []
        loads: list[tuple[float, dict[str, float]]] = []
        for _ in range(max(1, args.repeat)):
            raws.append(raw_ingest(engine, out))
            timings: dict[str, float] = {}
            t0 = time.perf_counter()
            rc = run_load(settings, out, console=Console(stderr=True, quiet=True), timings=timings)
            loads.append((time.perf_counter() - t0, timings))
            assert rc == 0, f"load failed ({rc})"
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    shutil.rmtree(tmp, ignore_errors=True)

    t_raw = min(raws)
    t_load, best = min(loads, key=lambda x: x[0])
    label = f"scale {args.scale:g}" if not args.extract else f"extract {out}"
    console.print(f"{label}: {rows:,} raw rows, {size / 1e6:,.0f} MB of CSV")
    if t_gen is not None:
        console.print(f"generate: {t_gen:.1f} s ({rows / t_gen:,.0f} rows/s)")
    t = Table(title="load phases, best run (s)")
    for ph in PHASES:
        t.add_column(ph, justify="right")
    t.add_column("total", justify="right")
    t.add_row(*[f"{best.get(ph, 0.0):.2f}" for ph in PHASES], f"{t_load:.2f}")
    console.print(t)
    console.print("runs (raw ingest / load, s): " + ", ".join(f"{r:.2f} / {lt:.2f}" for r, (lt, _) in zip(raws, loads)))
    console.print(f"chDB raw ingest (INSERT ... SELECT FROM file()): best {t_raw:.2f} s ({rows / t_raw:,.0f} rows/s)")
    console.print(f"crosstrack load (read, validate, facts, check, publish): best {t_load:.2f} s "
                  f"({rows / t_load:,.0f} rows/s), median {statistics.median(x for x, _ in loads):.2f} s")
    console.print(f"ratio load / raw ingest (best / best): {t_load / t_raw:.2f}x (target <= 2x); "
                  f"median / median {statistics.median(x for x, _ in loads) / statistics.median(raws):.2f}x")
    console.print(f"peak memory (max RSS of this process): {peak_gib:.1f} GiB")


if __name__ == "__main__":
    main()

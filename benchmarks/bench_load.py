"""Load benchmark: generate the 10x synthetic set, load it, compare with chDB simply ingesting
the same raw files (INSERT INTO t SELECT * FROM file(..., CSVWithNames)). Target: <= 2x.

    .venv/bin/python benchmarks/bench_load.py [--scale 10] [--seed 7] [--repeat 3] [--extract DIR]

Runs in a fresh temporary data directory (embedded chDB on disk) and prints the figures: the
raw ingest and the crosstrack load are run ``--repeat`` times, alternately, so both see the same
machine (other work on a shared machine moves both); the medians are compared (the best runs
too), and every run is listed. ``load_ratio()`` returns the same figures to benchmarks/run_all.py. ``--extract`` loads an extract generated beforehand (e.g. by
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
from dataclasses import dataclass
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
TARGET = 2.0  # issue 18: a load takes at most twice chDB's own ingest of the same files


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


@dataclass
class LoadRatio:
    """One bench_load run: raw ingest and crosstrack load timed alternately on the same files."""

    ratio: float                      # median load / median raw ingest (the issue-18 figure; target <= 2)
    ratio_best: float                 # best load / best raw ingest
    raw_s: list[float]                # every raw ingest, in run order
    load_s: list[float]               # every load, in run order
    phases: dict[str, float]          # median seconds of each load phase (read, validate, facts, ...)
    rows: int                         # raw rows in the extract
    csv_bytes: int
    generate_s: float | None = None   # seconds to generate the extract (None with ``extract=``)
    target: float = TARGET


def load_ratio(scale: float = 10.0, seed: int = 7, repeat: int = 3, extract: Path | None = None,
               memory: bool = False) -> LoadRatio:
    """Load / raw ingest for the benchmark runner (benchmarks/run_all.py): generate the ``scale``
    synthetic set (or use ``extract``), then ``repeat`` times, alternately, chDB's own ingest of
    the same CSV files and a full crosstrack load, each into a fresh temporary on-disk engine."""
    with tempfile.TemporaryDirectory(prefix="crosstrack-bench-", ignore_cleanup_errors=True) as tmp:
        tmpd = Path(tmp)
        url = "chdb://memory" if memory else f"chdb://{(tmpd / 'chdb').as_posix()}"
        settings = load_settings(clickhouse_url=url, data_dir=tmpd / "data", person_key_secret="bench")
        t_gen = None
        if extract:
            out = Path(extract)
            rows = sum(sum(1 for _ in (out / f"{n}.csv").open("rb")) - 1 for n in COLUMNS)
        else:
            out = tmpd / "extract"
            t0 = time.perf_counter()
            counts = generate_extracts(out, seed=seed, scale=scale, fmt="csv", years=settings.snapshot_years,
                                       console=None)
            t_gen = time.perf_counter() - t0
            rows = sum(counts.values())
        size = sum((out / f"{n}.csv").stat().st_size for n in COLUMNS)
        engine = Engine.from_settings(settings)
        raws: list[float] = []
        loads: list[float] = []
        phases: list[dict[str, float]] = []
        for _ in range(max(1, repeat)):
            raws.append(raw_ingest(engine, out))
            timings: dict[str, float] = {}
            t0 = time.perf_counter()
            rc = run_load(settings, out, console=Console(stderr=True, quiet=True), timings=timings)
            loads.append(time.perf_counter() - t0)
            phases.append(timings)
            if rc != 0:
                raise RuntimeError(f"load failed ({rc})")
    shutil.rmtree(tmp, ignore_errors=True)
    return LoadRatio(ratio=statistics.median(loads) / statistics.median(raws), ratio_best=min(loads) / min(raws),
                     raw_s=raws, load_s=loads,
                     phases={ph: statistics.median(t.get(ph, 0.0) for t in phases) for ph in PHASES},
                     rows=rows, csv_bytes=size, generate_s=t_gen)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each (raw ingest, load), alternated")
    ap.add_argument("--extract", type=Path, help="load this CSV extract folder instead of generating one")
    ap.add_argument("--memory", action="store_true", help="use chdb://memory instead of an on-disk engine")
    args = ap.parse_args()
    console = Console(stderr=True)
    r = load_ratio(args.scale, args.seed, args.repeat, args.extract, args.memory)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    label = f"scale {args.scale:g}" if not args.extract else f"extract {args.extract}"
    console.print(f"{label}: {r.rows:,} raw rows, {r.csv_bytes / 1e6:,.0f} MB of CSV")
    if r.generate_s is not None:
        console.print(f"generate: {r.generate_s:.1f} s ({r.rows / r.generate_s:,.0f} rows/s)")
    t = Table(title="load phases, median of the runs (s)")
    for ph in PHASES:
        t.add_column(ph, justify="right")
    t.add_column("total", justify="right")
    t.add_row(*[f"{r.phases.get(ph, 0.0):.2f}" for ph in PHASES], f"{statistics.median(r.load_s):.2f}")
    console.print(t)
    console.print("runs (raw ingest / load, s): " + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(r.raw_s, r.load_s)))
    console.print(f"chDB raw ingest (INSERT ... SELECT FROM file()): median {statistics.median(r.raw_s):.2f} s, "
                  f"best {min(r.raw_s):.2f} s")
    console.print(f"crosstrack load (read, validate, facts, check, publish): median {statistics.median(r.load_s):.2f} s "
                  f"({r.rows / statistics.median(r.load_s):,.0f} rows/s), best {min(r.load_s):.2f} s")
    console.print(f"ratio load / raw ingest (median / median): {r.ratio:.2f}x (target <= {TARGET:g}x) "
                  f"{'PASS' if r.ratio <= TARGET else 'MISS'}; best / best {r.ratio_best:.2f}x")
    console.print(f"peak memory (max RSS of this process): {peak_gib:.1f} GiB")


if __name__ == "__main__":
    main()

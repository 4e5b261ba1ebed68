"""Load benchmark: generate the 10x synthetic set, load it, compare with chDB simply ingesting
the same raw files (INSERT INTO t SELECT * FROM file(..., CSVWithNames)). Target: <= 2x.

    .venv/bin/python benchmarks/bench_load.py [--scale 10] [--seed 7]

Runs in a fresh temporary data directory (embedded chDB on disk) and prints the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402

from crosstrack.config import load_settings  # noqa: E402
from crosstrack.engine import Engine  # noqa: E402
from loaders.extract import COLUMNS  # noqa: E402
from loaders.generate import generate_extracts  # noqa: E402
from loaders.pipeline import run_load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--memory", action="store_true", help="use chdb://memory instead of an on-disk engine")
    args = ap.parse_args()
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="crosstrack-bench-") as tmp:
        tmpd = Path(tmp)
        url = "chdb://memory" if args.memory else f"chdb://{(tmpd / 'chdb').as_posix()}"
        settings = load_settings(clickhouse_url=url, data_dir=tmpd / "data", person_key_secret="bench")
        out = tmpd / "extract"
        t0 = time.perf_counter()
        counts = generate_extracts(out, seed=args.seed, scale=args.scale, fmt="csv", years=settings.snapshot_years,
                                   console=None)
        t_gen = time.perf_counter() - t0
        rows = sum(counts.values())
        size = sum(p.stat().st_size for p in out.iterdir())

        engine = Engine.from_settings(settings)
        engine.command("CREATE DATABASE IF NOT EXISTS bench_raw")
        t0 = time.perf_counter()
        for name, cols in COLUMNS.items():
            body = ", ".join(f"`{c}` String" for c in cols)
            engine.command(f"CREATE TABLE bench_raw.`{name}` ({body}) ENGINE = MergeTree ORDER BY tuple()")
            # benchmark only: the path is our own temporary file, not user input
            engine.command(f"INSERT INTO bench_raw.`{name}` SELECT * FROM file('{(out / (name + '.csv')).as_posix()}', "
                           f"CSVWithNames, '{body.replace('`', '')}')")
        t_raw = time.perf_counter() - t0
        engine.command("DROP DATABASE bench_raw SYNC")

        t0 = time.perf_counter()
        rc = run_load(settings, out, console=Console(stderr=True, quiet=True))
        t_load = time.perf_counter() - t0
        assert rc == 0, f"load failed ({rc})"

    console.print(f"scale {args.scale:g}: {rows:,} raw rows, {size / 1e6:,.0f} MB of CSV")
    console.print(f"generate: {t_gen:.1f} s ({rows / t_gen:,.0f} rows/s)")
    console.print(f"chDB raw ingest (INSERT ... SELECT FROM file()): {t_raw:.1f} s ({rows / t_raw:,.0f} rows/s)")
    console.print(f"crosstrack load (read, validate, facts, check, publish): {t_load:.1f} s ({rows / t_load:,.0f} rows/s)")
    console.print(f"ratio load / raw ingest: {t_load / t_raw:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()

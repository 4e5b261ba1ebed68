"""Read benchmark (issue 18): per table, chDB's own reader (what ``loaders.extract.stage_file`` uses)
against pyarrow staging (pyarrow's streaming CSV reader or ParquetFile batches, inserted as Arrow),
alternated, medians. The loader keeps whichever is faster per table; on this machine chDB's was
faster for every table in both formats (numbers in the issue-18 note).

    .venv/bin/python benchmarks/bench_read.py EXTRACT_DIR [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pacsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from crosstrack.config import load_settings  # noqa: E402
from crosstrack.engine import Engine  # noqa: E402
from crosstrack.loaders.extract import COLUMNS, find_files, raw_table_ddl, stage_file  # noqa: E402


def pyarrow_stage(engine: Engine, db: str, table: str, path: Path) -> None:
    """The pyarrow staging the loader used before issue 18 (streaming blocks, inserted as Arrow)."""
    engine.command(raw_table_ddl(db, table))
    if path.suffix == ".parquet":
        batches = (pa.Table.from_batches([b]) for b in pq.ParquetFile(path).iter_batches(batch_size=1 << 20))
    else:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24, use_threads=True),
                                convert_options=pacsv.ConvertOptions(
                                    column_types={c: pa.string() for c in COLUMNS[table]}, strings_can_be_null=False,
                                    quoted_strings_can_be_null=False, null_values=[], check_utf8=True))
        batches = (pa.Table.from_batches([b]) for b in reader)
    offset = 0
    for t in batches:
        cols = [t.column(c).cast(pa.string()).fill_null("") for c in COLUMNS[table]]
        rows = pa.array(np.arange(offset + 1, offset + t.num_rows + 1, dtype=np.uint64))
        engine.insert_arrow(f"raw_{table}", pa.Table.from_arrays(cols + [rows], names=COLUMNS[table] + ["_row"]),
                            database=db)
        offset += t.num_rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("extract", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="crosstrack-read-", ignore_cleanup_errors=True) as tmp:
        settings = load_settings(clickhouse_url=f"chdb://{tmp}/chdb", data_dir=Path(tmp) / "data",
                                 person_key_secret="bench")
        engine = Engine.from_settings(settings)
        engine.command("CREATE DATABASE bench_read")
        for table, path in find_files(args.extract).items():
            arrow_s, native_s = [], []
            for _ in range(max(1, args.repeat)):
                for runs, read in ((arrow_s, pyarrow_stage), (native_s, stage_file)):
                    engine.command(f"DROP TABLE IF EXISTS bench_read.raw_{table}")
                    t0 = time.perf_counter()
                    read(engine, "bench_read", table, path)
                    runs.append(time.perf_counter() - t0)
            a, b = statistics.median(arrow_s), statistics.median(native_s)
            print(f"{path.name:26s} pyarrow {a:6.2f} s   chDB file() {b:6.2f} s   {a / b:4.1f}x   "
                  f"faster: {'chDB' if b < a else 'pyarrow'}")


if __name__ == "__main__":
    main()

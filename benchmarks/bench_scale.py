"""Benchmark (d): the top questions at 1x, 10x and 100x scale — how latency and memory grow.

For each scale a child process owns that scale's chDB data dir (generated and loaded on first
use, with the model's rollups) and answers the dashboard's top questions through
``Service.answer`` with the cache off: the first (cold) time, then the median of a few repeats,
with and without rollups. It reports rows, on-disk size, load time, peak memory of the load,
and the answering process's memory before and after. Ratios to 1x are printed side by side.

    .venv/bin/python benchmarks/bench_scale.py [--scales 1,10,100] [--repeats 5]

100x needs about 17 GB of memory just to generate (24 GB machine); pass the scales that fit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PY, ROOT, TOP_QUERIES, dataset, dataset_info, env_for, median  # noqa: E402


def _du_mb(path: Path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total / 2**20


def _measure(repeats: int) -> None:
    """Child: answer the top questions on this process's data dir; print one JSON line."""
    from urllib.parse import parse_qsl

    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service
    from benchmarks._support import hwm_mb, rss_mb
    from crosstrack.config import get_settings

    settings = get_settings()
    pid = os.getpid()
    rss0 = rss_mb(pid)
    service = build_service(settings, cache=ResultCache(0))  # no cache: every answer is computed
    version = service.version()
    rss_open = rss_mb(pid)
    out = []
    for ds, qs in TOP_QUERIES:
        items = parse_qsl(qs)
        row = {"question": f"{ds}?{qs}"}
        for mode in ("rollups", "raw"):
            service.query_engine.use_rollups = mode == "rollups"
            t0 = time.perf_counter()
            service.answer(ds, items, version=version)
            cold = (time.perf_counter() - t0) * 1000
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                service.answer(ds, items, version=version)
                times.append((time.perf_counter() - t0) * 1000)
            row[f"{mode}_cold_ms"] = round(cold, 2)
            row[f"{mode}_ms"] = round(median(times), 2)
        out.append(row)
    print(json.dumps({"rss_start_mb": round(rss0), "rss_engine_open_mb": round(rss_open),
                      "rss_end_mb": round(rss_mb(pid)), "peak_rss_mb": round(hwm_mb(pid)), "questions": out}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", default="1,10,100")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    results = {}
    for scale in [float(s) for s in args.scales.split(",")]:
        t0 = time.perf_counter()
        try:
            _, data = dataset(scale)
        except SystemExit as err:
            print(f"scale {scale:g}: could not prepare ({str(err)[:300]})")
            continue
        info = dataset_info(scale)
        run = subprocess.run([PY, "-m", "benchmarks.bench_scale", "--child", str(args.repeats)], cwd=ROOT,
                             env=env_for(data), capture_output=True, text=True)
        if run.returncode != 0:
            print(f"scale {scale:g}: measuring failed: {run.stderr[-2000:]}")
            continue
        res = json.loads(run.stdout.strip().splitlines()[-1])
        res["info"] = info
        res["disk_mb"] = round(_du_mb(data / "chdb"))
        res["wall_s"] = round(time.perf_counter() - t0, 1)
        results[scale] = res
        rows = sum(info["row_counts"].values())
        print(f"scale {scale:g}: {rows:,} fact rows ({info['row_counts']}), {res['disk_mb']} MB on disk, "
              f"generate {info.get('generate_s', '-')} s, load {info.get('load_s')} s (load peak RSS "
              f"{info.get('peak_rss_mb')} MB); answering process RSS {res['rss_start_mb']} -> "
              f"{res['rss_engine_open_mb']} (engine open) -> {res['rss_end_mb']} MB, peak {res['peak_rss_mb']} MB")
    if not results:
        return
    scales = sorted(results)
    base = scales[0]
    print()
    head = f"{'question':<58}" + "".join(f"{f'x{s:g} roll/raw ms':>22}" for s in scales)
    head += "".join(f"{f'x{s:g}/x{base:g}':>10}" for s in scales[1:])
    print(head)
    for i, (ds, qs) in enumerate(TOP_QUERIES):
        line = f"{(ds + '?' + qs)[:58]:<58}"
        for s in scales:
            q = results[s]["questions"][i]
            line += f"{q['rollups_ms']:>11.1f}/{q['raw_ms']:<10.1f}"
        b = results[base]["questions"][i]
        for s in scales[1:]:
            q = results[s]["questions"][i]
            line += f"{q['rollups_ms'] / b['rollups_ms']:>9.1f}x"
        print(line)
    tot = {s: sum(q["rollups_ms"] for q in results[s]["questions"]) for s in scales}
    raw = {s: sum(q["raw_ms"] for q in results[s]["questions"]) for s in scales}
    print("RESULT (d) sum of top-question medians (rollups / raw facts): "
          + "; ".join(f"x{s:g} {tot[s]:.1f} / {raw[s]:.1f} ms" for s in scales)
          + "; memory peak of the answering process: "
          + "; ".join(f"x{s:g} {results[s]['peak_rss_mb']} MB" for s in scales))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _measure(int(sys.argv[2]))
    else:
        main()

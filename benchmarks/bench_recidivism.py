"""Benchmark: the recidivism dashboard's questions (docs/recidivism.md) at 1x and 10x.

The Cross-Tracking recidivism dashboard shows the three measures over one, two and three years
by release year, race/ethnicity, gender and age; these are those questions (plus programs and
agencies, and a multi-code filter that takes the lattice path), answered through
``Service.answer`` with the cache off, in a child process that owns the scale's chDB data dir
(``benchmarks._support.dataset``: generated with seed 1 and loaded with the model's rollups).
For each question: the first (cold) time and the median of the repeats.

    .venv/bin/python benchmarks/bench_recidivism.py [--scales 1,10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PY, ROOT, dataset, dataset_info, env_for, median  # noqa: E402

RATES = ",".join(f"{e}_rate_{w}y" for e in ("reincarceration", "rearraignment", "reconviction") for w in (1, 2, 3))
COUNTS = ",".join(["released"] + [f"followed_{w}y" for w in (1, 2, 3)])
QUESTIONS: list[str] = [
    f"dimensions=release_year&measures={COUNTS},{RATES}",                      # the dashboard's headline
    "dimensions=release_year&measures=followed_3y,reincarcerated_3y,reincarceration_rate_3y",  # the journalist's chart
    f"dimensions=release_year,race,ethnicity&measures={RATES}",
    f"dimensions=release_year,assigned_sex,gender_identity&measures={RATES}",
    f"dimensions=release_year,age_group&measures={RATES}",
    f"dimensions=release_year,program_any,age_group&measures={RATES}",
    f"dimensions=release_year,agency&measures={COUNTS},{RATES}",
    f"dimensions=release_year,governing_offense_type,stay_band&measures={RATES}",
    f"dimensions=release_year&agency=DOC,SUF,MID&race=B,W&measures={COUNTS},{RATES}",  # multi-code: lattice sums
]


def _measure(repeats: int) -> None:
    """Child: answer every question on this process's data dir; print one JSON line."""
    from urllib.parse import parse_qsl

    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service
    from crosstrack.config import get_settings

    service = build_service(get_settings(), cache=ResultCache(0))  # no cache: every answer is computed
    version = service.version()
    out = []
    for qs in QUESTIONS:
        items = parse_qsl(qs)
        t0 = time.perf_counter()
        res = service.answer("recidivism", items, version=version)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            service.answer("recidivism", items, version=version)
            warm.append(time.perf_counter() - t0)
        out.append({"question": qs, "rows": res.total_rows, "cold_ms": round(cold * 1000, 1),
                    "median_ms": round(median(warm) * 1000, 1)})
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scales", default="1,10")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _measure(args.repeats)
        return
    results = {}
    for scale in (float(s) for s in args.scales.split(",")):
        _, data = dataset(scale)
        info = dataset_info(scale)
        p = subprocess.run([PY, "-m", "benchmarks.bench_recidivism", "--child", "--repeats", str(args.repeats)],
                           cwd=ROOT, env=env_for(data), capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(p.stderr[-3000:])
        rows = json.loads(p.stdout.strip().splitlines()[-1])
        results[scale] = rows
        print(f"\nscale {scale:g}x: releases {info['row_counts'].get('release_facts', 0):,}, "
              f"load {info.get('load_s')} s")
        print(f"{'cold ms':>9} {'median ms':>10} {'rows':>6}  question")
        for r in rows:
            print(f"{r['cold_ms']:>9} {r['median_ms']:>10} {r['rows']:>6}  {r['question'][:110]}")
        slow = max(rows, key=lambda r: r["median_ms"])
        print(f"slowest (median): {slow['median_ms']} ms  {slow['question'][:90]}")


if __name__ == "__main__":
    main()

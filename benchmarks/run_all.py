"""Every figure of issue 18 in one run, each target beside its result with PASS or MISS.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only cold,cached,load,concurrency,dashboard]

Each row runs the project's own benchmark script (in a child process: each owns a chDB path)
and reads its figures back: medians of alternated runs, ratios taken within one run.

| row          | script                | compares                                                   |
| cold         | bench_api.py (1x)     | each of 9 questions: API round trip / the same SQL on chDB |
|              | cold_floor.py (1x)    | the same from servers that only run the SQL (the floor)     |
| cached       | bench_cached.py (1x)  | cached answers / a bare FastAPI endpoint, same bytes        |
| load         | bench_load.load_ratio | crosstrack load / chDB's own ingest of the same CSV files  |
|              | load_parts.load_parts | read, writing the facts, the rules: each / raw ingest       |
| concurrency  | bench_concurrency.py  | 8 client threads / 1, and the server's CPU use             |
| dashboard    | bench_dashboard.py    | R13 and security level x gender identity, p95 (100x)       |

``--quick`` (within 15 minutes on the 2-core machine) uses fewer rounds, and the 1x and 10x
data only: the dashboard row is then measured at 10x and says so (a stand-in, not the 100x
figure). The full run's dashboard row uses the 10x custody facts ten times over with new keys
per copy (generating 100x needs ~17 GB of memory); ``--generated-100x`` uses a generated set. Data sets are generated and loaded on first use (benchmarks/_support.py);
the machine's load average is printed with the results, as shared machines move every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PY, ROOT, median, refresh_rollups  # noqa: E402

ROWS = ("cold", "cached", "load", "concurrency", "dashboard")


def _run(script: str, args: list[str], out: Path) -> dict:
    """Run ``benchmarks/<script>`` with ``--json out``; its own report goes to this terminal."""
    cmd = [PY, str(ROOT / "benchmarks" / script), *args, "--json", str(out)]
    print(f"\n$ {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT)
    if res.returncode != 0 or not out.exists():
        raise RuntimeError(f"{script} failed (exit {res.returncode})")
    data = json.loads(out.read_text())
    data["_seconds"] = round(time.perf_counter() - t0, 1)
    return data


def _run_code(imports: str, call: str, out: Path) -> dict:
    """``call`` (a JSON-able value) in a child process (each benchmark owns its chDB paths)."""
    code = f"import dataclasses, json, sys; {imports}; open(sys.argv[1], 'w').write(json.dumps({call}))"
    print(f"\n$ {call}", flush=True)
    res = subprocess.run([PY, "-c", code, str(out)], cwd=ROOT)
    if res.returncode != 0 or not out.exists():
        raise RuntimeError(f"{call} failed (exit {res.returncode})")
    return json.loads(out.read_text())


def cold(quick: bool, tmp: Path) -> tuple[str, str, bool, str]:
    """bench_api's ratios, then cold_floor.py's: the same stack answering with no crosstrack work."""
    d = _run("bench_api.py", ["--scale", "1", "--rounds", "9" if quick else "21"], tmp / "cold.json")
    ratios = [q["api_ms"] / q["sql_ms"] for q in d["questions"]]
    worst = max(ratios)
    total = sum(q["api_ms"] for q in d["questions"]) / sum(q["sql_ms"] for q in d["questions"])
    f = _run("cold_floor.py", ["--scale", "1", "--rounds", "30" if quick else "80"], tmp / "cold_floor.json")
    detail = "per question " + ", ".join(f"{r:.2f}" for r in ratios) + f"; sum {total:.2f}x"
    for server in ("bare, worker", "raw, worker", "thread"):  # cold_floor.py: the SQL and HTTP, nothing else
        floor = [q[f"{server}_ms"] / q["SQL_ms"] for q in f["questions"]]
        detail += (f"; floor {server} {min(floor):.2f}-{max(floor):.2f}x, above 1.15x on "
                   f"{sum(r > 1.15 for r in floor)} of {len(floor)}")
    return "<= 1.15x each of 9", f"worst {worst:.2f}x", worst <= 1.15, detail


def cached(quick: bool, tmp: Path) -> tuple[str, str, bool, str]:
    d = _run("bench_cached.py", ["--rounds", "5" if quick else "9", "--seconds", "3" if quick else "5"],
             tmp / "cached.json")
    real = median([r["rps"] for r in d["real"]])
    bare = median([r["rps"] for r in d["bare"]])
    share = real / bare
    return ">= 75%", f"{share:.0%}", share >= 0.75, f"{real:,.0f} vs {bare:,.0f} req/s (medians of alternated rounds)"


def load(quick: bool, tmp: Path) -> tuple[str, str, bool, str]:
    """bench_load.load_ratio (the loaders' own figure) in a child process (it opens its own chDB
    paths), then every rollup rebuilt on the 10x data set: the rollup build's share of a load."""
    d = _run_code("from benchmarks.bench_load import load_ratio",
                  f"dataclasses.asdict(load_ratio(scale=10.0, repeat={3 if quick else 5}))", tmp / "load.json")
    rollups = refresh_rollups(10.0, rebuild=True)
    ld = median(d["load_s"])
    built = sum(rollups.values())
    detail = (f"{ld:.1f} s vs {median(d['raw_s']):.1f} s (medians); "
              + ", ".join(f"{k} {v:.1f}" for k, v in d["phases"].items())
              + f"; rollups {built:.1f} s = {built / (ld + built):.0%} of load + rollups ("
              + ", ".join(f"{t.split('__')[-1]} {s:.1f}" for t, s in rollups.items()) + ")")
    f = _run_code("from benchmarks.load_parts import load_parts", f"load_parts(scale=10.0, repeat={3 if quick else 5})",
                  tmp / "load_parts.json")["medians"]
    raw = f["raw ingest"]
    detail += (f"; parts (load_parts.py, x raw ingest): read {f['read'] / raw:.2f}, writing the finished facts "
               f"{f['write'] / raw:.2f}, validation and rules {f['rules'] / raw:.2f} (a 2x load leaves them "
               f"{f['rules budget'] / raw:.2f}); {f['in engine'] / f['load']:.0%} of the load inside engine "
               f"statements, {f['cores in statements']:.2f} cores of process CPU meanwhile")
    return "<= 2x", f"{d['ratio']:.2f}x", d["ratio"] <= 2.0, detail


def concurrency(quick: bool, tmp: Path) -> tuple[str, str, bool, str]:
    d = _run("bench_concurrency.py", ["--scale", "10", "--rounds", "3", "--seconds", "4" if quick else "8"],
             tmp / "concurrency.json")
    m = d["medians"]
    one, eight = m["1"], m["8"]
    speedup = eight["rps"] / one["rps"]
    ok = speedup >= 1.5 and eight["server_cores_busy"] >= 0.8
    detail = "; ".join(f"{n} thr {r['rps']:.0f} req/s, server CPU {r['server_cores_busy']:.0%}, machine "
                       f"{r['machine_busy']:.0%}" for n, r in m.items())
    return ">= 1.5x and >= 80% CPU", f"{speedup:.2f}x, {eight['server_cores_busy']:.0%}", ok, detail


def dashboard(quick: bool, tmp: Path, generated_100x: bool = False) -> tuple[str, str, bool, str]:
    if quick:
        args, where = ["--scale", "10"], "at x10 (quick: not the 100x figure)"
    elif generated_100x:
        args, where = ["--scale", "100"], "at x100 (generated)"
    else:  # generating 100x takes ~17 GB; the x10 custody facts ten times over, new keys per copy
        args, where = ["--scale", "10", "--replicate", "10"], "at x100 (x10 custody facts 10 times over)"
    d = _run("bench_dashboard.py", [*args, "--repeats", "30" if quick else "60"], tmp / "dashboard.json")
    worst = max(m["rollups"] for m in d["p95_ms"].values())
    detail = where + "; " + "; ".join(
        f"{q.split('?')[0]} {m['rollups']:.1f} ms (facts only {m['facts']:.1f})" for q, m in d["p95_ms"].items())
    return "< 50 ms p95", f"{worst:.1f} ms", worst < 50, detail


LABELS = {"cold": "cold API / same SQL on chDB (1x)", "cached": "cached / bare FastAPI, same bytes",
          "load": "load / chDB's own ingest (10x)", "concurrency": "8 client threads vs 1 (cold)",
          "dashboard": "dashboard questions, no old rollup"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, 1x and 10x data only (< 15 min)")
    ap.add_argument("--only", default=",".join(ROWS), help="comma-separated rows to run")
    ap.add_argument("--generated-100x", action="store_true",
                    help="dashboard row on a generated 100x data set (needs ~17 GB to generate) instead of "
                         "the 10x custody facts replicated ten times")
    args = ap.parse_args()
    rows = [r for r in args.only.split(",") if r]
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    results: dict[str, tuple[str, str, bool, str]] = {}
    with tempfile.TemporaryDirectory(prefix="crosstrack-run-all-") as tmp:
        for row in rows:
            try:
                if row == "dashboard":
                    results[row] = dashboard(args.quick, Path(tmp), args.generated_100x)
                else:
                    results[row] = globals()[row](args.quick, Path(tmp))
            except (RuntimeError, SystemExit) as err:
                results[row] = ("", "failed", False, str(err)[:300])
    load1 = os.getloadavg()
    print(f"\nissue 18, {'quick' if args.quick else 'full'} run, {time.perf_counter() - t0:.0f} s; "
          f"{os.cpu_count()} cores; load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end")
    print(f"{'figure':<36} {'target':<24} {'result':<18} verdict")
    for row, (target, result, ok, _) in results.items():
        print(f"{LABELS[row]:<36} {target:<24} {result:<18} {'PASS' if ok else 'MISS'}")
    for row, (_, _, _, detail) in results.items():
        print(f"  {row}: {detail}")


if __name__ == "__main__":
    main()

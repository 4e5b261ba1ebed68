"""Benchmark (f): the dashboard's questions that had no rollup (R13 governing offense; security
level x gender identity) at a large scale — p95 latency of computed answers, with and without
rollups. Target at 100x: < 50 ms p95 with rollups.

A child process owns the scale's data dir (its missing rollups are built first) and answers the
two questions through ``Service.answer`` with no result cache, alternating questions and modes
(rollups on / off) every repeat.

    .venv/bin/python benchmarks/bench_dashboard.py [--scale 100] [--repeats 40]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PY, ROOT, TOP_QUERIES, dataset, env_for, refresh_rollups  # noqa: E402

QUESTIONS = [TOP_QUERIES[7], TOP_QUERIES[8]]  # R13 governing offense type; security level x gender identity


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * 0.95))] if xs else float("nan")


def _measure(repeats: int) -> None:
    """Child: one JSON line: per question and mode (rollups / facts) the times in ms, rows answered."""
    from urllib.parse import parse_qsl

    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service
    from crosstrack.config import get_settings

    service = build_service(get_settings(), cache=ResultCache(0))  # no result cache: every answer is computed
    version = service.version()
    qe = service.query_engine
    times: dict[str, dict[str, list[float]]] = {f"{d}?{q}": {"rollups": [], "facts": []} for d, q in QUESTIONS}
    for i in range(repeats + 2):
        for mode in ("rollups", "facts"):
            qe.use_rollups = mode == "rollups"
            for ds, qs in QUESTIONS:
                t0 = time.perf_counter()
                service.answer(ds, parse_qsl(qs), version=version)
                if i >= 2:  # the first two are warm-up (plans, code lists, page cache)
                    times[f"{ds}?{qs}"][mode].append((time.perf_counter() - t0) * 1000)
    qe.use_rollups = True
    rows = {f"{ds}?{qs}": service.answer(ds, parse_qsl(qs), version=version).total_rows for ds, qs in QUESTIONS}
    print(json.dumps({"times": times, "rows": rows, "tables": sorted(qe.rollup_tables(version.database))}))


def _replicate(times: int) -> None:
    """Child (owns a copy of a loaded data dir): custody_facts ``times`` over, each copy with new
    person and record keys (so people, cell keys and medians grow as with more people), then the
    dashboard's two rollups rebuilt from them; the other rollups are dropped (not asked here)."""
    from crosstrack import cube
    from crosstrack.config import get_settings
    from crosstrack.cube.rollups import _table_sql, final_value_types, rollup_ddl
    from crosstrack.engine import Engine
    from crosstrack.loaders.publish import current_version

    settings = get_settings()
    engine = Engine.from_settings(settings)
    model = cube.load_model(settings.models_dir)
    db = current_version(engine, settings).database
    facts = _table_sql(db, "custody_facts")
    # benchmark only: the statements name our own tables and columns, no input is pasted
    types = dict(engine.query(f"SELECT name, type FROM system.columns WHERE database = '{db}' "
                              "AND table = 'custody_facts'").rows)
    keys = [c for c in ("person_key", "record_key", "row_key", "enrollment_key") if c in types]
    repl = ", ".join(f"CAST(sipHash64({c}, n.number) % {2 ** 32 if '32' in types[c] else 2 ** 63} AS {types[c]}) "
                     f"AS {c}" for c in keys)
    t0 = time.perf_counter()
    with engine.background({"max_threads": 2}):
        # one statement reads the facts as they were: copies 1 .. times-1, each with its own keys
        engine.command(f"INSERT INTO {facts} SELECT f.* REPLACE ({repl}) FROM {facts} AS f "
                       f"CROSS JOIN numbers(1, {times - 1}) AS n")
    rows = engine.scalar(f"SELECT count() FROM {facts}")
    t_copy = time.perf_counter() - t0
    built = {}
    for table, stmts in rollup_ddl(model, db, final_value_types(engine, model, db)):
        engine.command(f"DROP TABLE IF EXISTS {_table_sql(db, table)}")
        if table not in ("custody_snapshot__by_security", "custody_snapshot__by_governing_offense"):
            continue
        t0 = time.perf_counter()
        for sql in stmts:
            engine.command(sql)
        built[table] = round(time.perf_counter() - t0, 2)
    print(json.dumps({"custody_rows": rows, "copy_s": round(t_copy, 1), "rollups_s": built}))


def replicated(scale: float, times: int) -> tuple[Path, dict]:
    """A data dir with ``times`` x the custody facts of ``scale`` (made once, kept beside it)."""
    extracts, data = dataset(scale)
    target = data.parent / f"data-x{scale * times:g}-replicated"
    marker = target / "replicated.json"
    if not marker.exists():
        shutil.rmtree(target, ignore_errors=True)
        # a chDB folder cannot be copied (its tables link into it by absolute path): load afresh
        run = subprocess.run([PY, "-m", "benchmarks._support", "prepare", str(scale), str(extracts), str(target)],
                             cwd=ROOT, env=env_for(target), capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"loading x{scale:g} for replication failed:\n{run.stderr[-3000:]}")
        run = subprocess.run([PY, "-m", "benchmarks.bench_dashboard", "--replicate-child", str(times)], cwd=ROOT,
                             env=env_for(target), capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"replicating x{scale:g} {times} times failed:\n{run.stderr[-3000:]}")
        marker.write_text(run.stdout.strip().splitlines()[-1])
    return target, json.loads(marker.read_text())


def measure(scale: float, repeats: int, replicate: int = 0) -> dict:
    if replicate:
        data, info = replicated(scale, replicate)
        built: dict = info
    else:
        _, data = dataset(scale)
        built = refresh_rollups(scale)
    run = subprocess.run([PY, "-m", "benchmarks.bench_dashboard", "--child", str(repeats)], cwd=ROOT,
                         env=env_for(data), capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"bench_dashboard at scale {scale:g} failed:\n{run.stderr[-3000:]}")
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["rollups_built_s"] = built
    out["scale"] = scale * (replicate or 1)
    out["replicated"] = bool(replicate)
    out["p95_ms"] = {q: {m: p95(ms) for m, ms in modes.items()} for q, modes in out["times"].items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=100.0)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--replicate", type=int, default=0,
                    help="instead of a generated data set: --scale's custody facts this many times over, new keys "
                         "per copy (when generating 100x does not fit the machine's memory)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = measure(args.scale, args.repeats, args.replicate)
    label = f"x{out['scale']:g}" + (f" (x{args.scale:g} custody facts {args.replicate} times over)" if args.replicate else "")
    print(f"bench_dashboard: {label}, {args.repeats} repeats, no result cache"
          + (f"; rollups built now: {out['rollups_built_s']}" if out["rollups_built_s"] else ""))
    for q, modes in out["p95_ms"].items():
        print(f"  {q[:70]:<70} p95 with rollups {modes['rollups']:7.1f} ms, facts only {modes['facts']:7.1f} ms")
    worst = max(m["rollups"] for m in out["p95_ms"].values())
    print(f"RESULT (f) dashboard questions at {label}: worst p95 {worst:.1f} ms (target < 50 ms): "
          f"{'PASS' if worst < 50 else 'MISS'}")
    if args.json:
        args.json.write_text(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _measure(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "--replicate-child":
        _replicate(int(sys.argv[2]))
    else:
        main()

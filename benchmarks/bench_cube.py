"""Semantic-layer overhead: engine end-to-end vs the same SQL run directly on chDB, and rollups.

For each top dashboard query (benchmarks/_support.TOP_QUERIES, as Cube queries with the people
count and cell key the API asks for) this measures, on the published benchmark data set:

- ``direct``: the generated SQL text run with Engine.query (the floor: ClickHouse work + transfer);
- ``engine``: QueryEngine.load from a *fresh* QueryEngine (no caches: compile the tree, look up
  rollup tables, run, shape rows) with rollups off — the "cold" engine path; target <= 1.3x direct;
- ``rollup``: the same with rollups on (fresh engine: includes the lookup of rollup tables);
- ``warm+rollup``: one long-lived QueryEngine with rollups on (what the API runs).

Usage: python benchmarks/bench_cube.py [--scale 1] [--rounds 7]
Opens the data set's chDB path in this process (no server may hold it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import dataset, dataset_info  # noqa: E402

YEAR = 2024


def cube_queries() -> list[tuple[str, dict]]:
    def q(view, dims, measures=("people",), filters=()):
        return {"measures": [f"{view}.{m}" for m in measures] + [f"{view}.cell_key"],
                "dimensions": [f"{view}.{d}" for d in dims],
                "filters": [{"member": f"{view}.{m}", "operator": "equals", "values": [v]} for m, v in filters]}
    progs = ("record_count", "total_enrollments", "enrollments_beh", "enrollments_edu", "enrollments_sup",
             "enrollments_work", "enrollments_reinv", "enrollments_relig")
    y = ("snapshot_year", str(YEAR))
    return [
        ("population year x status", q("population", ["snapshot_year", "offender_status"])),
        ("population race x ethnicity", q("population", ["offender_status", "race", "ethnicity"], filters=[y])),
        ("population age x sex", q("population", ["offender_status", "age_group", "assigned_sex"], filters=[y])),
        ("custody agency x facility", q("custody", ["agency", "facility_type"], filters=[y])),
        ("time mean/median by agency", q("incarceration_time", ["snapshot_year", "agency"],
                                         ("people", "mean_days", "median_days"))),
        ("programs by status", q("programs", ["snapshot_year", "offender_status"], progs)),
        ("charges type x severity", q("charges", ["offense_type", "severity"], ("charges", "convictions", "people"),
                                      filters=[y])),
        ("governing offense (R13)", q("population", ["offender_status", "governing_offense_type"],
                                      filters=[("offender_status", "SENTENCED"), y])),
        ("custody security x gender (no rollup)", q("custody", ["agency", "security_level", "gender_identity"],
                                                    filters=[("snapshot_year", str(YEAR - 1))])),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    _, data = dataset(args.scale)
    info = dataset_info(args.scale)

    import cube
    from crosstrack.config import REPO_ROOT, load_settings
    from crosstrack.engine import Engine, render
    from cube.query import QueryEngine

    settings = load_settings(data_dir=data)
    engine = Engine.from_settings(settings)
    model = cube.load_model(REPO_ROOT / "models")
    db = info["database"]
    rows_out = []
    for name, query in cube_queries():
        sql = render(QueryEngine(model, engine, use_rollups=False).compile(query, database=db, internal=True))
        t_direct, t_engine, t_rollup, t_warm, first = [], [], [], [], {}
        warm = QueryEngine(model, engine)  # the API keeps one engine: rollup table list cached
        warm.load(query, database=db, internal=True)
        for i in range(args.rounds):
            # alternate the order so neither path always runs on warmer caches
            order = ("direct", "engine", "rollup", "warm") if i % 2 == 0 else ("warm", "rollup", "engine", "direct")
            for path in order:
                t0 = time.perf_counter()
                if path == "direct":
                    n = len(engine.query(sql).rows)
                elif path == "warm":
                    n = len(warm.load(query, database=db, internal=True).data)
                else:
                    res = QueryEngine(model, engine, use_rollups=(path == "rollup")).load(
                        query, database=db, internal=True)
                    n = len(res.data)
                    if path == "rollup":
                        first["rollup"] = res.used_rollup
                dt = (time.perf_counter() - t0) * 1000
                {"direct": t_direct, "engine": t_engine, "rollup": t_rollup, "warm": t_warm}[path].append(dt)
                first.setdefault(path + "_first_ms", round(dt, 2))
                first["rows"] = n
        d, e, r, wm = (statistics.median(x) for x in (t_direct, t_engine, t_rollup, t_warm))
        rows_out.append({"query": name, "rows": first["rows"], "direct_ms": round(d, 2), "engine_ms": round(e, 2),
                         "engine_vs_direct": round(e / d, 2), "rollup_ms": round(r, 2),
                         "rollup_speedup": round(e / r, 2), "warm_rollup_ms": round(wm, 2), "rollup": first.get("rollup"),
                         "first_direct_ms": first["direct_first_ms"], "first_engine_ms": first["engine_first_ms"]})
    w = max(len(r["query"]) for r in rows_out)
    print(f"scale {args.scale:g}: {info['row_counts']} in {db}; median of {args.rounds} rounds, ms")
    print(f"{'query':<{w}}  rows  direct  engine  ratio  rollup  speedup  warm+rollup  rollup table")
    for r in rows_out:
        print(f"{r['query']:<{w}}  {r['rows']:>4}  {r['direct_ms']:>6.1f}  {r['engine_ms']:>6.1f}  "
              f"{r['engine_vs_direct']:>5.2f}  {r['rollup_ms']:>6.1f}  {r['rollup_speedup']:>6.1f}x  "
              f"{r['warm_rollup_ms']:>11.1f}  {r['rollup'] or '-'}")
    tot_d = sum(r["direct_ms"] for r in rows_out)
    tot_e = sum(r["engine_ms"] for r in rows_out)
    tot_r = sum(r["rollup_ms"] for r in rows_out)
    print(f"total: direct {tot_d:.1f} ms, engine {tot_e:.1f} ms ({tot_e / tot_d:.2f}x, target <= 1.3x), "
          f"with rollups {tot_r:.1f} ms ({tot_e / tot_r:.1f}x faster)")
    print(json.dumps({"scale": args.scale, "results": rows_out}))


if __name__ == "__main__":
    main()

"""Semantic-layer overhead and rollups: per query, raw facts vs rollup, each against its SQL on chDB.

For each top dashboard query (benchmarks/_support.TOP_QUERIES, as Cube queries with the people
count and cell key the API asks for) this measures, on the published benchmark data set:

- ``sql raw``: the SQL the engine generates over the facts, run directly with Engine.query (the
  floor: ClickHouse work + transfer);
- ``engine raw``: QueryEngine.load from a *fresh* QueryEngine (no caches: compile the tree, run,
  shape rows) with rollups off — the "cold" engine path; ``ratio`` = engine raw / sql raw
  (target <= 1.3x);
- ``sql rollup``: the SQL the engine generates when rollups are on, run directly;
- ``engine rollup``: one long-lived QueryEngine with rollups on (what the API runs; the rollup
  table list is cached per published database); ``vs sql`` = engine rollup / sql raw, i.e. the
  API's engine path against running the facts SQL by hand;
- ``cold rollup``: a fresh QueryEngine with rollups on (includes looking up the rollup tables);
- ``speedup`` = engine raw / engine rollup.
Rows with and without rollups are checked to be identical.

If the data set's rollup tables were built by another engine version or model (their columns do
not match), they are rebuilt first, in place.

Usage: python benchmarks/bench_cube.py [--scale 1] [--rounds 9]
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
        # more of the load test's mix (load-tests/locustfile.py)
        ("time median by age group", q("incarceration_time", ["age_group"], ("people", "mean_days", "median_days"),
                                       filters=[y])),
        ("charges by sub-type", q("charges", ["offense_subtype"], ("charges", "convictions", "people"), filters=[y])),
        ("race in (B, W) by age (small states)", {**q("population", ["offender_status", "age_group"], filters=[y]),
                                                   "filters": [{"member": "population.race", "operator": "equals",
                                                                "values": ["B", "W"]},
                                                               {"member": "population.snapshot_year",
                                                                "operator": "equals", "values": [str(YEAR)]}]}),
        ("programs by agency, all years", q("programs", ["agency"], progs)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    _, data = dataset(args.scale)
    info = dataset_info(args.scale)

    from crosstrack import cube
    from crosstrack.config import REPO_ROOT, load_settings
    from crosstrack.engine import Engine, render
    from crosstrack.cube.query import QueryEngine
    from crosstrack.cube.rollups import build_rollups

    settings = load_settings(data_dir=data)
    engine = Engine.from_settings(settings)
    model = cube.load_model(REPO_ROOT / "models")
    db = info["database"]
    declared = {pa.table for c in model.cubes.values() for pa in c.pre_aggregations.values()}
    if QueryEngine(model, engine).rollup_tables(db) != declared:
        t0 = time.perf_counter()
        build_rollups(engine, model, db)
        print(f"rebuilt rollups for this model in {time.perf_counter() - t0:.1f} s")
    rows_out = []
    for name, query in cube_queries():
        warm = QueryEngine(model, engine)  # the API keeps one engine: rollup table list cached
        sql_raw = render(QueryEngine(model, engine, use_rollups=False).compile(query, database=db, internal=True))
        sql_roll = render(warm.compile(query, database=db, internal=True))
        with_r = warm.load(query, database=db, internal=True)
        without = QueryEngine(model, engine, use_rollups=False).load(query, database=db, internal=True)
        assert with_r.data == without.data, f"{name}: rows differ with and without rollups"
        times: dict[str, list[float]] = {k: [] for k in ("sql_raw", "engine_raw", "sql_roll", "engine_roll", "cold_roll")}
        for i in range(args.rounds):
            order = list(times) if i % 2 == 0 else list(reversed(times))  # neither path always runs warmer
            for path in order:
                t0 = time.perf_counter()
                if path == "sql_raw":
                    engine.query(sql_raw)
                elif path == "sql_roll":
                    engine.query(sql_roll)
                elif path == "engine_roll":
                    warm.load(query, database=db, internal=True)
                else:
                    QueryEngine(model, engine, use_rollups=(path == "cold_roll")).load(query, database=db, internal=True)
                times[path].append((time.perf_counter() - t0) * 1000)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows_out.append({"query": name, "rows": len(with_r.data), "rollup": with_r.used_rollup,
                         **{f"{k}_ms": round(v, 2) for k, v in med.items()},
                         "engine_raw_vs_sql": round(med["engine_raw"] / med["sql_raw"], 2),
                         "engine_roll_vs_sql_raw": round(med["engine_roll"] / med["sql_raw"], 2),
                         "speedup": round(med["engine_raw"] / med["engine_roll"], 2)})
    w = max(len(r["query"]) for r in rows_out)
    print(f"scale {args.scale:g}: {info['row_counts']} in {db}; median of {args.rounds} rounds, ms")
    print(f"{'query':<{w}}  rows  sql raw  engine raw  ratio  sql rollup  engine rollup  vs sql  cold rollup  "
          f"speedup  rollup table")
    for r in rows_out:
        print(f"{r['query']:<{w}}  {r['rows']:>4}  {r['sql_raw_ms']:>7.2f}  {r['engine_raw_ms']:>10.2f}  "
              f"{r['engine_raw_vs_sql']:>5.2f}  {r['sql_roll_ms']:>10.2f}  {r['engine_roll_ms']:>13.2f}  "
              f"{r['engine_roll_vs_sql_raw']:>6.2f}  {r['cold_roll_ms']:>11.2f}  {r['speedup']:>6.1f}x  "
              f"{r['rollup'] or '-'}")
    tot = {k: sum(r[f"{k}_ms"] for r in rows_out) for k in ("sql_raw", "engine_raw", "sql_roll", "engine_roll",
                                                            "cold_roll")}
    print(f"total: sql raw {tot['sql_raw']:.1f} ms, engine raw {tot['engine_raw']:.1f} ms "
          f"({tot['engine_raw'] / tot['sql_raw']:.2f}x, target <= 1.3x); sql rollup {tot['sql_roll']:.1f} ms, "
          f"engine rollup {tot['engine_roll']:.1f} ms ({tot['engine_roll'] / tot['sql_raw']:.2f}x the raw SQL, "
          f"{tot['engine_raw'] / tot['engine_roll']:.1f}x faster than engine raw), cold rollup {tot['cold_roll']:.1f} ms")
    print(json.dumps({"scale": args.scale, "results": rows_out}))


if __name__ == "__main__":
    main()

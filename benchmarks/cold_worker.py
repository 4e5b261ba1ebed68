"""A cold answer with no HTTP at all: what the route's worker thread does, against its SQL alone.

bench_api's ratio includes the HTTP server; this one leaves it out. In one process (cache off,
every request computed), each of bench_api's nine questions is answered as the route's worker
answers it (version, parse, Service.answer, JSON; profile_cold.py's ``cold``) and its captured
SQL is run straight on the same engine, alternately, ``--rounds`` times. If the worker alone is
above 1.15x of the SQL, no HTTP server can bring the round trip under it.

"python" is the same worker with the engine's answers replayed from memory (no SQL run): the
worker's own Python in a tight loop. The worker minus the SQL is larger than that, because in a
real request the Python runs after the engine's query has been through the CPU's caches.

The parts are each timed on their own, on one question's real data (medians, ms): load = the
semantic-layer query (SQL and row shaping), protect = disclosure control of every engine row,
rows = ``lattice.published_rows`` (protect, the P1/K1 grid of every combination, sort), plan =
lattice plan, grid and engine query, json = the answer's bytes.

    .venv/bin/python benchmarks/cold_worker.py [--scale 1] [--rounds 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import TOP_QUERIES, captured_sql, dataset, env_for, median  # noqa: E402

TARGET = 1.15


def timed(fn: Callable[[], Any], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times) * 1000


@contextmanager
def replayed(engine: Any) -> Iterator[None]:
    """Within the block, ``engine.query`` answers each statement with the rows it returned the
    first time (run for real once), so what is left to time is the Python around it."""
    real_query, seen = engine.query, {}

    def replay(sql, parameters=None, settings=None):
        key = (str(sql), repr(parameters))
        if key not in seen:
            seen[key] = real_query(sql, parameters, settings)
        return seen[key]

    engine.query = replay
    try:
        yield
    finally:
        del engine.query  # back to the class's method


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=60)
    args = ap.parse_args()
    _, data = dataset(args.scale)
    os.environ.update(env_for(data, CROSSTRACK_CACHE_BYTES="0"))

    from crosstrack.api import formats, lattice
    from crosstrack.api.app import create_app
    from crosstrack.api.service import query_limits
    from crosstrack.config import get_settings

    service = create_app(get_settings()).state.service
    engine = service.engine
    print(f"cold_worker: scale {args.scale:g}, {args.rounds} alternated rounds, cache off (ms, medians)")
    print(f"{'question':44} {'worker':>7} {'SQL':>7} {'over':>6} {'x':>5} {'python':>6}   {'load':>6} {'protect':>7} "
          f"{'rows':>6} {'plan':>6} {'json':>6} {'engine rows':>11} {'grid':>5}")
    over_target = 0
    for ds_name, qs in TOP_QUERIES:
        items = parse_qsl(qs)

        def cold() -> bytes:  # the route's worker thread (api/app.py), as profile_cold.py runs it
            version = service.version()
            question = service.parse(ds_name, items, version=version)
            return formats.to_json(service.answer(ds_name, question, version=version))

        for _ in range(3):
            cold()
        with captured_sql(engine) as statements:
            cold()
        worker, sql = [], []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            cold()
            t1 = time.perf_counter()
            for statement in statements:
                engine.query(statement)
            t2 = time.perf_counter()
            worker.append(t1 - t0)
            sql.append(t2 - t1)
        w, s = median(worker) * 1000, median(sql) * 1000
        with replayed(engine):
            python = timed(cold, args.rounds)
        over_target += w / s > TARGET

        version = service.version()
        q = service.parse(ds_name, items, version=version)
        ds = service.dataset(ds_name)
        cells = lattice.plan(ds, q)
        extra = service.known_extra_codes(ds, version) or service.extra_codes(ds, version)
        limit = service.settings.query_max_result_rows
        grid = lattice.code_grid(ds, q, extra, limit)
        eq = lattice.engine_query(ds, q, cells, limit + 1)
        load = lambda: service.query_engine.load(eq, database=version.database,  # noqa: E731
                                                 settings=query_limits(service.settings), internal=True)
        result = load()
        protect = service.disclosure.protector(cells.rules)
        answer = service.answer(ds_name, q, version=version)
        n = max(args.rounds // 2, 10)
        parts = [timed(load, n), timed(lambda: [protect(r) for r in result.data], n),
                 timed(lambda: lattice.published_rows(ds, q, cells, result.data, grid, service.disclosure), n),
                 timed(lambda: (lattice.plan(ds, q), lattice.code_grid(ds, q, extra, limit),
                                lattice.engine_query(ds, q, cells, limit + 1)), n),
                 timed(lambda: formats.to_json(answer), n)]
        print(f"{ds_name + '?' + qs:44.44} {w:7.3f} {s:7.3f} {w - s:6.3f} {w / s:5.2f} {python:6.3f}   "
              + " ".join(f"{p:{width}.3f}" for p, width in zip(parts, (6, 7, 6, 6, 6)))
              + f" {len(result.data):11d} {len(grid.cells):5d}")
    print(f"RESULT worker alone, no HTTP: above {TARGET}x of its SQL on {over_target} of {len(TOP_QUERIES)}")


if __name__ == "__main__":
    main()

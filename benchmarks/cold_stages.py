"""Where one cold request's time goes, stage by stage, from the client's send to its last byte.

Serves the real app (cache off, every request computed) with uvicorn in a thread, run with the
options ``crosstrack serve`` uses, and times each of bench_api's nine questions with a
keep-alive socket client. Clocks are read at each hand-over: an outermost ASGI layer (request
in, last body byte out), the route handing the question to a worker thread (api/workers.py), the
worker's start and end, and every engine statement. All run in this one process, on one clock.

    .venv/bin/python benchmarks/cold_stages.py [--scale 1] [--rounds 50]

Columns (medians in ms): to ASGI = client send to the app's first line; routing = middleware and
FastAPI routing to the route; to worker / back = the thread hops either way; worker = parse,
version, disclosure, rows and JSON in the worker thread, beside SQL = the engine statements
(clickhouse-connect included); out = the response through the middleware; to client = the last
byte's way back. The ratio is bench_api's: round trip / SQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import TOP_QUERIES, dataset, env_for, median, serve_in_thread  # noqa: E402
from benchmarks.bench_api import RawClient  # noqa: E402

STAGES = ("to ASGI", "routing", "to worker", "worker", "SQL", "back", "out", "to client", "round trip")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=50)
    args = ap.parse_args()
    _, data = dataset(args.scale)
    os.environ.update(env_for(data, CROSSTRACK_CACHE_BYTES="0"))

    import crosstrack.api.app as app_module
    from crosstrack.api import workers
    from crosstrack.api.server import uvicorn_options
    from crosstrack.config import get_settings

    clock: dict[str, float] = {}

    def timed(fn):
        def run(*a: Any, **k: Any) -> Any:
            clock["worker in"] = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                clock["worker out"] = time.perf_counter()
        return run

    async def in_worker(fn, *a: Any, **k: Any) -> Any:
        clock["route"] = time.perf_counter()
        result = await workers.in_worker(timed(fn), *a, **k)
        clock["back"] = time.perf_counter()
        return result

    app_module.in_worker = in_worker  # create_app's route looks the name up at call time
    settings = get_settings()
    app = app_module.create_app(settings)
    engine = app.state.service.engine
    real_query = engine.query

    def query(sql, parameters=None, settings=None):
        t0 = time.perf_counter()
        try:
            return real_query(sql, parameters, settings)
        finally:
            clock["sql"] = clock.get("sql", 0.0) + time.perf_counter() - t0

    engine.query = query  # type: ignore[method-assign]

    async def outermost(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        clock["asgi in"] = time.perf_counter()

        async def last_byte(message):
            if message["type"] == "http.response.body" and not message.get("more_body"):
                clock["sent"] = time.perf_counter()
            await send(message)

        await app(scope, receive, last_byte)

    server, port = serve_in_thread(outermost, uvicorn_options(settings))
    client = RawClient(port)

    print(f"cold_stages: scale {args.scale:g}, {args.rounds} requests per question after 10 to warm up, "
          f"cache off; medians in ms")
    print(f"{'question':<50} " + " ".join(f"{s:>10}" for s in STAGES) + f" {'ratio':>6}")
    for ds, qs in TOP_QUERIES:
        path = f"/api/v1/{ds}?{qs}"
        seen: dict[str, list[float]] = {s: [] for s in STAGES}
        for i in range(args.rounds + 10):
            clock.clear()
            t0 = time.perf_counter()
            status = client.get(path)
            t1 = time.perf_counter()
            assert status == 200, (path, status)
            if i < 10:
                continue
            c = clock
            for stage, ms in zip(STAGES, (c["asgi in"] - t0, c["route"] - c["asgi in"], c["worker in"] - c["route"],
                                          c["worker out"] - c["worker in"] - c["sql"], c["sql"],
                                          c["back"] - c["worker out"], c["sent"] - c["back"], t1 - c["sent"], t1 - t0)):
                seen[stage].append(ms * 1000)
        m = {s: median(v) for s, v in seen.items()}
        print(f"{(ds + '?' + qs)[:50]:<50} " + " ".join(f"{m[s]:10.3f}" for s in STAGES)
              + f" {m['round trip'] / m['SQL']:6.2f}")
    server.should_exit = True


if __name__ == "__main__":
    main()

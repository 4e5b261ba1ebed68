"""Benchmark (b): cached answers from the real API vs a bare FastAPI endpoint returning the same bytes.

Two server processes with the same uvicorn options (uvloop, httptools, one process): the real
``crosstrack serve`` on the 1x data set (cache on, warmed with the questions) and
``benchmarks/bare_app.py`` returning the very bytes the real API served. The same keep-alive
client (asyncio, in this process) drives each in turn for a few rounds, alternating, with the
same connections and paths; the best round of each is printed, and benchmarks/run_all.py
compares the medians. Target: ≥ 75 % of the bare endpoint's throughput (issue 18).

    .venv/bin/python benchmarks/bench_cached.py [--seconds 5] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import (PY, TOP_QUERIES, crosstrack_server, dataset, env_for, free_port,  # noqa: E402
                                 server_process, throughput)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--json", type=Path, help="also write every round here (benchmarks/run_all.py)")
    args = ap.parse_args()
    _, data = dataset(args.scale)
    ds, qs = TOP_QUERIES[0]
    path = f"/api/v1/{ds}?{qs}"
    paths = [path]
    print(f"bench_cached: {args.connections} keep-alive connections, {args.rounds} x {args.seconds:g} s per server, "
          f"path {path}")
    with crosstrack_server(data) as real:
        with urllib.request.urlopen(real + path) as r:
            body, media = r.read(), r.headers["content-type"]
        for d, q in TOP_QUERIES:  # warm the cache
            urllib.request.urlopen(f"{real}/api/v1/{d}?{q}").read()
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            f.write(body)
        port = free_port()
        env = env_for(data, BARE_BODY_FILE=f.name, BARE_MEDIA_TYPE=media)
        bare_url = f"http://127.0.0.1:{port}"
        with server_process([PY, "-m", "uvicorn", "benchmarks.bare_app:app", "--host", "127.0.0.1", "--port",
                             str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                             "--log-level", "warning"], env, bare_url + "/healthz"):
            with urllib.request.urlopen(bare_url + path) as r:
                assert r.read() == body
            real_runs, bare_runs = [], []
            throughput(real, paths, connections=args.connections, seconds=1)  # warm up both
            throughput(bare_url, paths, connections=args.connections, seconds=1)
            for i in range(args.rounds):
                real_runs.append(throughput(real, paths, connections=args.connections, seconds=args.seconds))
                bare_runs.append(throughput(bare_url, paths, connections=args.connections, seconds=args.seconds))
                print(f"  round {i + 1}: cached API {real_runs[-1]['rps']:8.0f} req/s (p50 {real_runs[-1]['p50_ms']:.2f} ms,"
                      f" errors {real_runs[-1]['errors']})   bare {bare_runs[-1]['rps']:8.0f} req/s "
                      f"(p50 {bare_runs[-1]['p50_ms']:.2f} ms, errors {bare_runs[-1]['errors']})")
    if args.json:
        args.json.write_text(json.dumps({"real": real_runs, "bare": bare_runs, "body_bytes": len(body),
                                         "connections": args.connections, "seconds": args.seconds}))
    best_real = max(r["rps"] for r in real_runs)
    best_bare = max(r["rps"] for r in bare_runs)
    share = best_real / best_bare
    print(f"body {len(body)} bytes ({media})")
    print(f"RESULT (b) cached API {best_real:.0f} req/s / bare FastAPI {best_bare:.0f} req/s = {share:.0%} "
          f"(target >= 75%): {'PASS' if share >= 0.75 else 'MISS'}")


if __name__ == "__main__":
    main()

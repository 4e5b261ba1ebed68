"""Benchmark (e): distinct cold questions under concurrency — throughput and CPU use at 1, 2, 4
and 8 client threads.

``crosstrack serve --no-sql`` with the cache off (every request is computed: the engine's read
pool, max_threads split, disclosure, JSON) owns the data dir; client threads in this process
each keep one keep-alive connection and ask their own share of 72 distinct questions (the
dashboard's nine, once per snapshot year) in turn for ``--seconds``: no two clients ask the same
question, so the server's single flight never answers two requests with one query (with all
clients asking the same nine, 2,836 requests took 1,152 queries at 8 threads).
Thread counts are alternated within each round; medians over the rounds are reported. CPU use is
the server process's (all its threads, chDB's included) in cores busy out of the machine's, and
the whole machine's from /proc/stat (other work on a shared machine shows there).
Target: 8 threads keep both cores >= 80 % busy and reach >= 1.5x one thread's throughput.

    .venv/bin/python benchmarks/bench_concurrency.py [--scale 10] [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PY, TOP_QUERIES, dataset, env_for, free_port, median, server_process  # noqa: E402
from benchmarks.bench_api import RawClient  # noqa: E402

THREADS = (1, 2, 4, 8)
TICK = os.sysconf("SC_CLK_TCK")
YEARS = range(2017, 2025)


def distinct_questions() -> list[str]:
    """72 different questions: each dashboard question once per snapshot year (its year filter
    set to that year, or its years dimension limited to that year and later), so no two clients
    ever ask the same question at once and the server's single flight (api/cache.py) cannot
    answer two requests with one query: every request is a cold question of its own."""
    paths = []
    for ds, qs in TOP_QUERIES:
        for year in YEARS:
            if "snapshot_year=" in qs:
                variant = "&".join(f"snapshot_year={year}" if p.startswith("snapshot_year=") else p
                                   for p in qs.split("&"))
            elif year == YEARS[0]:
                variant = qs
            else:
                variant = qs + "&snapshot_year=" + ",".join(str(y) for y in range(year, YEARS[-1] + 1))
            paths.append(f"/api/v1/{ds}?{variant}")
    return paths


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot (/proc/stat)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def drive(port: int, threads: int, seconds: float) -> tuple[int, int, list[float]]:
    """(answered, errors, latencies) of ``threads`` clients asking the questions for ``seconds``:
    client ``i`` asks every ``threads``-th of :func:`distinct_questions` from the ``i``-th on, in
    turn, so the clients' questions never overlap."""
    questions = distinct_questions()
    counts = [0] * threads
    errors = [0] * threads
    lat: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def client(i: int) -> None:
        raw = RawClient(port)
        paths = questions[i::threads]
        j = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            status = raw.get(paths[j % len(paths)])
            lat[i].append(time.perf_counter() - t0)
            j += 1
            counts[i] += 1
            errors[i] += status != 200

    ts = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts), sum(errors), sorted(x for xs in lat for x in xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, help="also write the medians here (benchmarks/run_all.py)")
    ap.add_argument("--connections", type=int, default=0,
                    help="CROSSTRACK_ENGINE_CONNECTIONS for the server (0: the server's default)")
    args = ap.parse_args()
    _, data = dataset(args.scale)
    cores = os.cpu_count() or 1
    port = free_port()
    env = env_for(data, CROSSTRACK_PORT=str(port), CROSSTRACK_CACHE_BYTES="0",
                  **({"CROSSTRACK_ENGINE_CONNECTIONS": str(args.connections)} if args.connections else {}))
    url = f"http://127.0.0.1:{port}"
    runs: dict[int, list[dict]] = {n: [] for n in THREADS}
    with server_process([PY, "-m", "crosstrack", "serve", "--no-sql"], env, url + "/healthz") as proc:
        drive(port, 2, 2.0)  # warm-up: plans, code lists, every pooled connection opened
        for _ in range(args.rounds):
            for n in THREADS:
                cpu0, (busy0, tot0), t0 = process_cpu_s(proc.pid), machine_busy(), time.perf_counter()
                done, errors, lat = drive(port, n, args.seconds)
                wall = time.perf_counter() - t0
                cpu1, (busy1, tot1) = process_cpu_s(proc.pid), machine_busy()
                runs[n].append({"rps": done / wall, "errors": errors,
                                "server_cores_busy": (cpu1 - cpu0) / wall / cores,
                                "machine_busy": (busy1 - busy0) / max(1, tot1 - tot0),
                                "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
                                "p95_ms": lat[int(len(lat) * 0.95)] * 1000 if lat else 0.0})
    out = {n: {k: median([r[k] for r in rs]) for k in rs[0]} for n, rs in runs.items()}
    print(f"bench_concurrency: scale {args.scale:g}, cache off, {args.rounds} rounds x {args.seconds:g} s per "
          f"thread count (alternated), {cores} cores")
    print(f"{'threads':>7} {'req/s':>8} {'x 1 thread':>10} {'server CPU':>10} {'machine':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'errors':>6}")
    for n, r in out.items():
        print(f"{n:>7} {r['rps']:8.1f} {r['rps'] / out[1]['rps']:10.2f} {r['server_cores_busy']:10.0%} "
              f"{r['machine_busy']:8.0%} {r['p50_ms']:7.1f} {r['p95_ms']:7.1f} {r['errors']:6.0f}")
    eight = out[THREADS[-1]]
    ok = eight["server_cores_busy"] >= 0.8 and eight["rps"] >= 1.5 * out[1]["rps"]
    print(f"RESULT (e) 8 threads: {eight['rps'] / out[1]['rps']:.2f}x one thread's throughput, server keeps "
          f"{eight['server_cores_busy']:.0%} of the cores busy (target >= 1.5x and >= 80%): "
          f"{'PASS' if ok else 'MISS'}")
    if args.json:
        args.json.write_text(json.dumps({"scale": args.scale, "cores": cores, "medians": out, "runs": runs}))


if __name__ == "__main__":
    main()

"""Benchmark (c): the locust mix at 200 users on the 1x synthetic set.

The server runs in its own process (``crosstrack serve``: embedded engine, one process with
threads, uvloop + httptools, cache on); locust runs in another, headless, with thresholds.
Target: p95 < 50 ms and 0 errors (invalid requests that get their 4xx count as successes).

    .venv/bin/python benchmarks/bench_locust.py [--users 200] [--run-time 60s] [--max-p95-ms 50]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PY, ROOT, crosstrack_server, dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--spawn-rate", type=int, default=50)
    ap.add_argument("--run-time", default="60s")
    ap.add_argument("--max-p95-ms", type=float, default=50.0)
    ap.add_argument("--max-error-rate", type=float, default=0.0)
    args = ap.parse_args()
    _, data = dataset(args.scale)
    with crosstrack_server(data) as url:
        cmd = [PY, "-m", "locust", "-f", str(ROOT / "load-tests" / "locustfile.py"), "--headless", "--host", url,
               "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.run_time,
               "--only-summary", "--max-p95-ms", str(args.max_p95_ms), "--max-error-rate", str(args.max_error_rate)]
        print("$", " ".join(cmd))
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    out = run.stdout + run.stderr
    for line in out.splitlines():
        if re.search(r"Aggregated|crosstrack load test|THRESHOLD|thresholds passed|Name ", line):
            print(line)
    m = re.search(r"(\d+) requests, (\d+) failures .*p95 ([\d.]+) ms, p50 ([\d.]+) ms, ([\d.]+) req/s", out)
    if m:
        req, fail, p95, p50, rps = m.groups()
        print(f"RESULT (c) {args.users} users, {args.run_time}: {req} requests, {fail} failures, p50 {p50} ms, "
              f"p95 {p95} ms, {rps} req/s (target p95 < {args.max_p95_ms:g} ms, 0 errors): "
              f"{'PASS' if run.returncode == 0 else 'MISS'} (locust exit code {run.returncode})")
    else:
        print(out[-3000:])
    sys.exit(0)


if __name__ == "__main__":
    main()

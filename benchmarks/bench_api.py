"""Benchmark (a): a cold question through the HTTP API vs the same SQL straight on chDB.

One process owns the chDB path (embedded engine): it serves the real app (cache off, so every
request is computed: compile, query, disclosure control, JSON, HTTP; the published version is known
in process, api/versions.py) with
uvicorn in a thread, run with the options ``crosstrack serve`` uses (uvloop, the guarded httptools
protocol of api/httpguard.py), and runs the very SQL the API ran — captured from the
engine — directly on the same engine. Each question is timed alternately on both sides;
medians are compared. Target: API ≤ 1.15 × SQL on each question (issue 18).

    .venv/bin/python benchmarks/bench_api.py [--scale 1] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import TOP_QUERIES, captured_sql, dataset, env_for, median, serve_in_thread  # noqa: E402


def qs_items(qs: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(qs)


class RawClient:
    """A minimal keep-alive HTTP/1.1 GET client on one socket (no client-side framework work)."""

    def __init__(self, port: int):
        import socket

        # a server that stops answering fails the benchmark instead of hanging it
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, path: str) -> int:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        while len(rest) < length:
            rest += self.sock.recv(65536)
        self.buf = rest[length:]
        return int(head[9:12])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--json", type=Path, help="also write the per-question medians here (benchmarks/run_all.py)")
    args = ap.parse_args()

    _, data = dataset(args.scale)
    os.environ.update(env_for(data, CROSSTRACK_CACHE_BYTES="0"))

    import httpx

    from crosstrack.api.app import create_app
    from crosstrack.api.server import uvicorn_options
    from crosstrack.api.versions import published_version
    from crosstrack.config import get_settings
    from crosstrack.engine import Engine, query_limits

    settings = get_settings()
    app = create_app(settings)
    service = app.state.service
    engine: Engine = service.engine
    # the options `crosstrack serve` runs with: its read-time HTTP limits (api/httpguard.py), no
    # X-Forwarded-For trust
    options = uvicorn_options(settings)
    server, port = serve_in_thread(app, options)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    raw = RawClient(port)

    real_query = engine.query  # the SQL alone is timed without the capture around it
    limits = query_limits(settings)

    print(f"bench_api: scale {args.scale:g}, {args.rounds} rounds per question, API cache off "
          f"(CROSSTRACK_CACHE_BYTES=0), uvicorn loop={options['loop']} http={getattr(options['http'], '__name__', options['http'])}")
    version = service.version()
    rollup_tables = sorted(service.query_engine.rollup_tables(version.database))
    print(f"rollup tables in {version.database}: {', '.join(rollup_tables) or 'none'}")
    print(f"{'question':<62} {'rollup':<24} {'reads':>5} {'lookup':>7} {'answer':>7} {'httpx':>7} {'API ms':>7} "
          f"{'SQL ms':>7} {'ratio':>6}")
    tot_api, tot_sql, tot_httpx = [], [], []
    per_question: list[dict] = []
    with captured_sql(engine) as captured:  # the biggest statement is the question's own query
        for ds, qs in TOP_QUERIES:
            path = f"/api/v1/{ds}?{qs}"
            r = client.get(path)  # warm-up: parses, extra codes, engine caches
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
            captured.clear()
            client.get(path)
            sql = max(captured, key=len)
            # statements of one request that read the published-version pointer (0: known in process)
            reads = sum(1 for s in captured if "load_history" in s or "publish_log" in s or "system.tables" in s)
            rollup = next((t for t in rollup_tables if t in sql), "-")
            api_ms, sql_ms, ver_ms, ans_ms, httpx_ms = [], [], [], [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                r = client.get(path)
                httpx_ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200
                t0 = time.perf_counter()
                status = raw.get(path)
                api_ms.append((time.perf_counter() - t0) * 1000)
                assert status == 200
                t0 = time.perf_counter()
                real_query(sql, None, limits)
                sql_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                published_version(engine, settings)  # what reading the pointer would cost a request
                ver_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                service.answer(ds, qs_items(qs))  # in process, no HTTP (cache off: computed)
                ans_ms.append((time.perf_counter() - t0) * 1000)
            a, s = median(api_ms), median(sql_ms)
            tot_api.append(a)
            tot_sql.append(s)
            tot_httpx.append(median(httpx_ms))
            label = f"{ds}?{qs}"
            per_question.append({"question": label, "rollup": rollup, "api_ms": a, "sql_ms": s,
                                 "answer_ms": median(ans_ms), "version_ms": median(ver_ms), "version_reads": reads})
            print(f"{label[:62]:<62} {rollup[:24]:<24} {reads:5d} {median(ver_ms):7.2f} {median(ans_ms):7.2f} {median(httpx_ms):7.2f} {a:7.2f} {s:7.2f} "
                  f"{a / s:6.2f}")
    ratio = sum(tot_api) / sum(tot_sql)
    print(f"{'all questions (sum of medians)':<62} {'':<24} {'':>5} {'':>7} {'':>7} {sum(tot_httpx):7.2f} {sum(tot_api):7.2f} {sum(tot_sql):7.2f} "
          f"{ratio:6.2f}")
    print("columns: reads = statements one request spends reading the published-version pointer (api/versions.py: "
          "0, the process knows it); lookup = what one such read costs (loaders.publish.current_version); "
          "answer = Service.answer in process; httpx = HTTP round trip with httpx.Client; API = HTTP round trip "
          "with a minimal keep-alive socket client (no client framework); SQL = the captured SQL alone")
    print(f"with httpx as the client: {sum(tot_httpx) / sum(tot_sql):.2f}x")
    worst = max(q["api_ms"] / q["sql_ms"] for q in per_question)
    print(f"RESULT (a) cold API / straight chDB = {ratio:.2f}x over all, worst question {worst:.2f}x "
          f"(target <= 1.15x on each): {'PASS' if worst <= 1.15 else 'MISS'}")
    if args.json:
        args.json.write_text(json.dumps({"scale": args.scale, "rounds": args.rounds, "questions": per_question}))
    server.should_exit = True


if __name__ == "__main__":
    main()

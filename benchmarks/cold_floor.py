"""The floor under bench_api's cold ratio: HTTP and the thread hop alone, with no crosstrack work.

bench_api compares a cold API answer with the same SQL run straight on chDB (target: at most
1.15x on each of nine questions, issue 18). This script asks how close any server on the same
stack could come. Its servers know each question's SQL and its answer's bytes beforehand. Per
request they only run that SQL on the same engine and send the ready bytes: no routing, parsing,
compiling, disclosure control, row building or JSON.

* ``bare``: an ASGI app served by uvicorn with the options ``crosstrack serve`` uses.
* ``raw``: the least HTTP Python can do, an asyncio Protocol on uvloop that finds the path in
  the request and writes one prepared response (no ASGI, no HTTP parser), to show that the floor
  is not uvicorn's.

Each runs the SQL two ways:

* ``worker``: in a worker thread (api/workers.py), as every cold answer must, so that one slow
  question does not stop the event loop and the cached answers it serves.
* ``on loop``: on the event loop itself, with no thread hop. This is shown only to size the hop.
  A server that did this would stall every client behind each cold question.

Each question is timed alternately on the real API, the four floor servers and the SQL alone,
with a keep-alive socket client (bench_api's). All figures are medians in ms. When ``bare,
worker`` is above 1.15x on a question, no change to crosstrack's own code can bring that
question to the target on this stack. When ``raw, worker`` is too, no Python HTTP server can.

    .venv/bin/python benchmarks/cold_floor.py [--scale 1] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import TOP_QUERIES, dataset, env_for, free_port, median, serve_in_thread  # noqa: E402
from benchmarks.bench_api import RawClient  # noqa: E402

TARGET = 1.15  # issue 18: cold API at most 1.15x the same SQL on chDB, on each question
WARMUP = 10


def bare_app(answers: dict[str, tuple[str, bytes]], run_sql, in_worker, *, on_loop: bool):
    """An ASGI app answering each known path by running its SQL and sending its ready bytes."""
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        sql, body = answers[scope["path"] + "?" + scope["query_string"].decode()]
        if on_loop:
            run_sql(sql)
        else:
            await in_worker(run_sql, sql)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    return app


class RawProtocol(asyncio.Protocol):
    """One keep-alive connection of the ``raw`` server: GET lines in, prepared responses out."""

    def __init__(self, answers: dict[str, tuple[str, bytes]], run_sql, pool, on_loop: bool) -> None:
        self.answers, self.run_sql, self.pool, self.on_loop = answers, run_sql, pool, on_loop
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            sql, body = self.answers[head.split(b" ", 2)[1].decode()]
            response = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                        + str(len(body)).encode() + b"\r\n\r\n" + body)
            if self.on_loop:
                self.run_sql(sql)
                self.transport.write(response)
            else:
                done = asyncio.get_running_loop().run_in_executor(self.pool, self.run_sql, sql)
                done.add_done_callback(lambda _, r=response: self.transport.write(r))


def serve_raw(answers: dict[str, tuple[str, bytes]], run_sql, pool, *, on_loop: bool) -> int:
    """Start the ``raw`` server on a free loopback port in a daemon thread; its port."""
    import uvloop

    port = free_port()
    ready = threading.Event()

    def run() -> None:
        loop = uvloop.new_event_loop()
        server = loop.run_until_complete(loop.create_server(
            lambda: RawProtocol(answers, run_sql, pool, on_loop), "127.0.0.1", port))
        ready.set()
        loop.run_until_complete(server.serve_forever())

    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    return port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--json", type=Path, help="also write the per-question medians here")
    args = ap.parse_args()
    _, data = dataset(args.scale)
    os.environ.update(env_for(data, CROSSTRACK_CACHE_BYTES="0"))

    import httpx

    from crosstrack.api.app import create_app
    from crosstrack.api.server import uvicorn_options
    from crosstrack.api.workers import _pool, in_worker
    from crosstrack.config import get_settings
    from crosstrack.engine import query_limits, render

    settings = get_settings()
    app = create_app(settings)
    engine = app.state.service.engine
    options = uvicorn_options(settings)
    _, api_port = serve_in_thread(app, options)

    captured: list[str] = []
    real_query = engine.query

    def spy(sql, parameters=None, settings=None):
        captured.append(render(sql))
        return real_query(sql, parameters, settings)

    engine.query = spy  # type: ignore[method-assign]
    limits = query_limits(settings)
    answers: dict[str, tuple[str, bytes]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=60) as client:
        for ds, qs in TOP_QUERIES:
            path = f"/api/v1/{ds}?{qs}"
            client.get(path)
            captured.clear()
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            answers[path] = (max(captured, key=len), r.content)  # the question's own statement
    engine.query = real_query  # type: ignore[method-assign]

    def run_sql(sql: str) -> None:
        real_query(sql, None, limits)

    _, worker_port = serve_in_thread(bare_app(answers, run_sql, in_worker, on_loop=False), options)
    _, loop_port = serve_in_thread(bare_app(answers, run_sql, in_worker, on_loop=True), options)
    clients = {"API": RawClient(api_port), "bare, worker": RawClient(worker_port),
               "bare, on loop": RawClient(loop_port),
               "raw, worker": RawClient(serve_raw(answers, run_sql, _pool, on_loop=False)),
               "raw, on loop": RawClient(serve_raw(answers, run_sql, _pool, on_loop=True))}
    sides = (*clients, "SQL")

    print(f"cold_floor: scale {args.scale:g}, {args.rounds} alternated rounds per question after {WARMUP} to warm "
          f"up, API cache off; medians in ms; ratio = side / SQL")
    print(f"{'question':<40} " + " ".join(f"{s:>13}" for s in sides) + " " +
          " ".join(f"{s + ' x':>15}" for s in clients))
    out = []
    for ds, qs in TOP_QUERIES:
        path = f"/api/v1/{ds}?{qs}"
        sql = answers[path][0]
        seen: dict[str, list[float]] = {s: [] for s in sides}
        for _ in range(args.rounds + WARMUP):
            for side, c in clients.items():
                t0 = time.perf_counter()
                status = c.get(path)
                seen[side].append((time.perf_counter() - t0) * 1000)
                assert status == 200, (side, path, status)
            t0 = time.perf_counter()
            run_sql(sql)
            seen["SQL"].append((time.perf_counter() - t0) * 1000)
        m = {s: median(v[WARMUP:]) for s, v in seen.items()}
        out.append({"question": f"{ds}?{qs}", **{f"{s}_ms": v for s, v in m.items()}})
        print(f"{(ds + '?' + qs)[:40]:<40} " + " ".join(f"{m[s]:13.3f}" for s in sides) + " " +
              " ".join(f"{m[s] / m['SQL']:15.2f}" for s in clients))
    for server in ("bare", "raw"):
        over = [q for q in out if q[f"{server}, worker_ms"] / q["SQL_ms"] > TARGET]
        hop = median([q[f"{server}, worker_ms"] - q[f"{server}, on loop_ms"] for q in out])
        fixed = median([q[f"{server}, on loop_ms"] - q["SQL_ms"] for q in out])
        print(f"{server}: HTTP alone (on loop - SQL) median {fixed:.3f} ms, the thread hop (worker - on loop) "
              f"median {hop:.3f} ms; with the hop above {TARGET:g}x on {len(over)} of {len(out)} questions"
              + (": " + ", ".join(q["question"].split("&")[0] for q in over) if over else ""))
    if args.json:
        args.json.write_text(json.dumps({"scale": args.scale, "rounds": args.rounds, "questions": out}))


if __name__ == "__main__":
    main()

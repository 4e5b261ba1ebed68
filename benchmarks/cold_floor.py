"""The floor under bench_api's cold ratio: HTTP and the hand-over to the engine, with no crosstrack work.

bench_api compares a cold API answer with the same SQL run straight on chDB (target: at most
1.15x on each of nine questions, issue 18). This script asks how close a server could come
that does nothing else. Its servers know each question's SQL and its answer's bytes beforehand.
Per request they only run that SQL on the same engine and send the ready bytes: no routing,
parsing, compiling, disclosure control, row building or JSON. Five servers:

* ``bare, worker`` and ``bare, on loop``: an ASGI app on uvicorn with the options ``crosstrack
  serve`` uses, the SQL in a worker thread (api/workers.py, as the API runs every cold answer)
  or on the event loop.
* ``raw, worker`` and ``raw, on loop``: the same on an asyncio Protocol on uvloop that finds the
  path in the request and writes one prepared response (no ASGI, no HTTP parser), to tell
  uvicorn's share from what any asyncio server pays.
* ``thread``: a thread per connection, blocking reads, the SQL on the connection's own thread:
  no hand-over between threads and no event loop for a long question to stall.

``on loop`` is shown only to size the hop: a server that did this would keep every other client,
cached answers included, waiting behind each cold question. The sides are timed in a rotating
order, round after round, with a keep-alive socket client (bench_api's). All figures are medians
in ms. A question on which a server is above 1.15x cannot reach the target with that server's
design, whatever crosstrack's own code costs; what crosstrack's work may cost on a design is
1.15 x SQL minus that server's time.

    .venv/bin/python benchmarks/cold_floor.py [--scale 1] [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import (  # noqa: E402
    TOP_QUERIES, captured_sql, dataset, env_for, free_port, median, serve_in_thread)
from benchmarks.bench_api import RawClient  # noqa: E402

TARGET = 1.15  # issue 18: cold API at most 1.15x the same SQL on chDB, on each question
WARMUP = 10
Answers = dict[str, tuple[str, bytes]]  # path?query -> (the question's SQL, the API's answer bytes)
FAILED = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"


def response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def bare_app(answers: Answers, run_sql: Callable[[str], None], in_worker: Any, *, on_loop: bool) -> Any:
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
    """One keep-alive connection of the ``raw`` server: GET requests in, prepared responses out."""

    def __init__(self, answers: Answers, run_sql: Callable[[str], None], pool: Any, on_loop: bool) -> None:
        self.answers, self.run_sql, self.pool, self.on_loop = answers, run_sql, pool, on_loop
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            sql, body = self.answers[head.split(b" ", 2)[1].decode()]
            if self.on_loop:
                self.transport.write(_answer(self.run_sql, sql, body))
            else:
                done = asyncio.get_running_loop().run_in_executor(self.pool, _answer, self.run_sql, sql, body)
                done.add_done_callback(lambda f: self.transport.write(f.result()))


def _answer(run_sql: Callable[[str], None], sql: str, body: bytes) -> bytes:
    """The prepared response once the SQL has run; a 500 if it failed (the client must not hang)."""
    try:
        run_sql(sql)
    except Exception:  # noqa: BLE001 - any failure is reported to the client as a 500
        return FAILED
    return response(body)


def serve_raw(answers: Answers, run_sql: Callable[[str], None], pool: Any, *, on_loop: bool) -> int:
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


def serve_threads(answers: Answers, run_sql: Callable[[str], None]) -> int:
    """Start the ``thread`` server (a thread per connection) on a free loopback port; its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def connection(sock: socket.socket) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        with sock:
            while chunk := sock.recv(65536):
                buf += chunk
                while b"\r\n\r\n" in buf:
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    sql, body = answers[head.split(b" ", 2)[1].decode()]
                    sock.sendall(_answer(run_sql, sql, body))

    def accept() -> None:
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return port


def capture_answers(app: Any, port: int) -> Answers:
    """Each question's SQL (its largest statement) and answer bytes, asked of the real API."""
    import httpx

    answers: Answers = {}
    with captured_sql(app.state.service.engine) as captured, \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        for ds, qs in TOP_QUERIES:
            path = f"/api/v1/{ds}?{qs}"
            client.get(path)
            captured.clear()
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code)
            answers[path] = (max(captured, key=len), r.content)
    return answers


def time_question(path: str, sql: str, clients: dict[str, RawClient], run_sql: Callable[[str], None],
                  rounds: int) -> dict[str, float]:
    """Medians (ms) of every side and of the SQL alone, in an order that rotates each round."""
    sides: list[str] = [*clients, "SQL"]
    seen: dict[str, list[float]] = {s: [] for s in sides}
    for i in range(rounds + WARMUP):
        for side in sides[i % len(sides):] + sides[:i % len(sides)]:
            t0 = time.perf_counter()
            if side == "SQL":
                run_sql(sql)
            else:
                status = clients[side].get(path)
                assert status == 200, (side, path, status)
            if i >= WARMUP:
                seen[side].append((time.perf_counter() - t0) * 1000)
    return {s: median(v) for s, v in seen.items()}


def summarise(out: list[dict[str, Any]], servers: list[str]) -> None:
    for server in servers:
        over = [q for q in out if q[f"{server}_ms"] / q["SQL_ms"] > TARGET]
        left = [TARGET * q["SQL_ms"] - q[f"{server}_ms"] for q in out]
        print(f"{server:<14} over SQL median {median([q[f'{server}_ms'] - q['SQL_ms'] for q in out]):.3f} ms; "
              f"above {TARGET:g}x on {len(over)} of {len(out)}; leaves crosstrack's work "
              f"{min(left):.2f} to {max(left):.2f} ms" + (" (" + ", ".join(q["question"].split("&")[0] for q in over)
                                                         + ")" if 0 < len(over) < len(out) else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--json", type=Path, help="also write the per-question medians here")
    args = ap.parse_args()
    _, data = dataset(args.scale)
    os.environ.update(env_for(data, CROSSTRACK_CACHE_BYTES="0"))

    from crosstrack.api.app import create_app
    from crosstrack.api.server import uvicorn_options
    from crosstrack.api.workers import _pool, in_worker
    from crosstrack.config import get_settings
    from crosstrack.engine import query_limits

    settings = get_settings()
    app = create_app(settings)
    options = uvicorn_options(settings)
    _, api_port = serve_in_thread(app, options)
    answers = capture_answers(app, api_port)
    engine, limits = app.state.service.engine, query_limits(settings)

    def run_sql(sql: str) -> None:
        engine.query(sql, None, limits)

    ports = {"bare, worker": serve_in_thread(bare_app(answers, run_sql, in_worker, on_loop=False), options)[1],
             "bare, on loop": serve_in_thread(bare_app(answers, run_sql, in_worker, on_loop=True), options)[1],
             "raw, worker": serve_raw(answers, run_sql, _pool, on_loop=False),
             "raw, on loop": serve_raw(answers, run_sql, _pool, on_loop=True),
             "thread": serve_threads(answers, run_sql)}
    clients = {"API": RawClient(api_port), **{name: RawClient(port) for name, port in ports.items()}}

    print(f"cold_floor: scale {args.scale:g}, {args.rounds} rounds per question after {WARMUP} to warm up, sides "
          f"in rotating order, API cache off; medians in ms, then each side / SQL")
    print(f"{'question':<40} " + " ".join(f"{s:>13}" for s in (*clients, "SQL")) + " " +
          " ".join(f"{s + ' x':>15}" for s in clients))
    out = []
    for path, (sql, _) in answers.items():
        m = time_question(path, sql, clients, run_sql, args.rounds)
        out.append({"question": path.removeprefix("/api/v1/"), **{f"{s}_ms": v for s, v in m.items()}})
        print(f"{path.removeprefix('/api/v1/')[:40]:<40} " + " ".join(f"{v:13.3f}" for v in m.values()) + " " +
              " ".join(f"{m[s] / m['SQL']:15.2f}" for s in clients))
    summarise(out, list(clients))
    if args.json:
        args.json.write_text(json.dumps({"scale": args.scale, "rounds": args.rounds, "questions": out}))


if __name__ == "__main__":
    main()

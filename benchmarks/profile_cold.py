"""Profile one cold question end to end (cache off) with pyinstrument: where the time goes
between the HTTP request and the bytes (version, parse, compile, engine, disclosure, JSON).

    .venv/bin/python benchmarks/profile_cold.py [--scale 1] [--question 0] [--repeat 30]

Runs, ``--repeat`` times after a warm-up, what the URL API's worker thread does for a cold
question (version, parse, Service.answer, JSON) in this thread, so the sampling profiler sees
all of it, and prints the profile and a breakdown by layer (share of the sampled time). The
HTTP framework's share is bench_api's "API ms" minus its "answer ms".
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import TOP_QUERIES, dataset, env_for  # noqa: E402

LAYERS = [("engine (chDB / clickhouse-connect)", ("clickhouse_connect", "chdb")),
          ("compile (cube/)", ("crosstrack/cube/", "sqlglot")),
          ("disclosure", ("api/disclosure.py",)),
          ("service (grid, rows, sort)", ("api/service.py",)),
          ("JSON / CSV", ("api/formats.py", "orjson")),
          ("params / canonical URL", ("api/params.py",)),
          ("HTTP framework", ("starlette", "fastapi", "httpx", "anyio", "api/app.py", "api/fastpath.py"))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--question", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    _, data = dataset(args.scale)
    os.environ.update(env_for(data, CROSSTRACK_CACHE_BYTES="0"))
    from pyinstrument import Profiler

    from crosstrack.api.app import create_app
    from crosstrack.config import get_settings

    from crosstrack.api import formats

    app = create_app(get_settings())
    service = app.state.service
    ds, qs = TOP_QUERIES[args.question]
    path = f"/api/v1/{ds}?{qs}"
    items = parse_qsl(qs)

    def cold() -> bytes:
        # what the route does in its worker thread for a cold question (api/app.py _query/_render)
        version = service.version()
        question = service.parse(ds, items, version=version)
        return formats.to_json(service.answer(ds, question, version=version))

    for _ in range(3):
        cold()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(args.repeat):
        cold()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    shares = layer_shares(profiler)
    print(f"breakdown of {path} ({args.repeat} cold requests, scale {args.scale:g}):")
    for name, share in shares.items():
        print(f"  {name:<40} {share:6.1%}")


def layer_shares(profiler) -> dict[str, float]:
    """Self time of every frame, attributed to the first layer its file belongs to."""
    session = profiler.last_session
    root = session.root_frame()
    totals: dict[str, float] = {name: 0.0 for name, _ in LAYERS}
    totals["other"] = 0.0
    stack = [(root, None)]
    while stack:
        frame, layer = stack.pop()
        path = frame.file_path or ""
        own = next((name for name, keys in LAYERS if any(k in path for k in keys)), None)
        here = own or layer
        totals[here or "other"] += frame.total_self_time
        stack.extend((child, here) for child in frame.children)
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in totals.items()}


if __name__ == "__main__":
    main()

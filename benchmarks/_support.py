"""Shared helpers for the benchmark scripts: data sets, servers, a light HTTP load client.

Data sets live under ``$CROSSTRACK_BENCH_DIR`` (default ``/tmp/crosstrack-bench``):
``extracts-x<scale>/`` (synthetic extracts, seed 1) and ``data-x<scale>/`` (a data dir whose
chDB holds the published version, with the model's rollups built before publish, as a
production load does). Loading happens in a child process so that the chDB path is free for
whichever process the benchmark then lets own it (chDB: one process per path).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BENCH_DIR = Path(os.environ.get("CROSSTRACK_BENCH_DIR", "/tmp/crosstrack-bench"))

# The dashboard's most asked questions (the FAQ's areas), used by several benchmarks.
TOP_QUERIES: list[tuple[str, str]] = [
    ("population", "dimensions=snapshot_year,offender_status"),
    ("population", "dimensions=offender_status,race,ethnicity&snapshot_year=2024"),
    ("population", "dimensions=offender_status,age_group,assigned_sex&snapshot_year=2024"),
    ("custody", "dimensions=agency,facility_type&snapshot_year=2024"),
    ("incarceration_time", "dimensions=snapshot_year,agency&measures=mean_days,median_days"),
    ("programs", "dimensions=snapshot_year,offender_status&measures=record_count,total_enrollments,"
                 "enrollments_beh,enrollments_edu,enrollments_sup,enrollments_work,enrollments_reinv,enrollments_relig"),
    ("charges", "dimensions=offense_type,severity&snapshot_year=2024&measures=charges,convictions,people"),
    ("population", "dimensions=offender_status,governing_offense_type&offender_status=SENTENCED&snapshot_year=2024"),
    ("custody", "dimensions=agency,security_level,gender_identity&snapshot_year=2023"),  # no rollup fits
]


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSTRACK_")}
    env["CROSSTRACK_DATA_DIR"] = str(data_dir)
    env["CROSSTRACK_PG_PORT"] = "0"
    env["CROSSTRACK_PERSON_KEY_SECRET"] = "benchmark-secret-not-for-production"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def dataset(scale: float) -> tuple[Path, Path]:
    """(extracts dir, data dir) for a scale, generating and loading them if missing."""
    tag = f"x{scale:g}"
    extracts = BENCH_DIR / f"extracts-{tag}"
    data = BENCH_DIR / f"data-{tag}"
    marker = data / "loaded.json"
    if not marker.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        out = subprocess.run([PY, "-m", "benchmarks._support", "prepare", str(scale), str(extracts), str(data)],
                             cwd=ROOT, env=env_for(data), capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"preparing scale {scale:g} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        info = json.loads(out.stdout.strip().splitlines()[-1])
        info["prepare_seconds"] = round(time.perf_counter() - t0, 1)
        marker.write_text(json.dumps(info))
    return extracts, data


def refresh_rollups(scale: float, *, rebuild: bool = False) -> dict[str, float]:
    """Build, into a prepared data set, the model's rollups it lacks or holds from an older model
    (the data set was loaded before the model changed), or every one (``rebuild``, to time the
    build); seconds per table built."""
    _, data = dataset(scale)
    out = subprocess.run([PY, "-m", "benchmarks._support", "rollups-all" if rebuild else "rollups", str(scale)],
                         cwd=ROOT, env=env_for(data), capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"refreshing rollups at scale {scale:g} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _refresh_rollups(rebuild: bool) -> None:
    """Child process (owns the data dir): rebuild missing or stale (or all) rollup tables, one by one."""
    from crosstrack import cube
    from crosstrack.config import get_settings
    from crosstrack.cube.rollups import _table_sql, final_value_types, rollup_ddl
    from crosstrack.engine import Engine
    from crosstrack.loaders.publish import current_version

    settings = get_settings()
    engine = Engine.from_settings(settings)
    model = cube.load_model(settings.models_dir)
    database = current_version(engine, settings).database
    have = set() if rebuild else cube.QueryEngine(model, engine).rollup_tables(database)
    built: dict[str, float] = {}
    for table, stmts in rollup_ddl(model, database, final_value_types(engine, model, database)):
        if table in have:
            continue
        t0 = time.perf_counter()
        engine.command(f"DROP TABLE IF EXISTS {_table_sql(database, table)}")
        for sql in stmts:
            engine.command(sql)
        built[table] = round(time.perf_counter() - t0, 2)
    print(json.dumps(built))


def dataset_info(scale: float) -> dict[str, Any]:
    _, data = dataset(scale)
    return json.loads((data / "loaded.json").read_text())


def _prepare(scale: float, extracts: Path, data: Path) -> None:
    """Child process: generate extracts (if missing) and load them with the model's rollups."""
    from rich.console import Console

    from crosstrack import cube
    from crosstrack.config import get_settings
    from crosstrack.cube.rollups import build_rollups
    from crosstrack.loaders.pipeline import run_load
    from crosstrack.loaders.publish import current_version

    settings = get_settings()
    timings: dict[str, float] = {}
    if not (extracts / "people.parquet").exists():
        from crosstrack.loaders.generate import generate_extracts

        t0 = time.perf_counter()
        generate_extracts(extracts, seed=1, scale=scale, fmt="parquet", years=settings.snapshot_years)
        timings["generate_s"] = round(time.perf_counter() - t0, 1)
    model = cube.load_model(settings.models_dir)
    t0 = time.perf_counter()
    # The generator plants a few invalid rows on purpose (they are reported, not loaded).
    code = run_load(settings, extracts, console=Console(stderr=True, quiet=True), max_rejects=int(1000 * scale),
                    before_publish=[lambda engine, db: build_rollups(engine, model, db)])
    timings["load_s"] = round(time.perf_counter() - t0, 1)
    if code != 0:
        raise SystemExit(f"load failed with exit code {code}")
    from crosstrack.engine import Engine

    v = current_version(Engine.from_settings(settings), settings)
    print(json.dumps({"scale": scale, "version": v.version_id, "database": v.database,
                      "row_counts": v.row_counts, **timings,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def memory_service(seed: int, name: str, k: int = 5) -> Any:
    """A service over scale-1 synthetic extracts of ``seed`` loaded into an in-memory chDB, with no
    result cache (the disclosure benchmarks: every answer computed, the person-key secret fixed by
    ``name`` so that a run's noise can be reproduced)."""
    import tempfile

    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service
    from crosstrack.config import load_settings
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.pipeline import run_load

    data = Path(tempfile.mkdtemp(prefix=f"ct-{name}-"))
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=data, database=name,
                             person_key_secret=f"{name}-secret", k=k)
    generate_extracts(data / "ex", seed=seed, scale=1.0, fmt="csv", years=settings.snapshot_years)
    assert run_load(settings, data / "ex", max_rejects=10**6, rejects_report=data / "r.csv", console=None) == 0
    return build_service(settings, cache=ResultCache(0))


def release_cells(service: Any, dim_sets: list, always: tuple[str, ...] = ()) -> dict[tuple, tuple[int, int, int]]:
    """True (people, releases, release key) of every cell of the recidivism dataset grouped by
    ``always`` and each subset of each dimension set, keyed by the ``always`` codes as the engine
    types them, then ``(dimension, code)`` pairs in the set's order."""
    ds, version = service.dataset("recidivism"), service.version()
    cells: dict[tuple, tuple[int, int, int]] = {}
    for dims in dim_sets:
        for r in range(len(dims) + 1):
            for sub in itertools.combinations(dims, r):
                q = {"dimensions": [ds.dimensions[d].member for d in (*always, *sub)],
                     "measures": ["recidivism.people", "recidivism.released", "recidivism.released_key"],
                     "limit": 10**6}
                for row in service.query_engine.load(q, database=version.database, internal=True).data:
                    key = (*(row[ds.dimensions[d].member] for d in always),
                           *((d, str(row[ds.dimensions[d].member])) for d in sub))
                    cells[key] = (int(row["recidivism.people"]), int(row["recidivism.released"]),
                                  int(row["recidivism.released_key"]))
    return cells


@contextmanager
def captured_sql(engine: Any) -> Iterator[list[str]]:
    """Within the block, every ``engine.query`` statement (rendered) is appended to the list
    yielded, and still runs; afterwards the engine's own method is back."""
    from crosstrack.engine import render

    captured: list[str] = []
    real_query = engine.query

    def spy(sql, parameters=None, settings=None):
        captured.append(render(sql))
        return real_query(sql, parameters, settings)

    engine.query = spy
    try:
        yield captured
    finally:
        del engine.query  # back to the class's method


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_in_thread(app: Any, options: dict[str, Any]) -> tuple[Any, int]:
    """(uvicorn server, port): ``app`` served on a free loopback port from a daemon thread of
    this process with uvicorn ``options`` (``api.server.uvicorn_options``, what ``crosstrack
    serve`` runs with), once it listens."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, port


def wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status < 500:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"server at {url} did not come up")
        time.sleep(0.2)


@contextmanager
def server_process(args: list[str], env: dict[str, str], health_url: str) -> Iterator[subprocess.Popen]:
    """Start a server in its own process group and stop it (SIGINT, then SIGKILL) afterwards."""
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        try:
            wait_http(health_url)
        except SystemExit:
            proc.kill()
            err = proc.stderr.read().decode()[-3000:] if proc.stderr else ""
            raise SystemExit(f"server failed to start: {err}") from None
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@contextmanager
def crosstrack_server(data: Path, **env_extra: str) -> Iterator[str]:
    """``crosstrack serve --no-sql`` on a loopback port (the server owns the chDB path)."""
    port = free_port()
    env = env_for(data, CROSSTRACK_PORT=str(port), **env_extra)
    url = f"http://127.0.0.1:{port}"
    with server_process([PY, "-m", "crosstrack", "serve", "--no-sql"], env, url + "/healthz"):
        yield url


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --- a light keep-alive HTTP/1.1 load client (asyncio streams) --------------------------------
async def _conn_worker(host: str, port: int, paths: list[str], deadline: float, out: list[float],
                       errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            out.append(time.perf_counter() - t0)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def throughput(url: str, paths: list[str], *, connections: int = 16, seconds: float = 5.0) -> dict[str, float]:
    """Requests/s and latency of ``connections`` keep-alive clients hitting ``paths`` for ``seconds``."""
    from urllib.parse import urlparse

    p = urlparse(url)

    async def run() -> tuple[list[float], list[int]]:
        lat: list[float] = []
        errors: list[int] = []
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*[_conn_worker(p.hostname, p.port, paths, deadline, lat, errors)
                               for _ in range(connections)])
        return lat, errors

    t0 = time.perf_counter()
    lat, errors = asyncio.run(run())
    elapsed = time.perf_counter() - t0
    lat.sort()
    return {"rps": len(lat) / elapsed, "requests": len(lat), "errors": len(errors),
            "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
            "p95_ms": lat[int(len(lat) * 0.95)] * 1000 if lat else 0.0}


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "prepare":
        _prepare(float(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] in ("rollups", "rollups-all"):
        _refresh_rollups(sys.argv[1] == "rollups-all")
    elif len(sys.argv) == 3 and sys.argv[1] == "dataset":
        print(json.dumps(dataset_info(float(sys.argv[2]))))
    else:
        raise SystemExit("usage: python -m benchmarks._support dataset SCALE")

"""Issue 18, first row, and issue 17's single flight: what a request costs the engine.

Every statement is counted on the real chDB client (a counting wrapper around the
clickhouse-connect client the engine holds; each call still runs on chDB):

* on the embedded engine a request never asks which version is published — a cold question
  runs its own SQL and nothing else, a cached one runs nothing, on the URL API, the SQL surface
  and ``Service.answer`` alike;
* a new version published in process is seen by the next request (one pointer read), and the
  publish path can hand the version over with no read at all;
* with a ClickHouse server the version comes from a background poll, never from a request;
* concurrent identical cold questions run the engine once (single flight).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from crosstrack.api.cache import ResultCache
from crosstrack.api.compose import build_service
from crosstrack.api.versions import VersionClock, published_version

REGISTRY = ("load_history", "publish_log", "system.tables")


@contextmanager
def counted(engine) -> Iterator[list[str]]:
    """Every statement the engine sends to chDB while the block runs (the real clients run each):
    the writer's client and every client of the read pool, those opened during the block too."""
    seen: list[str] = []
    wrapped: list[tuple[object, dict]] = []

    def wrap(client):
        originals = {name: getattr(client, name) for name in ("query", "command", "query_arrow", "insert_arrow")}

        def counting(real):
            def run(sql, *args, **kwargs):
                seen.append(str(sql))
                return real(sql, *args, **kwargs)
            return run

        for name, real in originals.items():
            setattr(client, name, counting(real))
        wrapped.append((client, originals))
        return client

    pool = engine.reads
    with pool._cond:
        for client in {id(c): c for c in (engine._client, *pool._idle) if c is not None}.values():
            wrap(client)
        opener = pool._open_client
        if opener is not None:
            pool._open_client = lambda: wrap(opener())
    try:
        yield seen
    finally:
        with pool._cond:
            pool._open_client = opener
            for client, originals in wrapped:
                for name, real in originals.items():
                    setattr(client, name, real)


def _registry(statements: list[str]) -> list[str]:
    return [s for s in statements if any(r in s for r in REGISTRY)]


def test_no_version_round_trip_per_request_on_the_embedded_engine(api_live, sql_live):
    service = api_live.service
    engine = service.engine
    api_live.get("/api/v1/population", params={"dimensions": "snapshot_year"})  # the version is known now
    service.cache.clear()  # the session's other tests may have asked these questions already
    with counted(engine) as cold:
        r = api_live.get("/api/v1/population", params={"dimensions": "snapshot_year,ethnicity,assigned_sex"})
    assert r.status_code == 200
    assert _registry(cold) == [] and len(cold) == 1, cold  # the question's own SELECT, nothing else
    with counted(engine) as cached:
        again = api_live.get("/api/v1/population", params={"dimensions": "snapshot_year,ethnicity,assigned_sex"})
    assert again.content == r.content and cached == []
    service.extra_codes(service.dataset("custody"), service.version())  # once per version and dataset
    with counted(engine) as in_process:
        service.answer("custody", {"dimensions": "facility_type,assigned_sex", "snapshot_year": "2023"})
        service.answer("custody", {"dimensions": "facility_type,assigned_sex", "snapshot_year": "2023"})
    assert _registry(in_process) == [] and len(in_process) == 1, in_process
    with sql_live.connect() as conn:
        conn.execute("SELECT 1").fetchall()
        with counted(engine) as sql:
            rows = conn.execute("SELECT ethnicity, MEASURE(people) FROM population WHERE snapshot_year = 2022 "
                                "GROUP BY ethnicity").fetchall()
    assert rows and _registry(sql) == [] and len(sql) == 1, sql


def test_a_publish_in_process_is_seen_by_the_next_request(api_live):
    """The write counter is the signal: a write through the engine makes the next request read the
    pointer once; the publish path's own hand-over (switch) needs no read at all."""
    service = build_service(api_live.settings, engine=api_live.service.engine, model=api_live.service.model,
                            cache=ResultCache(0))
    engine = service.engine
    version = service.version()
    with counted(engine) as steady:
        for _ in range(5):
            assert service.version() == version
    assert steady == []
    engine.command("CREATE DATABASE IF NOT EXISTS version_signal_probe")  # anything could have published
    engine.command("DROP DATABASE IF EXISTS version_signal_probe")
    with counted(engine) as after_write:
        assert service.version() == version
        assert service.version() == version
    assert 0 < len(_registry(after_write)) == len(after_write) <= 4  # one pointer read, then none
    service.clock.own()
    engine.command("DROP DATABASE IF EXISTS version_signal_probe")
    with counted(engine) as owned:
        service.clock.switch(version)
        assert service.version() == version
    assert owned == []


def test_a_server_learns_the_version_from_a_poll_never_from_a_request(api_live):
    """CROSSTRACK_CLICKHOUSE_URL=http(s)://...: any process may publish, so a background thread
    reads the pointer (here every 50 ms, on the real engine); requests never do."""
    engine, settings = api_live.service.engine, api_live.settings
    reads: list[float] = []
    answer = {"override": None}

    def fetch():
        reads.append(time.monotonic())
        return answer["override"] or published_version(engine, settings)

    clock = VersionClock(fetch, key=lambda v: v.version_id if v is not None else None)
    clock.poll_every(0.05)
    try:
        first = clock.current()  # the very first caller reads it itself
        t0, n0 = time.monotonic(), len(reads)
        for _ in range(2_000):
            assert clock.current() == first
        polls = len(reads) - n0
        assert polls <= (time.monotonic() - t0) / 0.05 + 2  # the poller's reads, not one per call
        newer = type(first)("v999", first.database, first.loaded_at)
        answer["override"] = newer  # another process published
        deadline = time.monotonic() + 5
        while clock.current() != newer and time.monotonic() < deadline:
            time.sleep(0.01)
        assert clock.current() == newer
    finally:
        clock.stop()


def test_concurrent_identical_cold_questions_run_the_engine_once(api_live):
    service = build_service(api_live.settings, engine=api_live.service.engine, model=api_live.service.model)
    service.version()
    question = {"dimensions": "agency,ethnicity", "snapshot_year": "2021"}
    service.extra_codes(service.dataset("population"), service.version())
    start = threading.Barrier(6)
    results = []

    def ask():
        start.wait()
        results.append(service.answer("population", question).rows)

    with counted(service.engine) as statements:
        threads = [threading.Thread(target=ask) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(results) == 6 and all(rows == results[0] for rows in results)
    assert len(statements) == 1, statements

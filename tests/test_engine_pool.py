"""Reads on a bounded pool of engine connections (crosstrack/engine.py ReadPool), with real chDB
queries on real threads and a real HTTP server: two reads overlap, each gets max_threads =
cores / reads running, and a full queue answers 503 engine.busy with Retry-After at once."""

from __future__ import annotations

import os
import threading
import time

import httpx
import pytest

from crosstrack.api.app import create_app
from crosstrack.api.compose import build_service
from crosstrack.engine import Engine, EngineBusy
from tests.fixtures_api import ThreadServer

SLEEP = "SELECT sleep(0.6)"  # waits without using a core: overlap is visible however busy the machine is


def _in_threads(fn, n: int) -> list:
    out: list = [None] * n

    def run(i: int) -> None:
        try:
            out[i] = fn()
        except Exception as err:  # noqa: BLE001 - returned to the test
            out[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _wait_active(engine: Engine, n: int) -> None:
    deadline = time.monotonic() + 10
    while engine.reads.active < n:
        assert time.monotonic() < deadline, "the holding read never started"
        time.sleep(0.01)


def test_two_reads_overlap_on_two_connections_and_one_connection_serialises():
    two = Engine("chdb://memory", connections=2)
    t0 = time.perf_counter()
    _in_threads(lambda: two.query(SLEEP), 2)
    assert time.perf_counter() - t0 < 1.1, "two connections run two reads side by side"
    one = Engine("chdb://memory", connections=1, queue=4)
    t0 = time.perf_counter()
    _in_threads(lambda: one.query(SLEEP), 2)
    assert time.perf_counter() - t0 >= 1.15, "one connection runs one read at a time"


def test_default_pool_runs_two_reads_per_core_side_by_side():
    """The default pool (CROSSTRACK_ENGINE_CONNECTIONS=0) has two connections per core, so a core
    is not idle while a read's thread is in Python (crosstrack/engine.py CONNECTIONS_PER_CORE)."""
    cores = os.cpu_count() or 1
    engine = Engine("chdb://memory")
    assert engine.reads.size == 2 * cores
    t0 = time.perf_counter()
    _in_threads(lambda: engine.query(SLEEP), 2 * cores)
    assert time.perf_counter() - t0 < 1.1, "every connection of the pool runs a read at once"
    t0 = time.perf_counter()
    _in_threads(lambda: engine.query(SLEEP), 2 * cores + 1)
    assert time.perf_counter() - t0 >= 1.15, "one read more than the pool waits for a connection"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="splitting cores needs two of them")
def test_max_threads_split_between_running_reads():
    cores = os.cpu_count() or 1
    engine = Engine("chdb://memory", connections=2)
    setting = "SELECT toUInt64(getSetting('max_threads'))"
    assert engine.scalar(setting) == cores, "a read alone uses every core"
    holder = threading.Thread(target=engine.query, args=("SELECT sleep(1)",))
    holder.start()
    _wait_active(engine, 1)
    assert engine.scalar(setting) == cores // 2, "two reads split the cores"
    holder.join()
    assert engine.query(setting, settings={"max_threads": 1}).rows == [(1,)], "a statement's own setting wins"


def test_full_queue_refuses_at_once_and_a_long_wait_times_out():
    engine = Engine("chdb://memory", connections=1, queue=1, queue_timeout_s=0.3)
    holder = threading.Thread(target=engine.query, args=("SELECT sleep(1.5)",))
    holder.start()
    _wait_active(engine, 1)
    waiter: list = []
    w = threading.Thread(target=lambda: waiter.append(_in_threads(lambda: engine.query("SELECT 1"), 1)[0]))
    w.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    with pytest.raises(EngineBusy):
        engine.query("SELECT 1")  # the one waiting place is taken
    assert time.perf_counter() - t0 < 0.2, "refused at once, not queued"
    w.join()
    assert isinstance(waiter[0], EngineBusy), "the waiter gave up after queue_timeout_s"
    holder.join()
    assert engine.scalar("SELECT 1") == 1 and engine.reads.refused == 2


def test_busy_engine_answers_503_with_retry_after_over_http(api_live):
    settings = api_live.settings.model_copy(update={"cache_bytes": 0})
    engine = Engine("chdb://memory", connections=1, queue=0, queue_timeout_s=0.2)
    server = ThreadServer(create_app(settings, service=build_service(settings, engine=engine))).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            assert client.get("/api/v1/population?dimensions=race").status_code == 200
            holder = threading.Thread(target=engine.query, args=("SELECT sleep(1.5)",))
            holder.start()
            _wait_active(engine, 1)
            t0 = time.perf_counter()
            r = client.get("/api/v1/population?dimensions=race")
            assert time.perf_counter() - t0 < 1.0, "refused, not queued behind the busy connection"
            holder.join()
            assert r.status_code == 503 and r.json()["error"]["code"] == "engine.busy"
            assert int(r.headers["retry-after"]) >= 1
            assert client.get("/api/v1/population?dimensions=race").status_code == 200
    finally:
        server.stop()

"""The result cache (api/cache.py) on its own: bounded LRU, version invalidation, single
flight, and the version clock that keeps answers exact after a publish (docs/contracts.md
"Published data": readers see the old version or the new, never stale after the swap; K3: the
same question gets the same answer)."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from crosstrack.api.cache import RenderedBody, ResultCache, approx_size, body_etag
from crosstrack.api.versions import EngineRef, VersionClock


def test_lru_is_bounded_in_bytes_and_evicts_least_recently_used():
    cache = ResultCache(10_000, sizeof=lambda v: 1000)
    for i in range(20):
        cache.put(("v1", f"q{i}"), i)
        cache.get(("v1", "q0"))  # keep q0 hot
    assert cache.bytes_used <= 10_000
    assert cache.get(("v1", "q0")) == 0
    assert cache.get(("v1", "q1")) is None  # cold entries went first
    assert cache.get(("v1", "q19")) == 19
    assert cache.stats.evictions > 0


def test_entry_larger_than_its_share_is_refused_and_zero_bytes_turns_cache_off():
    cache = ResultCache(4000, sizeof=lambda v: len(v))
    assert not cache.put(("v1", "big"), "x" * 2000)
    assert cache.get(("v1", "big")) is None
    off = ResultCache(0)
    assert not off.enabled and not off.put(("v1", "q"), [1])
    assert off.get(("v1", "q")) is None
    assert off.get_or_compute(("v1", "q"), lambda: 7) == 7


def test_new_version_drops_old_entries_and_refuses_late_writes():
    """No stale answer after a swap: entries of version A are gone once B is seen, and a
    request that started on A and finishes after the swap cannot store its A answer."""
    cache = ResultCache(1_000_000)
    cache.observe_version("A")
    cache.put(("A", "population?dimensions=agency"), ["answer A"])
    assert cache.get(("A", "population?dimensions=agency")) == ["answer A"]
    cache.observe_version("B")
    assert len(cache) == 0 and cache.stats.invalidations == 1
    assert not cache.put(("A", "population?dimensions=agency"), ["late answer A"])
    assert cache.get(("A", "population?dimensions=agency")) is None
    assert cache.put(("B", "population?dimensions=agency"), ["answer B"])
    assert cache.get(("B", "population?dimensions=agency")) == ["answer B"]


def test_rendered_bodies_are_keyed_by_shape_and_carry_their_etag_k3():
    cache = ResultCache(1_000_000)
    cache.observe_version("7")
    body = b'{"data":[]}'
    rb = RenderedBody(body, "application/json", body_etag(body))
    assert cache.put_rendered("7", "/api/v1/population?dimensions=race", "json", rb)
    assert cache.get_rendered("7", "/api/v1/population?dimensions=race", "json") is rb
    assert cache.get_rendered("7", "/api/v1/population?dimensions=race", "csv") is None
    assert cache.get_rendered("8", "/api/v1/population?dimensions=race", "json") is None
    assert body_etag(body) == body_etag(bytes(body)) != body_etag(body + b" ")


def test_single_flight_computes_a_missing_key_once_for_concurrent_callers():
    cache = ResultCache(1_000_000)
    calls = []
    gate = threading.Event()

    def compute():
        calls.append(1)
        gate.wait(5)
        return ["rows"]

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute(("v", "q"), compute)))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert results == [["rows"]] * 8
    assert len(calls) == 1


def test_single_flight_errors_reach_every_waiter_and_are_not_cached():
    cache = ResultCache(1_000_000)

    def boom():
        raise RuntimeError("engine down")

    with pytest.raises(RuntimeError):
        cache.get_or_compute(("v", "q"), boom)
    assert cache.get_or_compute(("v", "q"), lambda: 1) == 1


def test_threads_hammering_the_cache_keep_its_byte_count_consistent():
    cache = ResultCache(50_000, sizeof=lambda v: 500)

    def work(n):
        for i in range(2000):
            key = ("v", f"q{(i * n) % 300}")
            if cache.get(key) is None:
                cache.put(key, i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.bytes_used == sum(size for _, size in cache._entries.values())
    assert cache.bytes_used <= 50_000


def test_approx_size_grows_with_rows():
    small = tuple({"race": "W", "race_label": "White", "people": 10, "suppressed": False} for _ in range(10))
    big = tuple({"race": "W", "race_label": "White", "people": i, "suppressed": False} for i in range(1000))
    assert 0 < approx_size(small) < approx_size(big)


def test_approx_size_of_a_long_answer_is_sampled_close_to_the_full_walk():
    """A long list is sized from a sample (issue 17): within 25% of walking every row, never under
    by more than 5%."""
    labels = [f"label {i}" for i in range(40)]
    rows = [{"race": str(i % 40), "race_label": labels[i % 40], "people": i * 7 if i % 3 else None,
             "mean_days": i / 3 if i % 5 else None, "suppressed": not i % 3} for i in range(20_000)]
    full = sum(sys.getsizeof(o) for o in _every_object(rows))
    sampled = approx_size(rows)
    assert 0.95 * full <= sampled <= 1.25 * full, (sampled, full)


def _every_object(obj):
    seen, stack = set(), [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        yield o
        if isinstance(o, dict):
            stack.extend([*o.keys(), *o.values()])
        elif isinstance(o, (list, tuple)):
            stack.extend(o)


def test_version_clock_sees_a_publish_made_before_the_request_started():
    """Exact: every call after a publish returns the new version (no time-to-live)."""
    current = {"v": "A"}
    seen = []
    clock = VersionClock(lambda: current["v"], on_change=seen.append)
    assert clock.current() == "A"
    current["v"] = "B"
    assert clock.current() == "B"
    assert seen == ["A", "B"]


def test_version_clock_shares_one_lookup_among_concurrent_callers():
    started = threading.Event()
    release = threading.Event()
    calls = []

    def fetch():
        calls.append(1)
        started.set()
        release.wait(5)
        return "A"

    clock = VersionClock(fetch)
    first = threading.Thread(target=clock.current)
    first.start()
    started.wait(5)
    # These arrive while look-up 1 runs: they must not use it, but share look-up 2.
    out = []
    waiters = [threading.Thread(target=lambda: out.append(clock.current())) for _ in range(10)]
    for t in waiters:
        t.start()
    time.sleep(0.2)
    release.set()
    first.join(5)
    for t in waiters:
        t.join(5)
    assert out == ["A"] * 10
    assert len(calls) == 2


def test_version_clock_propagates_a_failed_lookup_and_recovers():
    state = {"fail": True}

    def fetch():
        if state["fail"]:
            raise ConnectionError("engine unavailable")
        return "A"

    clock = VersionClock(fetch)
    with pytest.raises(ConnectionError):
        clock.current()
    state["fail"] = False
    assert clock.current() == "A"


def test_version_clock_skips_lookups_only_while_nothing_could_have_published():
    """Embedded engine: only this process can publish, so while no write went through its engine
    the last look-up is still exact; any write forces a fresh one (no stale answer)."""
    current = {"v": "A"}
    gen = {"n": 0}
    calls = []

    def fetch():
        calls.append(1)
        return current["v"]

    clock = VersionClock(fetch, generation=lambda: gen["n"])
    assert clock.current() == "A" and clock.current() == "A" and clock.current() == "A"
    assert len(calls) == 1
    current["v"] = "B"
    gen["n"] += 2  # a publish: the counter moves before and after the write
    assert clock.current() == "B"
    assert len(calls) == 2
    unknown = VersionClock(fetch, generation=lambda: None)  # a server: always look up
    unknown.current()
    unknown.current()
    assert len(calls) == 4


def test_write_counter_counts_writes_not_reads_on_the_real_engine():
    from crosstrack.config import load_settings
    from crosstrack.engine import Engine

    settings = load_settings(clickhouse_url="chdb://memory")
    engine = Engine.from_settings(settings)
    _engine_writes = EngineRef(settings, engine).writes
    assert _engine_writes() is not None and _engine_writes() == engine.writes
    before = _engine_writes()
    engine.query("SELECT 1")
    engine.scalar("SELECT count() FROM numbers(3)")
    assert _engine_writes() == before
    engine.command("CREATE DATABASE IF NOT EXISTS cache_unit_writes")
    assert _engine_writes() == before + 2
    engine.command("DROP DATABASE IF EXISTS cache_unit_writes")

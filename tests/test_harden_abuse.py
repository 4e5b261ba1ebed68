"""Abuse: huge parameter lists, many dimensions and deep paging get a clear 4xx before any
query runs; a burst of expensive valid queries from many threads never hangs the server or
makes it answer 500, and engine limits (max_result_rows, max_execution_time) turn a too
expensive question into a clear 503 envelope with Retry-After.

Timeouts below are hang guards, not speed assertions (speed lives in benchmarks/).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

ENVELOPE_KEYS = {"status", "code", "loc", "parameter", "message", "allowed"}
HANG_GUARD_S = 120


def _envelope(r: httpx.Response) -> dict:
    doc = r.json()
    assert set(doc) == {"error"} and set(doc["error"]) == ENVELOPE_KEYS, r.text[:300]
    assert doc["error"]["status"] == r.status_code
    return doc["error"]


class QueryCounter:
    """Counts the engine queries the app runs (the real engine; only its calls are counted)."""

    def __init__(self, engine):
        self.engine = engine
        self.count = 0
        self._orig = engine.query

    def __enter__(self):
        def counted(*a, **kw):
            self.count += 1
            return self._orig(*a, **kw)
        self.engine.query = counted
        return self

    def __exit__(self, *exc):
        self.engine.query = self._orig


def _engine(api_live):
    svc = api_live.service
    return svc.engine


@pytest.mark.parametrize("case", ["huge_comma_list", "huge_repeated_keys", "too_many_dimensions",
                                  "deep_offset", "page_too_large", "many_unknown_params", "huge_order",
                                  "huge_measures"])
def test_oversized_requests_get_a_clear_4xx_before_any_query(api_live, harden_capture, case):
    """Abuse: each oversized request is refused with a 4xx envelope naming the parameter, and no
    engine query is run for it (so it cannot be a slow query)."""
    s = api_live.settings
    md = api_live.get("/api/v1/population/metadata").json()
    dims = [d["name"] for d in md["dimensions"]]
    params: list[tuple[str, str]]
    expect_param = None
    if case == "huge_comma_list":
        params = [("race", ",".join(f"X{i}" for i in range(8_000)))]  # ~50 kB (httpx caps URLs at 64 kB)
        expect_param = "race"
    elif case == "huge_repeated_keys":
        params = [("agency", f"A{i}") for i in range(3_000)]
        expect_param = "agency"
    elif case == "too_many_dimensions":
        params = [("dimensions", ",".join(dims))]
        expect_param = "dimensions"
    elif case == "deep_offset":
        params = [("dimensions", "race"), ("offset", str(s.max_offset + 1))]
        expect_param = "offset"
    elif case == "page_too_large":
        params = [("dimensions", "race"), ("limit", str(s.max_page_size + 1))]
        expect_param = "limit"
    elif case == "many_unknown_params":
        params = [(f"p{i}", "1") for i in range(1_000)]
    elif case == "huge_order":
        params = [("dimensions", "race"), ("order", ",".join(["-race"] * 5_000 + ["nope"]))]
        expect_param = "order"
    else:
        params = [("measures", ",".join(["people"] * 5_000 + ["nope"]))]
        expect_param = "measures"
    # The version look-up may run once (cached afterwards); the question itself must not.
    api_live.get("/api/v1/population", params={"dimensions": "race"})
    with QueryCounter(_engine(api_live)) as qc:
        r = httpx.get(api_live.url + "/api/v1/population", params=params, timeout=HANG_GUARD_S)
    harden_capture.response("abuse", r.status_code, r.headers, r.content)
    assert 400 <= r.status_code < 500, (case, r.status_code, r.text[:200])
    if "json" in r.headers.get("content-type", ""):
        err = _envelope(r)
        if expect_param:
            assert err["parameter"] == expect_param, err
    assert qc.count == 0, f"{case}: {qc.count} engine queries ran for a request that must be refused"


def _raw_status(url: str, request: bytes) -> int | None:
    """Send raw bytes; the status code answered, or None if the server closed the connection."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(url)
    with socket.create_connection((u.hostname, u.port), timeout=HANG_GUARD_S) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            head = sock.recv(64)
        except ConnectionResetError:
            return None
    if not head:
        return None
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize("size", [100_000, 1_000_000])
def test_very_long_url_is_refused_cleanly(api_live, size):
    """Abuse: a 100 kB / 1 MB request line is refused with a 4xx (or the connection is closed)
    by the HTTP server — no 5xx, no hang."""
    req = b"GET /api/v1/population?race=" + b"W," * (size // 2) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    status = _raw_status(api_live.url, req)
    assert status is None or 400 <= status < 500, status


def test_huge_header_block_never_fails_the_server(api_live):
    """Abuse: 1,000 headers / 200 kB of header block: never a 5xx or a hang. (With uvicorn's h11
    parser this is a 400; with httptools, which `crosstrack serve` prefers, it is served — header
    size is then bounded only by a reverse proxy; see the hardening report.)"""
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(1000))
    status = _raw_status(api_live.url, b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert status is None or status < 500, status


def test_deepest_allowed_page_is_answered(api_live):
    """Deep paging at the documented limit is a (possibly empty) 200 page, not an error or a hang."""
    r = api_live.get("/api/v1/population", params={"dimensions": "race,agency", "offset": api_live.settings.max_offset})
    assert r.status_code == 200 and r.json()["data"] == []


HEAVY_DIMS = ["snapshot_year", "agency", "age_group", "race", "ethnicity", "gender_identity", "assigned_sex",
              "offender_status", "facility_type", "security_level"]


def _heavy_params(rng: random.Random, max_dims: int) -> dict[str, str]:
    dims = rng.sample(HEAVY_DIMS, max_dims)
    p = {"dimensions": ",".join(dims), "limit": "10000"}
    # a varying harmless filter so that each question is new (no cache hit)
    p["snapshot_year"] = ",".join(str(y) for y in sorted(rng.sample(range(2017, 2025), rng.randint(2, 8))))
    p["order"] = ("-" if rng.random() < 0.5 else "") + rng.choice(dims)
    return p


@pytest.mark.slow
def test_burst_of_expensive_queries_stays_responsive(api_live, harden_capture):
    """Abuse (engine limits): 8 threads fire heavy, distinct, valid questions while a prober checks
    /healthz and a small question; every answer is 200 or a clear 4xx/503 envelope, none hangs."""
    s = api_live.settings
    statuses: Counter[int] = Counter()
    probe_statuses: Counter[int] = Counter()
    stop = threading.Event()
    errors: list[str] = []

    def fire(worker: int) -> None:
        rng = random.Random(worker)
        with httpx.Client(base_url=api_live.url, timeout=HANG_GUARD_S) as c:
            for _ in range(12):
                r = c.get("/api/v1/population", params=_heavy_params(rng, s.max_dimensions))
                statuses[r.status_code] += 1
                harden_capture.response("burst", r.status_code, r.headers, r.content)
                if r.status_code >= 500 and r.status_code != 503 or r.status_code >= 400 and "json" not in r.headers.get("content-type", ""):
                    errors.append(f"{r.status_code} {r.text[:200]}")
                elif r.status_code == 503:
                    _envelope(r)
                    assert "retry-after" in r.headers

    def probe() -> None:
        with httpx.Client(base_url=api_live.url, timeout=HANG_GUARD_S) as c:
            while True:  # at least one full round, however quickly the burst ends
                for path in ("/healthz", "/api/v1/population?dimensions=race"):
                    r = c.get(path)
                    probe_statuses[r.status_code] += 1
                if stop.is_set():
                    break

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(fire, range(8)))
    stop.set()
    prober.join(timeout=HANG_GUARD_S)
    assert not prober.is_alive(), "the prober hung"
    print(f"burst: {sum(statuses.values())} heavy requests {dict(statuses)}; probes {dict(probe_statuses)}")
    assert not errors, errors[:5]
    assert set(statuses) <= {200, 400, 422, 503}, statuses
    assert probe_statuses[200] >= 2 and set(probe_statuses) <= {200, 503}, probe_statuses


@pytest.fixture(scope="module")
def limited_app(api_live, serve_asgi_module):
    """The real app on the same data with tight engine limits (max_result_rows 50)."""
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service
    from crosstrack.api.service import set_default_service

    settings = api_live.settings.model_copy(update={"query_max_result_rows": 50, "query_timeout_s": 5.0})
    svc = build_service(settings, engine=api_live.service.engine, model=api_live.service.model,
                        clock=api_live.service.clock)
    app = create_app(settings, service=svc)
    set_default_service(api_live.service)
    return serve_asgi_module(app)


def test_engine_limits_give_a_clear_503(limited_app, harden_capture):
    """Engine limits hold: a question whose result exceeds max_result_rows is stopped by the
    engine and answered 503 query_limit_exceeded with Retry-After (never 500, never rows)."""
    small = httpx.get(limited_app.url + "/api/v1/population", params={"dimensions": "race"}, timeout=HANG_GUARD_S)
    assert small.status_code == 200
    # an answer that would list more combinations than allowed is refused before the engine runs
    big = httpx.get(limited_app.url + "/api/v1/population",
                    params={"dimensions": "snapshot_year,agency,age_group,race,ethnicity,assigned_sex"},
                    timeout=HANG_GUARD_S)
    harden_capture.response("limits", big.status_code, big.headers, big.content)
    assert big.status_code == 400 and _envelope(big)["code"] == "query.too_many_combinations", big.text[:300]
    assert "50" in _envelope(big)["message"]
    # a small answer whose multi-code filters make the engine read many single-code cells (K4)
    # is stopped by the engine's result limit
    r = httpx.get(limited_app.url + "/api/v1/population",
                  params={"dimensions": "race", "agency": "DOC,BRI,ESS,HMD,MID,NOR,PLY,SUF,WOR",
                          "age_group": "18-24,25-29,30-39,40-49"},
                  timeout=HANG_GUARD_S)
    harden_capture.response("limits", r.status_code, r.headers, r.content)
    assert r.status_code == 503, (r.status_code, r.text[:300])
    err = _envelope(r)
    assert err["code"] == "engine.query_limit" and "Retry-After".lower() in {k.lower() for k in r.headers}
    assert "more rows" in err["message"] or "limit" in err["message"]


@pytest.mark.slow
def test_burst_against_engine_limits(limited_app, api_live, harden_capture):
    """Engine limits under a burst: concurrent heavy questions against tight limits all get 503
    envelopes (or 200 when small enough); the normal app keeps answering meanwhile."""
    statuses: Counter[int] = Counter()

    def fire(worker: int) -> None:
        rng = random.Random(100 + worker)
        with httpx.Client(base_url=limited_app.url, timeout=HANG_GUARD_S) as c:
            for _ in range(6):
                r = c.get("/api/v1/population", params=_heavy_params(rng, 6))
                statuses[r.status_code] += 1
                harden_capture.response("limits burst", r.status_code, r.headers, r.content)
                if r.status_code == 400:  # more combinations than one answer may list
                    assert _envelope(r)["code"] == "query.too_many_combinations", r.text[:200]
                elif r.status_code != 200:
                    assert r.status_code == 503, r.text[:200]
                    assert _envelope(r)["code"] == "engine.query_limit"

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(fire, i) for i in range(6)]
        ok = api_live.get("/api/v1/population", params={"dimensions": "agency"})
        assert ok.status_code == 200
        for f in futures:
            f.result(timeout=HANG_GUARD_S)
    assert statuses[503] + statuses[400] > 0 and set(statuses) <= {200, 400, 503}, statuses

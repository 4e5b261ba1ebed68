"""Abuse: per-client rate limiting (token bucket per client IP, 429 + Retry-After, the
standard error envelope), tested over real HTTP on a loopback server."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from crosstrack.api.ratelimit import RateLimitMiddleware, TokenBuckets, install_rate_limit

ENVELOPE_KEYS = {"status", "code", "loc", "parameter", "message", "allowed"}


class FakeClock:
    """A clock the test advances by hand, so refill is checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    def ping() -> dict:
        return {"ok": True}

    return app


def test_bucket_allows_burst_then_waits_and_refills():
    clock = FakeClock()
    b = TokenBuckets(60, clock=clock)  # one token per second
    assert all(b.take("a") == 0.0 for _ in range(60))
    wait = b.take("a")
    assert 0.0 < wait <= 1.0
    assert b.take("b") == 0.0, "another client has its own bucket"
    clock.now += 1.0
    assert b.take("a") == 0.0, "one second refills one token"
    assert b.take("a") > 0.0
    clock.now += 3600
    assert all(b.take("a") == 0.0 for _ in range(60)), "refill never exceeds the capacity"
    assert b.take("a") > 0.0


def test_bucket_table_is_bounded():
    b = TokenBuckets(5, max_clients=100)
    for i in range(1000):
        b.take(f"10.0.{i // 256}.{i % 256}")
    assert len(b) == 100


def test_bucket_rejects_zero():
    with pytest.raises(ValueError):
        TokenBuckets(0)


def test_rate_limit_429_envelope_and_retry_after_over_http(serve_asgi):
    """Abuse: the (N+1)th request in a minute gets 429, Retry-After and the standard envelope."""
    clock = FakeClock()
    app = _tiny_app()
    app.add_middleware(RateLimitMiddleware, per_minute=5, clock=clock)
    srv = serve_asgi(app)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        codes = [c.get("/ping").status_code for _ in range(5)]
        assert codes == [200] * 5
        r = c.get("/ping")
        assert r.status_code == 429
        assert r.headers["content-type"].startswith("application/json")
        retry = int(r.headers["retry-after"])
        assert 1 <= retry <= 12  # 5/min: one token every 12 s
        body = r.json()
        assert set(body) == {"error"} and set(body["error"]) == ENVELOPE_KEYS
        assert body["error"]["status"] == 429 and body["error"]["code"] == "http.rate_limited"
        assert "5 requests per minute" in body["error"]["allowed"]
        # Unknown paths count too (the limiter sits before routing) and stay 429.
        assert c.get("/nowhere").status_code == 429
        clock.now += retry
        assert c.get("/ping").status_code == 200, "after Retry-After seconds the client may ask again"


def test_rate_limit_off_when_zero(serve_asgi):
    """0 = off (the default): no limiter is installed and nothing is throttled."""
    app = _tiny_app()
    install_rate_limit(app, 0)
    srv = serve_asgi(app)
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        assert all(c.get("/ping").status_code == 200 for _ in range(200))


def test_rate_limit_is_per_client_address():
    """Each client IP has its own bucket (ASGI transport lets the test choose the peer)."""
    import anyio

    app = _tiny_app()
    install_rate_limit(app, 3)

    async def run() -> tuple[list[int], list[int]]:
        a = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.1", 1)), base_url="http://t")
        b = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.2", 1)), base_url="http://t")
        async with a, b:
            ca = [(await a.get("/ping")).status_code for _ in range(4)]
            cb = [(await b.get("/ping")).status_code for _ in range(3)]
        return ca, cb

    # a thread of its own: another test (Playwright's sync API) may leave a loop running here
    import threading

    out: list = []
    t = threading.Thread(target=lambda: out.append(anyio.run(run)))
    t.start()
    t.join(timeout=60)
    ca, cb = out[0]
    assert ca == [200, 200, 200, 429]
    assert cb == [200, 200, 200]


def test_real_app_wires_the_limiter_from_settings(api_live, serve_asgi):
    """Abuse: create_app installs the limiter from CROSSTRACK_RATE_LIMIT_PER_MINUTE; the real app
    answers 429 with Retry-After and the envelope once a client's bucket is empty, on data,
    metadata and unknown paths alike; the default (0) app is not limited."""
    import crosstrack.api.service as service_mod
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service

    settings = api_live.settings.model_copy(update={"rate_limit_per_minute": 4})
    svc = build_service(settings, engine=api_live.service.engine, model=api_live.service.model,
                        clock=api_live.service.clock)
    previous = service_mod._default
    app = create_app(settings, service=svc)
    service_mod._default = previous
    srv = serve_asgi(app)
    with httpx.Client(base_url=srv.url, timeout=30) as c:
        first = [c.get("/api/v1/population", params={"dimensions": "race"}).status_code for _ in range(4)]
        assert first == [200] * 4
        for path in ("/api/v1/population?dimensions=race", "/api/v1/population/metadata", "/nowhere", "/"):
            r = c.get(path)
            assert r.status_code == 429, (path, r.status_code)
            assert int(r.headers["retry-after"]) >= 1
            err = r.json()["error"]
            assert set(err) == ENVELOPE_KEYS and err["status"] == 429
    assert api_live.settings.rate_limit_per_minute == 0
    assert all(api_live.get("/api/v1").status_code == 200 for _ in range(30))

"""Per-client rate limiting: a token bucket per client IP, as ASGI middleware.

``CROSSTRACK_RATE_LIMIT_PER_MINUTE=N`` gives each client address a bucket of N tokens that
refills at N per minute; a request with no token left gets 429 with ``Retry-After`` (whole
seconds until the next token) and the standard error envelope. 0 (the default) turns it off,
so throughput measurements are not throttled.

The client is the socket's peer address (``scope["client"]``). ``X-Forwarded-For`` is not
trusted: any client could set it to get a fresh bucket per request. Behind a reverse proxy,
list the proxy's addresses in ``CROSSTRACK_TRUSTED_PROXIES``: only from them does uvicorn
rewrite the peer address from the header (``api.server.uvicorn_options``). The bucket table is bounded so that many distinct addresses cannot
grow memory without limit; full buckets are the ones forgotten first (forgetting a full
bucket changes nothing).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable

import orjson

from crosstrack.api.errors import ApiError

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Most client addresses tracked at once; beyond it the least recently seen are forgotten.
MAX_CLIENTS = 50_000


class TokenBuckets:
    """Token buckets keyed by client; ``take(key)`` returns 0.0 when allowed, else the wait in seconds."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS):
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1 (0 means: do not install the limiter)")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, stamp)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + max(0.0, now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait

    def wait(self, key: str) -> float:
        """The wait ``take(key)`` would return, without taking a token."""
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + max(0.0, now - stamp) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def __len__(self) -> int:
        return len(self._buckets)


def _client_key(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limited_body(per_minute: int, retry_after: int) -> bytes:
    """The standard error envelope for a 429 (``api.errors.ApiError``'s body)."""
    return orjson.dumps(ApiError(429, "http.rate_limited",
                                 f"Too many requests from this address; try again in {retry_after} s.",
                                 allowed=f"at most {per_minute} requests per minute per client").body())


class RateLimitMiddleware:
    """ASGI middleware: 429 + Retry-After once a client's bucket is empty (HTTP only)."""

    def __init__(self, app: ASGIApp, per_minute: int, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = MAX_CLIENTS):
        self.app = app
        self.per_minute = per_minute
        self.buckets = TokenBuckets(per_minute, clock=clock, max_clients=max_clients)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(_client_key(scope))
        if wait <= 0.0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        body = rate_limited_body(self.per_minute, retry_after)
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
            (b"cache-control", b"no-store"),
        ]})
        await send({"type": "http.response.body", "body": body})


def install_rate_limit(app: Any, per_minute: int) -> None:
    """Add the limiter to a Starlette/FastAPI app when ``per_minute`` > 0 (0: off)."""
    if per_minute > 0:
        app.add_middleware(RateLimitMiddleware, per_minute=per_minute)

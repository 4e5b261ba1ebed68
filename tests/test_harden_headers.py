"""Hardening, request headers: uvicorn's httptools parser accepts a header block of many
megabytes; the API refuses more than 16 KiB of header names and values with a 431 in the
standard error envelope (contracts: one envelope for every failure), before routing and before
any engine query, and never echoes the oversized header back (P3: nothing the client sent is
repeated in an error).

Requests go over real HTTP to the live app (uvicorn in a thread of this process).
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import httpx
import orjson

ENVELOPE_KEYS = {"status", "code", "loc", "parameter", "message", "allowed"}
LIMIT = 16 * 1024
QUESTION = "/api/v1/population?dimensions=snapshot_year"


def _raw_get(url: str, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 GET over a plain socket (so header sizes are exactly what we send)."""
    p = urlparse(url)
    head = f"GET {path} HTTP/1.1\r\nHost: {p.hostname}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    with socket.create_connection((p.hostname, p.port), timeout=60) as s:
        s.sendall(head.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, hdrs, body


def test_header_block_over_16kib_gets_431_envelope_and_no_query(api_live):
    """Contracts (error envelope) + abuse: 20 KiB of headers -> 431 with the envelope naming
    ``headers``; the engine runs no query for it; the header value is not echoed (P3)."""
    engine = api_live.service.engine
    calls = 0
    orig = engine.query

    def counted(*a, **kw):
        nonlocal calls
        calls += 1
        return orig(*a, **kw)

    secret = "Z" * 1000
    engine.query = counted
    try:
        status, hdrs, body = _raw_get(api_live.url, QUESTION, [(f"X-Pad-{i}", secret) for i in range(20)])
    finally:
        engine.query = orig
    assert status == 431
    assert hdrs.get("content-type", "").startswith("application/json")
    doc = orjson.loads(body)
    assert set(doc) == {"error"} and set(doc["error"]) == ENVELOPE_KEYS
    err = doc["error"]
    assert err["status"] == 431 and err["code"] == "http.headers_too_large" and err["parameter"] == "headers"
    assert str(LIMIT) in err["message"]
    assert secret[:50].encode() not in body
    assert calls == 0


def test_one_huge_header_gets_431_and_normal_requests_pass(api_live):
    """Contracts (error envelope): a single 64 KiB cookie is refused with 431; a request just under
    the limit (15 KiB of headers) is answered normally, with the same body as a plain request."""
    status, _, body = _raw_get(api_live.url, QUESTION, [("Cookie", "c=" + "a" * 64 * 1024)])
    assert status == 431 and orjson.loads(body)["error"]["status"] == 431

    plain = httpx.get(api_live.url + QUESTION, timeout=60)
    assert plain.status_code == 200
    status, hdrs, body = _raw_get(api_live.url, QUESTION, [(f"X-Pad-{i}", "y" * 1000) for i in range(15)])
    assert status == 200
    assert hdrs.get("x-content-type-options") == "nosniff"
    assert orjson.loads(body) == plain.json()


def test_431_carries_nosniff_and_no_store(api_live):
    """The 431 envelope is not cacheable and carries the security header like every answer."""
    status, hdrs, _ = _raw_get(api_live.url, QUESTION, [("X-Big", "q" * (LIMIT + 1))])
    assert status == 431
    assert hdrs.get("cache-control") == "no-store"
    assert hdrs.get("x-content-type-options") == "nosniff"

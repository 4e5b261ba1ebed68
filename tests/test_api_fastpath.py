"""Cached answers served before routing (api/fastpath.py), over real HTTP on a loopback server:
the same bytes and headers as the full way, 304 on a matching ETag, and the outer layers (CORS,
security headers, rate limits) still on every fast answer."""

from __future__ import annotations

import httpx

from crosstrack.api.app import create_app
from crosstrack.api.fastpath import FastAnswer
from crosstrack.api.compose import build_service
from tests.fixtures_api import ThreadServer

POP = "/api/v1/population"
VOLATILE = {"date", "server"}


def _fast_entries(service) -> list:
    with service.cache._lock:
        return [k for k, (v, _) in service.cache._entries.items() if isinstance(v, FastAnswer)]


def _headers(r: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in r.headers.items() if k not in VOLATILE}


def test_second_request_of_a_spelling_is_the_same_answer_served_before_routing(api_live):
    path = POP + "?dimensions=assigned_sex,race&snapshot_year=2022"
    first = api_live.get(path)
    assert first.status_code == 200
    api_live.get(path)  # (the process's very first look-up cannot yet tell whether it is still exact)
    keys = [k for k in _fast_entries(api_live.service) if k[2] == POP and b"assigned_sex,race" in k[3]]
    assert keys, "the full way's 200 answer is kept for the fast path"
    again = api_live.get(path)
    assert again.content == first.content and _headers(again) == _headers(first)
    assert again.headers["x-content-type-options"] == "nosniff"
    cors = api_live.get(path, headers={"Origin": "https://example.org"})
    assert cors.headers["access-control-allow-origin"] == "*" and cors.content == first.content
    plain = api_live.get(path)
    assert "access-control-allow-origin" not in plain.headers, "CORS headers never stick to the kept answer"


def test_etag_match_gives_304_with_the_validators_and_accept_is_part_of_the_key(api_live):
    path = POP + "?dimensions=ethnicity&snapshot_year=2021"
    r = api_live.get(path)
    api_live.get(path)  # now kept
    nm = api_live.get(path, headers={"If-None-Match": f'W/{r.headers["etag"]}, "other"'})
    assert nm.status_code == 304 and not nm.content
    assert {k: nm.headers[k] for k in ("etag", "cache-control", "vary", "link")} == \
        {k: r.headers[k] for k in ("etag", "cache-control", "vary", "link")}
    as_csv = api_live.get(path, headers={"Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv"), "Vary: Accept is honoured"
    assert api_live.get(path, headers={"Accept": "text/csv"}).content == as_csv.content


def test_rate_limit_applies_to_fast_answers(api_live):
    settings = api_live.settings.model_copy(update={"rate_limit_per_minute": 3})
    service = build_service(settings, engine=api_live.service.engine)
    server = ThreadServer(create_app(settings, service=service)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            codes = [client.get(POP + "?dimensions=race").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert _fast_entries(service), "the third answer was a fast one"
    finally:
        server.stop()

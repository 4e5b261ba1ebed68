"""Identifiers (P3/K6): a scan of every byte every endpoint returns finds no person id, episode id,
person_key, birth date, docket number or exact date from the loaded synthetic extracts.

``harden_capture`` (tests/fixtures_harden.py) scans, as they arrive, the status line, headers and
body of every response the hardening tests receive (fuzzing, injection, abuse, properties), the
SQL surface's catalogue, rows and errors, and every log record of the app. This module adds its
own sweep over every endpoint and shape (so it stands alone), then checks the whole capture.
The raw extracts hold no names (extracts.md has no name column), so names cannot leak from them.
"""

from __future__ import annotations

import itertools
import json

import httpx
import pytest


def _get(api, cap, path: str, **kw) -> httpx.Response:
    r = api.client.get(path, **kw)
    cap.response(f"sweep {path[:50]}", r.status_code, r.headers, r.content)
    return r


def test_scanner_detects_what_it_looks_for(api_live, harden_capture):
    """The scan can fail: a real person id, person_key, docket number and a birth date planted in
    a copy of the capture are each found."""
    from fixtures_harden import Capture

    probe = Capture(harden_capture.identifiers, harden_capture.allowed_dates)
    ids = sorted(harden_capture.identifiers)
    person = next(i for i in ids if i.startswith(b"SID"))
    docket = next(i for i in ids if b"CR" in i)
    key = next(i for i in ids if i.isdigit() and len(i) > 12)
    unknown_shape = next(f"E{n:08d}".encode() for n in range(10**8) if f"E{n:08d}".encode() not in ids)
    for planted in (person, docket, key, b"1987-09-20", unknown_shape):
        before = len(probe.hits)
        probe.scan("probe", b'{"x": "' + planted + b'"}')
        assert len(probe.hits) > before, planted[:4]
    before = len(probe.hits)
    probe.scan("probe", b'{"snapshot": "2024-01-01", "n": 1234}')
    assert len(probe.hits) == before, "January 1 snapshots and small numbers are not identifiers"


@pytest.mark.slow
def test_every_endpoint_and_log_is_free_of_identifiers(api_live, sql_live, harden_capture):
    """P3/K6: every endpoint, every shape, errors, headers, the SQL catalogue and rows, and the
    app's log records, over this sweep and every hardening request before it: no identifier."""
    api, cap = api_live, harden_capture
    for path in ("/", "/?dataset=population&dimensions=race", "/static/js/main.js", "/static/style.css",
                 "/static/index.html", "/static/favicon.svg", "/openapi.json", "/docs", "/healthz", "/api/v1",
                 "/cubejs-api/v1/meta", "/api/v1/nope", "/api/v1/nope/metadata", "/nowhere", "/static/nope.js"):
        _get(api, cap, path)
    listing = _get(api, cap, "/api/v1").json()
    for ds in listing["datasets"]:
        name = ds["name"]
        md = _get(api, cap, f"/api/v1/{name}/metadata").json()
        dims = [d["name"] for d in md["dimensions"] if not d.get("requires")]
        measures = ",".join(m["name"] for m in md["measures"])
        for d in dims:
            for fmt in ("json", "csv"):
                _get(api, cap, f"/api/v1/{name}", params={"dimensions": d, "measures": measures, "format": fmt,
                                                          "limit": 10000})
        for a, b in itertools.combinations(dims[:7], 2):
            _get(api, cap, f"/api/v1/{name}", params={"dimensions": f"{a},{b}", "measures": measures,
                                                      "limit": 10000})
        for code_dim in md["dimensions"][:4]:
            if code_dim["codes"]:
                _get(api, cap, f"/api/v1/{name}", params={"dimensions": "snapshot_year",
                                                          code_dim["name"]: code_dim["codes"][0]["code"]})
        # errors of every kind
        for params in ({"dimensions": "nope"}, {"measures": "nope"}, {"race": "NOPE"}, {"limit": "0"},
                       {"limit": "99999999"}, {"offset": "-1"}, {"format": "xml"}, {"order": "nope"},
                       {"dimensions": "governing_offense_type"}, {"dimensions": ",".join(dims)}):
            _get(api, cap, f"/api/v1/{name}", params=params)
        _get(api, cap, f"/api/v1/{name}", headers={"Accept": "application/xml"})
        # Cube-compatible shapes
        q = {"measures": [f"{name}.{m['name']}" for m in md["measures"]], "dimensions": [f"{name}.{dims[0]}"]}
        r = api.client.post("/cubejs-api/v1/load", json={"query": q})
        cap.response("sweep cube", r.status_code, r.headers, r.content)
        r = api.client.get("/cubejs-api/v1/load", params={"query": json.dumps(q)})
        cap.response("sweep cube", r.status_code, r.headers, r.content)
    r = api.client.options("/api/v1/population", headers={"Origin": "https://x.example",
                                                          "Access-Control-Request-Method": "GET"})
    cap.response("sweep options", r.status_code, r.headers, r.content)
    r = api.client.head("/api/v1/population?dimensions=race")
    cap.response("sweep head", r.status_code, r.headers, r.content)

    # The SQL surface: catalogue, rows of every dataset, errors.
    import psycopg

    with psycopg.connect(host=sql_live.host, port=sql_live.port, user="analyst", dbname="crosstrack",
                         autocommit=True, connect_timeout=10) as conn:
        catalogue = ["SELECT * FROM information_schema.tables", "SELECT * FROM information_schema.columns",
                     "SELECT * FROM pg_catalog.pg_tables", "SELECT * FROM pg_catalog.pg_namespace",
                     "SELECT * FROM pg_catalog.pg_class", "SELECT * FROM pg_catalog.pg_attribute",
                     "SHOW ALL", "SELECT version()", "SELECT current_database(), current_user"]
        for ds in listing["datasets"]:
            catalogue.append(f"SELECT * FROM {ds['name']}")
            catalogue.append(f"SELECT * FROM {ds['name']} LIMIT 5000")
            catalogue.append(f"SELECT snapshot_year, MEASURE({ds['measures'][0]}) FROM {ds['name']} GROUP BY 1")
        for sql in catalogue + ["SELECT person_key FROM population", "SELECT * FROM custody_facts"]:
            try:
                cur = conn.execute(sql)
                rows = cur.fetchall() if cur.description else []
                cap.scan("sql sweep", repr(rows) + repr([c.name for c in cur.description or []]))
            except psycopg.Error as err:
                cap.scan("sql sweep error", str(err))

    # Every log record of the app so far went through the capture handler.
    handler = getattr(cap, "log_handler", None)
    print(f"identifier scan: {cap.responses} HTTP responses, {cap.bytes_seen:,} bytes, "
          f"{handler.records if handler else 0} log records, sources {len(cap.by_source)}, "
          f"{len(cap.identifiers):,} identifiers looked for; hits {len(cap.hits)}")
    assert cap.responses >= 250
    assert not cap.hits, cap.hits[:20]

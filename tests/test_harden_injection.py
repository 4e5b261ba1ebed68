"""Injection: SQL-ish, path, header and unicode payloads in every parameter of the URL API, the
Cube-compatible endpoint and the SQL surface; CSV formula escaping and HTML escaping of labels
that come from a (poisoned) model file.

Every request goes over HTTP to the real app (``api_live``) or over the Postgres protocol to the
real SQL surface (``sql_live``); each answer must be a clean 2xx/4xx (never 5xx), errors in the
one envelope, nothing reflected as HTML, and the published data unchanged afterwards. Every
byte received is scanned for identifiers by ``harden_capture`` (P3/K6).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

ENVELOPE_KEYS = {"status", "code", "loc", "parameter", "message", "allowed"}
LEAK = re.compile(r"traceback|\bselect\b.*\bfrom\b|db::exception|code: \d+|clickhouse|sqlglot|file \"/", re.I)
# The SQL surface talks SQL, so SQL words are fine there; engine internals and database names are not.
SQL_LEAK = re.compile(r"traceback|db::exception|code: \d+|clickhouse|sqlglot|file \"/|_v\d+\b|person_key", re.I)

SQLISH = [
    "' OR '1'='1", "1 OR 1=1", "W' --", "W'; DROP TABLE custody_facts; --", "1; SELECT person_key FROM custody_facts",
    "race) UNION ALL SELECT person_key, 1 FROM custody_facts --", "`race`", "\"race\"", "W\\' OR 1=1#",
    "0x57", "CHAR(87)", "{fn user()}", "$1", "?", "%s", "SLEEP(10)", "toString(now())", "file('/etc/passwd')",
    "url('http://127.0.0.1:1/x')", "W/**/OR/**/1=1", "'||'", "${jndi:ldap://x/a}", "{{7*7}}", "<%= 7*7 %>",
]
PATHISH = ["../../etc/passwd", "..%2f..%2fetc%2fpasswd", "/etc/passwd", "....//....//", "C:\\windows\\win.ini",
           "%2e%2e%2f", "file:///etc/passwd"]
UNICODE = ["Ｗ", "ｗ", "W\u200b", "\u202eW", "W\u0301", "\U0001f600", "\ufeffW", "ß", "İ", "\u0000", "W\u0000B",
           "\ud7ff", "𝐖", "\u2028", "a" * 5000, "\t", "\r\nX-Injected: 1", " W ", "w", "-1", "1e309", "NaN",
           "99999999999999999999999999", "-0", "0x10", "+5", "=cmd|' /C calc'!A0", "@SUM(1+1)",
           "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>"]
PAYLOADS = SQLISH + PATHISH + UNICODE


def _fingerprint(api) -> list:
    svc = api.service
    db = svc.version().database
    out = []
    for t in ("custody_facts", "charge_facts"):
        out.append(svc.engine.query(f"SELECT count(), groupBitXor(cityHash64(*)) FROM `{db}`.`{t}`").rows[0])
    tables = svc.engine.query(f"SELECT name FROM system.tables WHERE database = '{db}' ORDER BY name").rows
    return out + [tables]


def leaks(message: str, payload: str = "") -> bool:
    """Internals in a message, not counting the user's own input echoed back in quotes."""
    text = message
    for echo in (payload, payload[:40], payload[:60], repr(payload[:40])[1:-1], repr(payload[:60])[1:-1]):
        if echo:
            text = text.replace(echo, "")
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "", text)
    return bool(LEAK.search(text))


def _without_input(message: str, given: str) -> str:
    """The message minus what the user sent (echoing one's own input back is not a leak)."""
    for piece in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", given):
        if len(piece) > 3:
            message = message.replace(piece, "")
    return re.sub(r"'[^']*'|\"[^\"]*\"", "", message)


def assert_clean(r: httpx.Response, payload: str = "") -> None:
    """Never 5xx; errors are the envelope; never HTML; the payload is never reflected as markup."""
    assert r.status_code < 500, (r.status_code, r.request.url, r.text[:300])
    ctype = r.headers.get("content-type", "")
    assert "html" not in ctype, f"{r.request.url} answered {ctype}"
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert "x-injected" not in {k.lower() for k in r.headers}
    if r.status_code >= 400:
        doc = r.json()
        if r.request.url.path.startswith("/cubejs-api/") and isinstance(doc.get("error"), str):
            # Cube's error shape (issue 15): the message string, the same detail alongside.
            assert set(doc) == {"error", "code", "loc", "parameter", "allowed", "status"}, r.text[:300]
            doc = {"error": {"status": doc["status"], "code": doc["code"], "loc": doc["loc"], "parameter": doc["parameter"],
                             "message": doc["error"], "allowed": doc["allowed"]}}
        assert set(doc) == {"error"} and set(doc["error"]) == ENVELOPE_KEYS, r.text[:300]
        assert doc["error"]["status"] == r.status_code
        assert not leaks(doc["error"]["message"], payload), doc["error"]["message"][:300]
    if "<" in payload:
        assert payload not in r.text or ctype.startswith(("application/json", "text/csv"))


def _send(api, cap, path: str, params=None, headers=None) -> httpx.Response:
    r = api.client.get(path, params=params, headers=headers)
    cap.response(f"inject {path[:40]}", r.status_code, r.headers, r.content)
    return r


@pytest.mark.slow
def test_payloads_in_every_url_parameter(api_live, harden_capture):
    """Injection (K2, K6): every payload in every parameter (reserved, each dimension filter, an
    unknown name, the dataset path) of every dataset answers 2xx/4xx cleanly; data unchanged."""
    before = _fingerprint(api_live)
    listing = api_live.get("/api/v1").json()
    sent = 0
    statuses: dict[int, int] = {}
    for ds in listing["datasets"]:
        name = ds["name"]
        params = ["dimensions", "measures", "order", "limit", "offset", "format", *ds["dimensions"], "x' OR 1=1"]
        for i, payload in enumerate(PAYLOADS):
            # every parameter gets every payload on one dataset; the others get a rotating share
            chosen = params if name == "population" else params[i % 3::3]
            for p in chosen:
                base = {"dimensions": "race", "measures": ds["measures"][0]}
                base[p] = payload
                r = _send(api_live, harden_capture, f"/api/v1/{name}", params=base)
                assert_clean(r, payload)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                sent += 1
            # as a path segment (dataset name and metadata)
            for path in (f"/api/v1/{quote(payload, safe='')}", f"/api/v1/{quote(payload, safe='')}/metadata"):
                r = _send(api_live, harden_capture, path)
                assert_clean(r, payload)
                assert r.status_code in (400, 404, 405), (path, r.status_code)
                sent += 1
    assert _fingerprint(api_live) == before, "an injection changed the published data"
    print(f"url-parameter payloads: {sent} requests, statuses {statuses}")
    assert statuses.get(200, 0) > 0 and sum(v for k, v in statuses.items() if 400 <= k < 500) > 0


def test_payloads_in_repeated_and_huge_parameter_lists(api_live, harden_capture):
    """Injection/abuse: a payload hidden among valid codes, repeated keys and comma lists."""
    for payload in SQLISH[:8] + UNICODE[:6]:
        r = _send(api_live, harden_capture, "/api/v1/population",
                  params=[("dimensions", "race"), ("race", "W"), ("race", f"B,{payload}"), ("race", "API")])
        assert_clean(r, payload)
        assert r.status_code == 400 and r.json()["error"]["parameter"] == "race"


@pytest.mark.parametrize("path", [
    "/static/../api/app.py", "/static/..%2fapp.py", "/static/%2e%2e/%2e%2e/crosstrack/config.py",
    "/static/..%252fapp.py", "/static/....//app.py", "/static//etc/passwd", "/static/%00", "/static/app.js%00.py",
    "/api/v1/population/../../../etc/passwd", "/api/v1/%2e%2e/%2e%2e/etc/passwd", "/api/v1/population%00",
    "/api/v1/population;drop", "/api/v1//population", "/%2e%2e/%2e%2e/etc/passwd", "/docs/../openapi.json",
    "/api/v1/population/metadata/../../charges", "/cubejs-api/v1/../../etc/passwd",
])
def test_path_traversal_serves_nothing_outside(api_live, harden_capture, path):
    """Injection (paths): traversal never serves a file outside api/static; errors are envelopes."""
    r = httpx.get(api_live.url + path, timeout=30)  # raw: httpx would not normalise %2e
    harden_capture.response("path", r.status_code, r.headers, r.content)
    assert r.status_code < 500
    body = r.text
    for secret in ("root:x:0:0", "def create_app", "class Settings", "person_key_secret", "import "):
        assert secret not in body, (path, r.status_code)
    if r.status_code >= 400 and "json" in r.headers.get("content-type", ""):
        assert set(r.json()["error"]) == ENVELOPE_KEYS


HEADER_CASES = [
    {"Accept": "text/html"}, {"Accept": "application/xml;q=1, */*;q=0"}, {"Accept": "';DROP TABLE x;--"},
    {"Accept": "text/csv;q=abc"}, {"Accept": "*/*;q=" + "9" * 500}, {"Accept": ",,,;;;"},
    {"If-None-Match": "\"" + "a" * 4000 + "\""}, {"If-None-Match": "*, W/\"x\", '; DROP"},
    {"X-Forwarded-For": "127.0.0.1, ' OR 1=1"}, {"X-Forwarded-Host": "evil.example"},
    {"Host": "evil.example"}, {"Host": "a" * 300}, {"Origin": "https://evil.example"},
    {"Cookie": b"session=' OR 1=1; x=\xc3\xa9\xff"}, {"X-Unicode": "\u00e9\u202e".encode("utf-8")},
    {"User-Agent": "<script>alert(1)</script>"}, {"Referer": "javascript:alert(1)"},
    {"Accept-Language": "zz-ZZ;q=2"}, {"Accept-Encoding": "br;q=1, gzip;q=0, identity;q=0"},
    {"Range": "bytes=0-1,1-2,2-3"}, {"X-Http-Method-Override": "DELETE"}, {"Content-Type": "text/csv; charset=utf-7"},
]


@pytest.mark.parametrize("headers", HEADER_CASES, ids=lambda h: next(iter(h)))
def test_header_payloads(api_live, harden_capture, headers):
    """Injection (headers): hostile headers never cause a 5xx, HTML, or a reflected Host/Origin."""
    for path in ("/api/v1/population?dimensions=race", "/api/v1/population/metadata", "/api/v1/nope",
                 "/cubejs-api/v1/meta"):
        r = httpx.get(api_live.url + path, headers=headers, timeout=30)
        harden_capture.response("header", r.status_code, r.headers, r.content)
        assert_clean(r)
        assert "evil.example" not in json.dumps(dict(r.headers)), "a hostile Host/Origin was reflected"


def test_cube_endpoint_wrong_shapes_are_400_not_500(api_live, harden_capture):
    """Injection (Cube-compatible endpoint): wrongly shaped query fields are a 400 envelope naming
    the field, never a 500 (regression: filters/order/values of the wrong JSON type used to 500)."""
    m = "population.people"
    bad = [
        {"measures": [m], "filters": 7.9e-251}, {"measures": [m], "filters": "race=W"},
        {"measures": [m], "filters": [{"member": "population.race", "operator": "equals", "values": 5}]},
        {"measures": [m], "order": [1]}, {"measures": [m], "order": ["abc"]}, {"measures": [m], "order": "x"},
        {"measures": [m], "order": [["population.people"]]}, {"measures": m}, {"measures": [m], "dimensions": "x.y"},
        {"measures": [m], "filters": [{"or": []}]}, {"measures": [m], "filters": [{"member": 5}]},
        {"measures": [m], "limit": {"a": 1}}, {"measures": [m], "limit": "1; DROP TABLE x"},
        {"measures": [{"$gt": ""}]}, {"measures": [m], "ungrouped": True}, {"measures": [m], "segments": ["x"]},
        [], "SELECT 1", None, 5, {"measures": ["population.people' OR 1=1 --"]},
        {"measures": [m], "dimensions": ["population.race"], "filters": [
            {"member": "population.race", "operator": "equals", "values": ["W' OR '1'='1"]}]},
    ]
    for q in bad:
        for r in (api_live.client.post("/cubejs-api/v1/load", json={"query": q}),
                  api_live.client.get("/cubejs-api/v1/load", params={"query": json.dumps(q)})):
            harden_capture.response("cube", r.status_code, r.headers, r.content)
            assert_clean(r)
            assert r.status_code == 400, (q, r.status_code, r.text[:200])
    for raw in (b"{", b"\xff\xfe", b"[" * 10000 + b"]" * 10000, b'{"query": "{\\"measures\\": 5}"}', b"null"):
        r = api_live.client.post("/cubejs-api/v1/load", content=raw, headers={"Content-Type": "application/json"})
        harden_capture.response("cube", r.status_code, r.headers, r.content)
        assert_clean(r)
        assert r.status_code == 400, (raw[:20], r.status_code)


SQL_ATTACKS = [
    "SELECT person_key FROM population",
    "SELECT * FROM custody_facts",
    "SELECT race, MEASURE(people) FROM population WHERE race = 'W'' OR 1=1 --' GROUP BY 1",
    "SELECT race, MEASURE(people) FROM population GROUP BY 1; DROP TABLE custody_facts",
    "SELECT race, MEASURE(people) FROM population GROUP BY 1 UNION ALL SELECT name, 1 FROM system.tables",
    "SELECT * FROM system.tables",
    "SELECT * FROM file('/etc/passwd')",
    "SELECT * FROM url('http://127.0.0.1:1/', CSV)",
    "SELECT race, MEASURE(people) FROM population WHERE race IN (SELECT race FROM population) GROUP BY 1",
    "SELECT race, min(incarceration_days) FROM population GROUP BY 1",
    "SELECT race, MEASURE(people) FROM population WHERE race LIKE '%' || (SELECT 1) GROUP BY 1",
    "SELECT race, MEASURE(people) FROM population WHERE race = U&'\\0057' GROUP BY 1",
    "SELECT race, MEASURE(people) FROM population WHERE race = 'Ｗ' GROUP BY 1",
    "SELECT race, MEASURE(people) FROM \"population\"\"; DROP\" GROUP BY 1",
    "SELECT race, MEASURE(people) FROM population WHERE race = E'\\x57' GROUP BY 1",
    "SELECT race, MEASURE(people) FROM population GROUP BY 1 LIMIT 99999999999999999999",
    "SELECT race, MEASURE(people) FROM population GROUP BY 1 OFFSET -1",
    "COPY population TO '/tmp/x'",
    "CREATE TABLE x (a int)",
    "INSERT INTO population VALUES (1)",
    "SET allow_ddl = 1",
    "SELECT pg_sleep(10)",
    "SELECT version(); SELECT 1",
    "\x00SELECT 1",
    "SELECT '" + "a" * 100_000 + "'",
    "SELECT " + ", ".join(["race"] * 500) + " FROM population GROUP BY 1",
]


def test_sql_surface_injection(sql_live, harden_capture):
    """Injection (SQL surface, K2/K6): attack statements are refused with a Postgres error (or
    answered through disclosure control); the connection and the data survive; nothing leaks."""
    import psycopg

    before = _fingerprint(sql_live.api)
    conn = psycopg.connect(host=sql_live.host, port=sql_live.port, user="analyst", dbname="crosstrack",
                           autocommit=True, connect_timeout=10)
    refused = answered = 0
    answered_sql: list[tuple[str, int]] = []
    try:
        for sql in SQL_ATTACKS:
            try:
                cur = conn.execute(sql)
                rows = cur.fetchall() if cur.description else []
                harden_capture.scan("sql rows", repr(rows) + repr([c.name for c in (cur.description or [])]))
                answered += 1
                answered_sql.append((sql[:70], len(rows)))
                for row in rows:
                    for v in row:
                        assert not (isinstance(v, str) and "person_key" in v), "catalogue leaked a fact column"
            except psycopg.Error as err:
                refused += 1
                text = str(err) + " " + str(getattr(err.diag, "message_hint", "") or "")
                harden_capture.scan("sql error", text)
                assert not SQL_LEAK.search(_without_input(str(err), sql)), str(err)[:300]
                if conn.broken or conn.closed:
                    conn = psycopg.connect(host=sql_live.host, port=sql_live.port, user="analyst",
                                           dbname="crosstrack", autocommit=True, connect_timeout=10)
            # the server still answers a good question after every attack
            ok = conn.execute("SELECT race, MEASURE(people) FROM population GROUP BY 1").fetchall()
            assert ok, "the SQL surface stopped answering after an attack"
            harden_capture.scan("sql rows", repr(ok))
        # parameters are values, never SQL: payloads bound through the extended protocol
        for payload in SQLISH[:10] + UNICODE[:8]:
            try:
                rows = conn.execute("SELECT race, MEASURE(people) FROM population WHERE race = %s GROUP BY 1",
                                    (payload,)).fetchall()
                harden_capture.scan("sql rows", repr(rows))
                assert rows == [], f"a bound payload matched rows: {payload!r}"
            except psycopg.Error as err:
                harden_capture.scan("sql error", str(err))
                assert not SQL_LEAK.search(_without_input(str(err), payload)), str(err)[:300]
    finally:
        conn.close()
    assert refused >= len(SQL_ATTACKS) // 2, f"only {refused} attack statements refused"
    assert _fingerprint(sql_live.api) == before
    print(f"SQL surface: {len(SQL_ATTACKS)} attack statements ({refused} refused, {answered} answered), "
          f"{len(SQLISH[:10] + UNICODE[:8])} bound payloads; answered: {answered_sql}")


def test_sql_catalogue_has_no_fact_columns(sql_live, harden_capture):
    """K6: the SQL surface's catalogue lists datasets and published columns only (no person_key,
    record_key or raw fact table)."""
    import psycopg

    with psycopg.connect(host=sql_live.host, port=sql_live.port, user="analyst", dbname="crosstrack",
                         autocommit=True, connect_timeout=10) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        cols = conn.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall()
    harden_capture.scan("sql catalogue", repr(tables) + repr(cols))
    names = {c for _, c in cols} | {t for _, t in tables}
    for hidden in ("person_key", "record_key", "cell_key", "custody_facts", "charge_facts", "load_history"):
        assert hidden not in names, hidden


# --- a poisoned model: labels with formulas and markup go through the real app ------------------------
POISON = {
    "White": '=HYPERLINK("http://evil.example/x","click")',
    "Black / African American": "+1+cmd|' /C calc'!A0",
    "Asian / Pacific Islander": "-2+3",
    "American Indian / Alaska Native": "@SUM(1+1)",
    "Other / Unknown": '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>',
}


@pytest.fixture(scope="module")
def poisoned_app(api_live, tmp_path_factory, serve_asgi_module):
    """The real app on the same data, with a model whose race labels are formulas and markup."""
    from crosstrack import cube
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service

    models = tmp_path_factory.mktemp("poisoned-models")
    for f in Path(api_live.settings.models_dir).glob("*.yml"):
        text = f.read_text(encoding="utf-8")
        for good, evil in POISON.items():  # codes are written `CODE: label` (a mapping)
            text = re.sub(rf"^(\s+[A-Z0-9_+-]+): {re.escape(good)}$", lambda m: f"{m.group(1)}: {json.dumps(evil)}",
                          text, flags=re.M)
        (models / f.name).write_text(text, encoding="utf-8")
    settings = api_live.settings.model_copy(update={"models_dir": models})
    svc = build_service(settings, engine=api_live.service.engine, model=cube.load_model(models),
                        clock=api_live.service.clock)  # same published data and version
    app = create_app(settings, service=svc)
    from crosstrack.api.service import set_default_service

    set_default_service(api_live.service)  # the poisoned service must not become the default
    return serve_asgi_module(app)


def test_csv_escapes_formula_cells_from_model_labels(poisoned_app, harden_capture):
    """CSV injection: cells starting with = + - @ (labels from a model) are neutralised in CSV,
    and JSON keeps the label as data."""
    import csv
    import io

    r = httpx.get(poisoned_app.url + "/api/v1/population", params={"dimensions": "race", "format": "csv"}, timeout=60)
    harden_capture.response("csv", r.status_code, r.headers, r.content)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    labels = {row[0]: row[1] for row in rows[1:]}
    assert set(labels) == {"AI", "API", "B", "OU", "W"}, labels
    for code, label in labels.items():
        assert not label.startswith(("=", "+", "-", "@", "\t", "\r")), f"{code}: formula cell {label!r}"
    assert labels["W"] == "'" + POISON["White"]
    assert labels["AI"] == "'" + POISON["American Indian / Alaska Native"]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    j = httpx.get(poisoned_app.url + "/api/v1/population", params={"dimensions": "race"}, timeout=60)
    assert j.headers["content-type"].startswith("application/json")
    assert {row["race_label"] for row in j.json()["data"]} == set(POISON.values())


@pytest.mark.browser
def test_page_renders_markup_labels_as_text(poisoned_app, new_page):
    """XSS: a model label holding <script>/<img onerror> is shown as text in the real page (Chromium)
    and never runs; the data flows from the poisoned model through the API into the table."""
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(poisoned_app.url + "/?dataset=population&dimensions=race&measures=people")
    page.wait_for_selector('#api-url[data-state="canonical"]')
    page.wait_for_function("() => !document.getElementById('results').hasAttribute('aria-busy')")
    page.wait_for_function("() => document.querySelectorAll('#table tbody tr').length > 0")
    table_text = page.inner_text("#table")
    assert POISON["Other / Unknown"] in table_text, "the label should be visible as literal text"
    assert page.evaluate("window.__xss") is None
    assert page.locator("#table img, #table script").count() == 0
    assert not dialogs

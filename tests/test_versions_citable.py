"""Issue 16: kept versions, rollback, retention, and citable answers.

``data_version=vN`` on the URL API, the Cube endpoint and the SQL surface (``SET
crosstrack.data_version``) answers from that kept version with the same disclosure control; the
canonical URL carries the version; such answers are immutable; a version removed by retention
answers 410 naming the current one; a rollback republishes a kept version atomically and
retention never removes the published version.

One module-scoped data set: three small synthetic loads (seeds 11, 12, 13) into their own
database on the session's in-process chDB engine, served by the real app and SQL surface.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from crosstrack.config import load_settings
from crosstrack.engine import Engine
from fixtures_api import ThreadServer
from fixtures_loaders import load, write_extract

Q = {"dimensions": "race,snapshot_year", "measures": "people"}
CUBE = {"measures": ["population.people"], "dimensions": ["population.race", "population.snapshot_year"]}
SQL = "SELECT race, snapshot_year, MEASURE(people) FROM population GROUP BY 1, 2 ORDER BY 1, 2"
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass
class Cite:
    settings: Any
    url: str
    client: httpx.Client
    sql: tuple[str, int]
    extracts: dict[int, Path]
    answers: dict[str, list]  # version -> URL API data while it was the published one
    cube: dict[str, list]
    sql_rows: dict[str, list]


def _sql(host: str, port: int, *statements: str) -> list:
    with psycopg.connect(host=host, port=port, dbname="crosstrack", user="analyst", autocommit=True,
                         sslmode="disable", connect_timeout=10) as conn:
        rows: list = []
        for st in statements:
            cur = conn.execute(st)
            rows = cur.fetchall() if cur.description else rows
        return rows


@pytest.fixture(scope="module")
def cite(tmp_path_factory) -> Any:
    from crosstrack.api.app import create_app
    from crosstrack.api.pgwire.server import start_sql_server
    from crosstrack.api.compose import build_service
    from crosstrack.loaders.generate import generate_extracts

    base = tmp_path_factory.mktemp("cite")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=base / "data", database="cite_versions",
                             person_key_secret="cite-secret", snapshot_years=[2023, 2024], keep_versions=3)
    extracts = {}
    for seed in (11, 12, 13, 14):
        extracts[seed] = base / f"e{seed}"
        generate_extracts(extracts[seed], seed=seed, scale=0.05, fmt="csv", years=settings.snapshot_years)
    service = build_service(settings)
    server = ThreadServer(create_app(settings, service=service)).start()
    stop_sql = start_sql_server(settings, service, host="127.0.0.1", port=0)
    client = httpx.Client(base_url=server.url, timeout=60)
    answers, cube, sql_rows = {}, {}, {}
    try:
        for seed in (11, 12, 13):
            assert load(settings, extracts[seed]) == 0
            r = client.get("/api/v1/population", params=Q).json()
            answers[r["meta"]["data_version"]] = r["data"]
            cube[r["meta"]["data_version"]] = client.get("/cubejs-api/v1/load",
                                                         params={"query": json.dumps(CUBE)}).json()["data"]
            sql_rows[r["meta"]["data_version"]] = _sql(*stop_sql.address, SQL)
        assert list(answers) == ["v1", "v2", "v3"]
        assert answers["v1"] != answers["v2"] != answers["v3"], "the seeds must give different answers"
        yield Cite(settings, server.url, client, stop_sql.address, extracts, answers, cube, sql_rows)
    finally:
        client.close()
        stop_sql()
        server.stop()


def test_url_api_answers_from_a_kept_version_immutably(cite):
    for v in ("v1", "v2", "v3"):
        r = cite.client.get("/api/v1/population", params={**Q, "data_version": v})
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        assert body["meta"]["data_version"] == v
        assert body["data"] == cite.answers[v], "a kept version answers what it answered when published"
        assert f"data_version={v}" in body["meta"]["canonical_url"]
        assert r.headers["cache-control"] == IMMUTABLE
        assert f"data_version={v}" in r.headers["link"]
        # the canonical URL itself gives the same bytes
        again = cite.client.get(body["meta"]["canonical_url"])
        assert again.content == r.content
    plain = cite.client.get("/api/v1/population", params=Q)
    assert plain.json()["meta"]["data_version"] == "v3" and plain.headers["cache-control"] != IMMUTABLE
    assert "data_version" not in plain.json()["meta"]["canonical_url"]


def test_cube_and_sql_answer_from_a_kept_version(cite):
    r = cite.client.get("/cubejs-api/v1/load", params={"query": json.dumps(CUBE), "data_version": "v1"})
    assert r.status_code == 200 and r.headers["cache-control"] == IMMUTABLE
    assert r.json()["data"] == cite.cube["v1"] and r.json()["crosstrack"]["data_version"] == "v1"
    assert "data_version=v1" in r.json()["crosstrack"]["canonical_url"]
    r = cite.client.post("/cubejs-api/v1/load", json={"query": CUBE, "data_version": "v2"})
    assert r.json()["data"] == cite.cube["v2"] and r.json()["crosstrack"]["data_version"] == "v2"
    host, port = cite.sql
    assert _sql(host, port, "SET crosstrack.data_version = 'v1'", SQL) == cite.sql_rows["v1"]
    assert _sql(host, port, "SET crosstrack.data_version = 'v2'", "SHOW crosstrack.data_version") == [("v2",)]
    assert _sql(host, port, "SET crosstrack.data_version = 'v2'", "RESET crosstrack.data_version", SQL) \
        == cite.sql_rows["v3"]


def test_unknown_and_malformed_versions(cite):
    r = cite.client.get("/api/v1/population", params={**Q, "data_version": "v99"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "data.unknown_version"
    assert "current version is v3" in r.json()["error"]["message"]
    r = cite.client.get("/api/v1/population", params={**Q, "data_version": "latest"})
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "data_version"


def test_rollback_retention_and_410(cite):
    """Rollback republishes a kept version at once; a failed load leaves it; retention after the
    next load keeps CROSSTRACK_KEEP_VERSIONS newest and never the published one away; a removed
    version answers 410 naming the current one on every surface."""
    from crosstrack.loaders.publish import rollback, version_states

    s = cite.settings
    engine = Engine.from_settings(s)
    assert rollback(engine, s, "v1").version_id == "v1"
    r = cite.client.get("/api/v1/population", params=Q).json()
    assert r["meta"]["data_version"] == "v1" and r["data"] == cite.answers["v1"]
    # a failed load (an extract with a broken header) with a smaller retention changes nothing:
    bad = write_extract(cite.extracts[11].parent / "bad", people=[], episodes=[])
    (bad / "people.csv").write_text("nonsense\n1\n")
    two = s.model_copy(update={"keep_versions": 2})
    assert load(two, bad) != 0
    states = {st.version.version_id: st for st in version_states(engine, s)}
    assert states["v1"].published and states["v1"].kept, "retention kept the published version"
    assert cite.client.get("/api/v1/population", params=Q).json()["meta"]["data_version"] == "v1"
    # a good load publishes v4; retention (2) then keeps v4 and v3 only
    assert load(two, cite.extracts[14]) == 0
    states = {st.version.version_id: st for st in version_states(engine, s)}
    assert [v for v, st in states.items() if st.kept] == ["v4", "v3"] and states["v4"].published
    for v in ("v1", "v2"):
        r = cite.client.get("/api/v1/population", params={**Q, "data_version": v})
        assert r.status_code == 410, r.text[:200]
        err = r.json()["error"]
        assert err["code"] == "data.version_removed" and "current version is v4" in err["message"]
        assert err["allowed"] == ["v4", "v3"] and r.headers["cache-control"] == "no-store"
    r = cite.client.get("/cubejs-api/v1/load", params={"query": json.dumps(CUBE), "data_version": "v2"})
    assert r.status_code == 410
    with pytest.raises(psycopg.Error) as info:
        _sql(*cite.sql, "SET crosstrack.data_version = 'v2'")
    assert "current version is v4" in str(info.value)
    # rolling back with no version goes to the kept one before the published one
    assert rollback(engine, s).version_id == "v3"
    assert cite.client.get("/api/v1/population", params=Q).json()["data"] == cite.answers["v3"]

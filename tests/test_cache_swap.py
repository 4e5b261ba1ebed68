"""The result cache in the running API: shared by every surface, never stale after a publish.

Real loads into the process's chDB engine (database ``cache_swap``), the real app served by
uvicorn on a loopback port: load version A, ask, load version B, ask again — every surface
(URL API JSON and CSV bytes, the Cube-compatible endpoint, ``Service.answer`` which the SQL
surface uses) gives B's answer (contracts.md "Published data"; K2 every shape; K3 the same
question gets the same bytes while the version stands).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from crosstrack.config import load_settings

DATABASE = "cache_swap"
QUESTION = {"dimensions": "snapshot_year,offender_status", "measures": "people"}


def _load(settings, extracts: Path, seed: int) -> None:
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.pipeline import run_load

    generate_extracts(extracts, seed=seed, scale=0.04, fmt="csv", years=settings.snapshot_years)
    code = run_load(settings, extracts, max_rejects=1_000_000, rejects_report=extracts.parent / f"rejects{seed}.csv",
                    console=None)
    assert code == 0


@pytest.fixture(scope="module")
def swap_env(tmp_path_factory):
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service

    data_dir = tmp_path_factory.mktemp("cache-swap")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=data_dir, database=DATABASE,
                             person_key_secret="cache-swap-secret", k=5, cache_bytes=8_000_000)
    _load(settings, data_dir / "a", seed=101)
    service = build_service(settings)
    app = create_app(settings, service=service)
    return settings, service, app, data_dir


def test_no_stale_answer_after_a_swap_on_every_surface_k2(swap_env, serve_asgi):
    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service

    settings, service, app, data_dir = swap_env
    server = serve_asgi(app)
    client = httpx.Client(base_url=server.url, timeout=60)
    cube_q = {"query": json.dumps({"measures": ["population.people"], "dimensions": ["population.snapshot_year"]})}

    a_json = client.get("/api/v1/population", params=QUESTION)
    a_csv = client.get("/api/v1/population", params={**QUESTION, "format": "csv"})
    a_cube = client.get("/cubejs-api/v1/load", params=cube_q)
    assert a_json.status_code == a_csv.status_code == a_cube.status_code == 200
    version_a = a_json.json()["meta"]["data_version"]

    # K3: asked again under the same version, the cached bytes are identical (and served from cache).
    hits = service.cache.stats.hits
    again = client.get("/api/v1/population", params=QUESTION)
    assert again.content == a_json.content and again.headers["etag"] == a_json.headers["etag"]
    assert client.get("/api/v1/population", params={**QUESTION, "format": "csv"}).content == a_csv.content
    assert service.cache.stats.hits >= hits + 2
    assert client.get("/api/v1/population", params=QUESTION,
                      headers={"If-None-Match": a_json.headers["etag"]}).status_code == 304

    _load(settings, data_dir / "b", seed=202)  # publish version B while the server runs

    b_json = client.get("/api/v1/population", params=QUESTION)
    b_csv = client.get("/api/v1/population", params={**QUESTION, "format": "csv"})
    b_cube = client.get("/cubejs-api/v1/load", params=cube_q)
    version_b = b_json.json()["meta"]["data_version"]
    assert version_b != version_a
    # An old ETag no longer matches: the client gets the new body, not a 304.
    assert client.get("/api/v1/population", params=QUESTION,
                      headers={"If-None-Match": a_json.headers["etag"]}).status_code == 200

    # B's answer is what a process with no cache at all computes now.
    fresh = build_service(settings, cache=ResultCache(0))  # no cache, its own version clock
    truth = fresh.answer("population", QUESTION)
    assert truth.version.version_id == version_b
    assert b_json.json()["data"] == truth.rows
    assert b_json.json()["data"] != a_json.json()["data"]
    assert b_csv.content != a_csv.content
    assert b_cube.json()["data"] != a_cube.json()["data"]
    via_service = service.answer("population", QUESTION)  # the SQL surface's path
    assert via_service.version.version_id == version_b and via_service.rows == truth.rows

    # Nothing of version A is left in the cache.
    assert service.cache.current_version == version_b
    assert all(key[0] == version_b for key in list(service.cache._entries))
    client.close()


def test_cache_is_shared_by_url_api_cube_endpoint_and_service_k2(swap_env, serve_asgi):
    """One result computed for one surface is reused by the others (same canonical question)."""
    settings, service, app, _ = swap_env
    server = serve_asgi(app)
    q = {"dimensions": "agency", "measures": "people"}
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get("/api/v1/custody", params=q).status_code == 200
        stores = service.cache.stats.stores
        hits = service.cache.stats.hits
        cube = client.get("/cubejs-api/v1/load", params={"query": json.dumps(
            {"measures": ["custody.people"], "dimensions": ["custody.agency"], "limit": 1000})})
        assert cube.status_code == 200
        service.answer("custody", q)
    assert service.cache.stats.hits >= hits + 2
    # The Cube endpoint stored no new full result: it reused the URL API's.
    assert service.cache.stats.stores == stores


def test_cache_respects_its_byte_budget_under_many_questions(swap_env):
    settings, service, _, _ = swap_env
    years = [str(y) for y in settings.snapshot_years]
    for dims in ("agency", "race", "age_group", "agency,race", "race,ethnicity", "agency,age_group"):
        for y in years:
            service.answer("population", {"dimensions": dims, "snapshot_year": y})
    assert 0 < service.cache.bytes_used <= settings.cache_bytes

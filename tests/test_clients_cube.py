"""Cube's own clients, unchanged, against the live server (issue 15).

``@cubejs-client/core`` 1.x and 0.35 come from npm (tests/clients/cubejs, pinned by its
package-lock.json and installed by scripts/test.sh); ``cubejs-client-python`` from PyPI. Both send
``queryType=multi`` on every ``load()`` and an ``Authorization`` header, and read errors as strings.
What they show must be the URL API's answer for the same question (K2), withheld cells included.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

CUBEJS = Path(__file__).resolve().parent / "clients" / "cubejs"


def _year(api_live) -> str:
    return str(max(api_live.settings.snapshot_years))


def _url_api(api_live, year: str) -> dict[tuple[str, str], tuple]:
    r = api_live.get("/api/v1/population", params={"dimensions": "race,assigned_sex", "snapshot_year": year,
                                                   "limit": "1000"})
    assert r.status_code == 200, r.text
    return {(a["race"], a["assigned_sex"]): (a["people"], a["suppressed"]) for a in r.json()["data"]}


@pytest.mark.slow
@pytest.mark.parametrize("package", ["cube-core-1", "cube-core-035"])
def test_cubejs_client_core_load_pivots_meta_and_error(api_live, package):
    node = shutil.which("node")
    assert node, "scripts/test.sh installs node and npm"
    assert (CUBEJS / "node_modules" / package).is_dir(), "scripts/test.sh runs npm ci in tests/clients/cubejs"
    year = _year(api_live)
    run = subprocess.run([node, str(CUBEJS / "drive.cjs"), package, api_live.url, year], capture_output=True,
                         text=True, timeout=120, cwd=CUBEJS)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["cubes"] == sorted(api_live.service.catalog)
    assert "population.people" in out["members"]

    want = _url_api(api_live, year)
    got = {(r["population.race"], r["population.assigned_sex"]): (r["population.people"], r["population.suppressed"])
           for r in out["rawData"]}
    assert {k: (None if v[0] is None else int(v[0]), v[1]) for k, v in got.items()} == want
    assert any(s for _, s in want.values()), "the fixture has withheld cells"
    # tablePivot: one row per (race, sex) with the measure; chartPivot: one point per race, a series per sex.
    assert len(out["tablePivot"]) == len(want)
    assert {"population.race", "population.assigned_sex", "population.people"} <= set(out["tableColumns"])
    # chartPivot's default x axis is every dimension, in the query's (model's) order.
    dims = [d.split(".")[1] for d in out["pivotDimensions"]]
    pairs = {tuple(p["x"].split(",")) for p in out["chartPivot"]}
    assert {(d[dims.index("race")], d[dims.index("assigned_sex")]) for d in pairs} == set(want)
    assert out["seriesNames"] and all(k.endswith("population.people") for k in out["seriesNames"])
    if "dryRun" in out:
        assert out["dryRun"] == 1
    if "sql" in out:
        assert "MEASURE(people)" in out["sql"] and "FROM population" in out["sql"]
    err = out["error"]
    assert err is not None and "population.colour" in err["message"] and "[object Object]" not in err["message"]
    assert err["status"] == 400


def test_cube_multi_shape_string_errors_authorization_dry_run_and_sql(api_live):
    """The REST shapes Cube's clients depend on, asked directly."""
    year = _year(api_live)
    q = {"measures": ["population.people"], "dimensions": ["population.race"],
         "filters": [{"member": "population.snapshot_year", "operator": "equals", "values": [year]}]}
    headers = {"Authorization": "any-token-the-client-was-given"}  # public API: accepted, not needed
    r = api_live.get("/cubejs-api/v1/load", params={"query": json.dumps(q), "queryType": "multi"}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["queryType"] == "regularQuery" and len(body["results"]) == 1
    assert body["pivotQuery"]["measures"] == ["population.people"]
    single = api_live.client.post("/cubejs-api/v1/load", json={"query": q}, headers=headers).json()
    assert body["results"][0]["data"] == single["data"]
    bad = api_live.client.post("/cubejs-api/v1/load", json={"query": {"measures": ["population.colour"]},
                                                            "queryType": "multi"})
    assert bad.status_code == 400
    e = bad.json()
    assert isinstance(e["error"], str) and "population.colour" in e["error"]
    assert e["code"] == "query.unknown_member" and e["parameter"] == "query.measures"
    assert "population.people" in e["allowed"]
    dry = api_live.get("/cubejs-api/v1/dry-run", params={"query": json.dumps(q)}).json()
    assert dry["normalizedQueries"][0]["dimensions"] == ["population.race"]
    assert dry["queryType"] == "regularQuery"
    sql = api_live.client.post("/cubejs-api/v1/sql", json={"query": q}).json()["sql"]
    text, params = sql["sql"]
    assert params == [] and text.startswith("SELECT race, MEASURE(people) AS people")
    assert sql["crosstrack"]["canonical_url"].startswith("/api/v1/population?")


def test_cubejs_client_python_load_pivot_pandas_meta_and_error(api_live):
    from cubejs_client import RequestError, cube

    year = _year(api_live)
    client = cube("public-api-token-ignored", api_url=api_live.url + "/cubejs-api/v1")
    meta = client.meta()
    assert sorted(c["name"] for c in meta.cubes) == sorted(api_live.service.catalog)
    rs = client.load({"measures": ["population.people"], "dimensions": ["population.race", "population.assigned_sex"],
                      "filters": [{"member": "population.snapshot_year", "operator": "equals", "values": [year]}]})
    want = _url_api(api_live, year)
    raw = {(r["population.race"], r["population.assigned_sex"]): (r["population.people"], r["population.suppressed"])
           for r in rs.raw_data()}
    assert {k: (None if v[0] is None else int(v[0]), v[1]) for k, v in raw.items()} == want  # withheld stays null
    table = rs.table_pivot()
    assert len(table) == len(want)
    # Cube's pivots (this client's as the JS one's) draw a null measure as 0; the published cells match.
    got = {(r["population.race"], r["population.assigned_sex"]): r["population.people"] for r in table}
    assert {k: int(v) for k, v in got.items() if not want[k][1]} == {k: v[0] for k, v in want.items() if not v[1]}
    assert len(rs.chart_pivot()) == len(want)
    df = rs.to_pandas()
    assert len(df) == len(want)
    with pytest.raises(RequestError) as info:
        client.load({"measures": ["population.colour"]})
    assert "population.colour" in str(info.value) and info.value.status == 400

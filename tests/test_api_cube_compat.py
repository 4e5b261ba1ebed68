"""The Cube-compatible endpoint (/cubejs-api/v1/load and /meta, GET and POST) goes through the
same disclosure control as the URL API (K2)."""

from __future__ import annotations

import json


def _load_get(api, query: dict):
    return api.get("/cubejs-api/v1/load", params={"query": json.dumps(query)})


def test_meta_hides_internal_members(api_live):
    for r in (api_live.get("/cubejs-api/v1/meta"), api_live.client.post("/cubejs-api/v1/meta")):
        assert r.status_code == 200
        cubes = r.json()["cubes"]
        assert {c["name"] for c in cubes} == {"population", "custody", "incarceration_time", "charges", "programs",
                                              "recidivism"}
        text = r.text
        assert "cell_key" not in text and "custody_snapshot" not in text
        assert "release_cohort" not in text and "court_available" not in text
        pop = next(c for c in cubes if c["name"] == "population")
        assert any(m["name"] == "population.people" for m in pop["measures"])


def test_k2_load_get_and_post_match_url_api(api_live):
    """K2: same rows, same suppression and same perturbed values as the URL API."""
    q = {"measures": ["incarceration_time.people", "incarceration_time.mean_days"],
         "dimensions": ["incarceration_time.agency", "incarceration_time.race"],
         "filters": [{"member": "incarceration_time.snapshot_year", "operator": "equals", "values": ["2022"]}]}
    g = _load_get(api_live, q)
    p = api_live.client.post("/cubejs-api/v1/load", json={"query": q})
    assert g.status_code == p.status_code == 200, g.text
    assert g.json()["data"] == p.json()["data"]
    url = api_live.get("/api/v1/incarceration_time", params={"dimensions": "agency,race", "measures": "mean_days",
                                                             "snapshot_year": "2022", "limit": 10000}).json()["data"]
    cube_rows = g.json()["data"]
    assert len(url) == len(cube_rows)
    for a, b in zip(url, cube_rows):
        assert a["agency"] == b["incarceration_time.agency"] and a["race"] == b["incarceration_time.race"]
        assert a["people"] == b["incarceration_time.people"] and a["mean_days"] == b["incarceration_time.mean_days"]
        assert a["suppressed"] == b["incarceration_time.suppressed"]
    assert any(r["incarceration_time.suppressed"] for r in cube_rows)
    for r in cube_rows:
        if r["incarceration_time.suppressed"]:
            assert r["incarceration_time.people"] is None and r["incarceration_time.mean_days"] is None
    body = g.json()
    assert body["annotation"]["measures"]["incarceration_time.mean_days"]["title"]
    assert body["crosstrack"]["canonical_url"].startswith("/api/v1/incarceration_time?")


def test_cube_order_limit_offset_total(api_live):
    q = {"measures": ["population.people"], "dimensions": ["population.race"],
         "order": {"population.people": "desc"}, "limit": 2, "offset": 1, "total": True}
    body = _load_get(api_live, q).json()
    assert len(body["data"]) == 2 and body["total"] == 5
    full = _load_get(api_live, {"measures": ["population.people"], "dimensions": ["population.race"],
                                "order": [["population.people", "desc"]]}).json()["data"]
    assert body["data"] == full[1:3]


def test_cube_not_equals_filter(api_live):
    q = {"measures": ["population.people"], "dimensions": ["population.race"],
         "filters": [{"member": "population.race", "operator": "notEquals", "values": ["W"]}]}
    races = [r["population.race"] for r in _load_get(api_live, q).json()["data"]]
    assert "W" not in races and races


def test_cube_refuses_hidden_members_and_person_level(api_live):
    """K2/K6: the cell key is unknown here; ungrouped (person-level) queries are refused."""
    r = _load_get(api_live, {"measures": ["population.cell_key"]})
    assert r.status_code == 400 and r.json()["code"] == "query.unknown_member" and isinstance(r.json()["error"], str)
    r = _load_get(api_live, {"measures": ["population.people"], "ungrouped": True})
    assert r.status_code == 400
    r = _load_get(api_live, {"measures": ["custody_snapshot.people"]})
    assert r.status_code == 404
    r = api_live.get("/cubejs-api/v1/load", params={"query": "{not json"})
    assert r.status_code == 400 and r.json()["parameter"] == "query"
    r = _load_get(api_live, {"measures": ["population.people"], "dimensions": ["population.governing_offense_type"]})
    assert r.status_code == 422  # R13 holds here too

"""The URL API over real HTTP on chDB with synthetic data: every parameter, every error, both
formats, ETag/304, CORS, OpenAPI (issue 6; K1, K2, K3, R13)."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest

from crosstrack.api.formats import _cell

POP = "/api/v1/population"


def _rows(resp: httpx.Response) -> list[dict]:
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def _err(resp: httpx.Response, status: int, code: str, parameter: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    e = body["error"]
    assert set(e) == {"status", "code", "loc", "parameter", "message", "allowed"}
    assert e["status"] == status and e["code"] == code
    if parameter is not None:
        assert e["parameter"] == parameter
    text = resp.text.lower()
    assert not re.search(r"select\b.*\bfrom\b", text), "error leaks SQL"
    for leak in ("traceback", "custody_facts", "person_key", "record_key", "api_http_v"):
        assert leak not in text, f"error leaks {leak!r}"
    return e


# --- discovery ---------------------------------------------------------------------------------
def test_list_datasets(api_live):
    body = api_live.get("/api/v1").json()
    names = [d["name"] for d in body["datasets"]]
    assert names == ["population", "custody", "incarceration_time", "charges", "programs", "recidivism"]
    assert body["data_version"]
    for d in body["datasets"]:
        assert d["links"]["metadata"] == f"/api/v1/{d['name']}/metadata"
        assert "cell_key" not in d["measures"]


def test_metadata_from_engine_meta(api_live):
    r = api_live.get("/api/v1/incarceration_time/metadata")
    assert r.status_code == 200
    m = r.json()
    assert m["data_version"] == api_live.service.version().version_id and m["loaded_at"]
    assert m["snapshot_years"] and set(m["snapshot_years"]) <= {str(y) for y in api_live.settings.snapshot_years}
    dims = {d["name"]: d for d in m["dimensions"]}
    assert {"code": "W", "label": "White"} in dims["race"]["codes"]
    assert dims["race"]["description"]
    meas = {x["name"]: x for x in m["measures"]}
    assert meas["median_days"]["disclosure_kind"] == "median" and meas["median_days"]["published_with"] == "people"
    assert "middle" in meas["median_days"]["description"].lower()
    assert m["disclosure"]["k"] == 5 and "counts_table" in m["disclosure"]["perturbation"]
    # R13 requirements are described
    pop = api_live.get("/api/v1/population/metadata").json()
    gov = {d["name"]: d for d in pop["dimensions"]}["governing_offense_type"]
    assert gov["requires"]["dimension"] == "offender_status"
    # ETag / 304 on metadata too
    r2 = api_live.get("/api/v1/incarceration_time/metadata", headers={"If-None-Match": r.headers["etag"]})
    assert r2.status_code == 304


def test_healthz(api_live):
    r = api_live.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["data_version"]


def test_openapi_and_docs(api_live):
    spec = api_live.get("/openapi.json").json()
    for name in ("population", "custody", "incarceration_time", "charges", "programs"):
        op = spec["paths"][f"/api/v1/{name}"]["get"]
        params = {p["name"]: p for p in op["parameters"]}
        assert {"dimensions", "measures", "order", "limit", "offset", "format", "snapshot_year"} <= set(params)
        assert "example" in params["dimensions"]
        assert {"200", "400", "404", "422", "503"} <= set(op["responses"])
    assert "W" in {p["name"]: p for p in spec["paths"]["/api/v1/population"]["get"]["parameters"]}["race"]["schema"]["items"]["enum"]
    assert "/cubejs-api/v1/load" in spec["paths"] and "Error" in spec["components"]["schemas"]
    docs = api_live.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_cors_open_for_get(api_live):
    r = api_live.get(POP, headers={"Origin": "https://example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    pre = api_live.client.options(POP, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200 and "GET" in pre.headers["access-control-allow-methods"]


# --- query parameters -------------------------------------------------------------------------
def test_json_shape_and_meta(api_live):
    r = api_live.get(POP, params={"dimensions": "race,offender_status", "snapshot_year": "2020"})
    body = r.json()
    meta = body["meta"]
    assert meta["dataset"] == "population" and meta["data_version"] and meta["loaded_at"]
    assert meta["canonical_url"].startswith("/api/v1/population?")
    assert meta["query"]["dimensions"] == ["offender_status", "race"]  # model order
    assert meta["query"]["filters"] == {"snapshot_year": ["2020"]}
    assert meta["row_count"] == len(body["data"]) == meta["total_row_count"]
    assert meta["suppressed_count"] == sum(r["suppressed"] for r in body["data"])
    assert meta["disclosure"]["k"] == 5
    assert meta["links"]["self"] == meta["canonical_url"]
    row = body["data"][0]
    assert set(row) == {"offender_status", "offender_status_label", "race", "race_label", "people", "suppressed"}
    assert r.headers["etag"] and "max-age" in r.headers["cache-control"]


def test_k1_suppressed_rows_are_null_never_zero(api_live):
    """K1/P1: suppressed rows publish null measures; published people counts are >= k."""
    rows = _rows(api_live.get("/api/v1/incarceration_time", params={
        "dimensions": "agency,race,age_group", "measures": "mean_days,median_days", "snapshot_year": "2022"}))
    sup = [r for r in rows if r["suppressed"]]
    pub = [r for r in rows if not r["suppressed"]]
    assert sup and pub
    for r in sup:
        assert r["people"] is None and r["mean_days"] is None and r["median_days"] is None
    for r in pub:
        assert r["people"] >= 5 and r["mean_days"] is not None and r["median_days"] is not None


def test_filters_repeated_and_comma_separated_same_bytes(api_live):
    """K3: repeated vs comma-separated codes, parameter order, duplicates, case."""
    a = api_live.get(f"{POP}?dimensions=race&race=W&race=B&snapshot_year=2019")
    b = api_live.get(f"{POP}?snapshot_year=2019&race=B,W,w&dimensions=race")
    assert a.status_code == 200 and a.content == b.content and a.headers["etag"] == b.headers["etag"]
    assert {r["race"] for r in a.json()["data"]} == {"W", "B"}


def test_filter_on_every_code_equals_no_filter(api_live):
    """K3: a redundant filter (every code) is the same question as none."""
    dims = {d["name"]: d for d in api_live.get("/api/v1/population/metadata").json()["dimensions"]}
    codes = ",".join(c["code"] for c in dims["race"]["codes"])
    a = api_live.get(f"{POP}?dimensions=agency&race={codes}")
    b = api_live.get(f"{POP}?dimensions=agency")
    assert a.content == b.content


def test_snapshot_year_filter_and_dimension(api_live):
    rows = _rows(api_live.get(POP, params={"dimensions": "snapshot_year", "snapshot_year": "2018,2021"}))
    assert [r["snapshot_year"] for r in rows] == [2018, 2021]
    _err(api_live.get(POP, params={"snapshot_year": "1999"}), 400, "param.unknown_value", "snapshot_year")


def test_measures_default_and_governing_count_added(api_live):
    """P2/K5: asking for a mean alone also returns the people count it follows."""
    body = api_live.get("/api/v1/incarceration_time", params={"measures": "mean_days"}).json()
    assert body["meta"]["query"]["measures"] == ["people", "mean_days"]
    assert api_live.get(POP).json()["meta"]["query"]["measures"] == ["people"]


def test_order_on_published_values_nulls_last(api_live):
    rows = _rows(api_live.get(POP, params={"dimensions": "agency,race", "order": "-people", "snapshot_year": "2023"}))
    vals = [r["people"] for r in rows]
    pub = [v for v in vals if v is not None]
    assert pub == sorted(pub, reverse=True)
    assert vals[: len(pub)] == pub  # withheld rows come last
    asc = _rows(api_live.get(POP, params={"dimensions": "agency", "order": "people", "snapshot_year": "2023"}))
    assert [r["people"] for r in asc] == sorted(r["people"] for r in asc)
    by_dim = _rows(api_live.get(POP, params={"dimensions": "race", "order": "-race"}))
    assert [r["race"] for r in by_dim] == ["W", "OU", "B", "API", "AI"]


def test_paging_limit_offset_links(api_live):
    params = {"dimensions": "agency,age_group", "snapshot_year": "2020"}
    full = api_live.get(POP, params=params).json()
    total = full["meta"]["total_row_count"]
    pages, url = [], f"{POP}?dimensions=agency,age_group&snapshot_year=2020&limit=7"
    while url:
        body = api_live.get(url).json()
        pages += body["data"]
        assert body["meta"]["row_count"] <= 7
        url = body["meta"]["links"]["next"]
    assert pages == full["data"] and len(pages) == total
    second = api_live.get(POP, params={**params, "limit": 7, "offset": 7}).json()
    assert second["data"] == full["data"][7:14] and second["meta"]["links"]["prev"]


def test_csv_format_header_labels_suppressed_and_filename(api_live):
    r = api_live.get(POP, params={"dimensions": "agency,race", "snapshot_year": "2021", "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    version = api_live.service.version().version_id
    disp = r.headers["content-disposition"]
    assert "population" in disp and version.lstrip("v") in disp and disp.endswith('.csv"')
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["agency", "agency_label", "race", "race_label", "people", "suppressed"]
    js = api_live.get(POP, params={"dimensions": "agency,race", "snapshot_year": "2021"}).json()["data"]
    assert len(rows) - 1 == len(js)
    for line, row in zip(rows[1:], js):
        assert line[0] == row["agency"] and line[1] == row["agency_label"]
        if row["suppressed"]:
            assert line[4] == "" and line[5] == "true"  # withheld: empty, never 0
        else:
            assert int(line[4]) == row["people"] and line[5] == "false"


def test_accept_negotiation(api_live):
    r = api_live.get(POP, headers={"Accept": "text/csv"})
    assert r.headers["content-type"].startswith("text/csv")
    r = api_live.get(POP, headers={"Accept": "text/html,application/json;q=0.9,*/*;q=0.8"})
    assert r.headers["content-type"].startswith("application/json")
    r = api_live.get(POP + "?format=json", headers={"Accept": "text/csv"})  # format wins
    assert r.headers["content-type"].startswith("application/json")
    _err(api_live.get(POP, headers={"Accept": "application/xml"}), 406, "http.not_acceptable", "Accept")


def test_csv_formula_injection_escaped():
    for bad in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx"):
        assert _cell(bad).startswith("'")
    assert _cell(None) == "" and _cell(0) == "0" and _cell("W") == "W"


def test_etag_and_304(api_live):
    r = api_live.get(POP, params={"dimensions": "race"})
    etag = r.headers["etag"]
    again = api_live.get(POP, params={"dimensions": "race"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and not again.content
    other = api_live.get(POP, params={"dimensions": "agency"}, headers={"If-None-Match": etag})
    assert other.status_code == 200
    csv_r = api_live.get(POP, params={"dimensions": "race", "format": "csv"})
    assert csv_r.headers["etag"] != etag  # different bytes, different tag


def test_r13_governing_dimension_needs_single_status(api_live):
    """R13: governing/leading charge dimensions only with offender_status as dimension + one status."""
    e = _err(api_live.get(POP, params={"dimensions": "governing_offense_type"}), 422, "param.requires_single_status",
             "governing_offense_type")
    assert "offender_status" in e["message"] and e["allowed"] == ["PRETRIAL", "SENTENCED"]
    _err(api_live.get(POP, params={"dimensions": "offender_status,governing_offense_type"}), 422,
         "param.requires_single_status")
    _err(api_live.get(POP, params={"dimensions": "offender_status,leading_charge_type",
                                   "offender_status": "PRETRIAL,SENTENCED"}), 422, "param.requires_single_status")
    _err(api_live.get(POP, params={"governing_offense_type": "DRUG"}), 422, "param.requires_single_status")
    ok = _rows(api_live.get(POP, params={"dimensions": "offender_status,governing_offense_type",
                                         "offender_status": "SENTENCED"}))
    assert ok and all(r["offender_status"] == "SENTENCED" for r in ok)


# --- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("params,status,code,parameter", [
    ({"dimensions": "colour"}, 400, "param.unknown_dimension", "dimensions"),
    ({"measures": "max_days"}, 400, "param.unknown_measure", "measures"),
    ({"race": "Z"}, 400, "param.unknown_value", "race"),
    ({"colour": "red"}, 400, "param.unknown_parameter", "colour"),
    ({"format": "xml"}, 400, "param.bad_format", "format"),
    ({"limit": "100000000"}, 400, "param.page_too_large", "limit"),
    ({"limit": "0"}, 400, "param.invalid", "limit"),
    ({"limit": "ten"}, 400, "param.invalid", "limit"),
    ({"offset": "-1"}, 400, "param.invalid", "offset"),
    ({"offset": "99999999"}, 400, "param.offset_too_large", "offset"),
    ({"order": "colour"}, 400, "param.bad_order", "order"),
    ({"dimensions": "snapshot_year,agency,offender_status,age_group,assigned_sex,gender_identity,race"},
     400, "param.too_many_dimensions", "dimensions"),
])
def test_errors_name_parameter_and_allowed(api_live, params, status, code, parameter):
    e = _err(api_live.get(POP, params=params), status, code, parameter)
    assert e["allowed"]


def test_error_unknown_dataset_and_route(api_live):
    e = _err(api_live.get("/api/v1/prisoners"), 404, "data.unknown_dataset", "dataset")
    assert "population" in e["allowed"]
    _err(api_live.get("/nothing/here"), 404, "http.not_found")
    _err(api_live.client.delete(POP), 405, "http.method_not_allowed")


def test_too_many_filter_values(api_live):
    s = api_live.settings
    assert s.max_filter_values >= 1
    many = ",".join(["W"] * 3)  # duplicates collapse; not an error
    assert api_live.get(POP, params={"race": many}).status_code == 200


def test_engine_limit_hit_gives_503(api_live):
    """Engine limits (query_limits) on every query: a result over max_result_rows is a clear 503."""
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service
    from crosstrack.config import load_settings
    from fixtures_api import ThreadServer

    tight = load_settings(clickhouse_url="chdb://memory", data_dir=api_live.settings.data_dir,
                          database=api_live.settings.database, person_key_secret="api-test-secret",
                          query_max_result_rows=3)
    server = ThreadServer(create_app(tight, service=build_service(tight))).start()
    try:
        r = httpx.get(server.url + POP, params={"dimensions": "agency,race"}, timeout=30)
        e = _err(r, 503, "engine.query_limit")
        assert "rows" in e["message"]
    finally:
        server.stop()
        from crosstrack.api.service import set_default_service

        set_default_service(api_live.service)


def test_engine_unavailable_gives_503(api_live):
    """A ClickHouse server that cannot be reached: the API starts and answers 503, no stack trace."""
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service
    from crosstrack.api.service import set_default_service
    from crosstrack.config import load_settings
    from fixtures_api import ThreadServer, free_port

    down = load_settings(clickhouse_url=f"http://127.0.0.1:{free_port()}", data_dir=api_live.settings.data_dir)
    server = ThreadServer(create_app(down, service=build_service(down))).start()
    try:
        _err(httpx.get(server.url + POP, timeout=30), 503, "engine.unavailable")
        assert httpx.get(server.url + "/healthz", timeout=30).status_code == 503
    finally:
        server.stop()
        set_default_service(api_live.service)


def test_k1_raised_k_applies_over_http(api_live):
    """K1: k comes from configuration and can be raised (never lowered): with k=10 no published
    people count is below 10 and more rows are suppressed than with k=5."""
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service
    from crosstrack.api.service import set_default_service
    from crosstrack.config import SettingsError, load_settings
    from fixtures_api import ThreadServer

    with pytest.raises(SettingsError):
        load_settings(k=4)
    high = load_settings(clickhouse_url="chdb://memory", data_dir=api_live.settings.data_dir,
                         database=api_live.settings.database, person_key_secret="api-test-secret", k=10)
    server = ThreadServer(create_app(high, service=build_service(high))).start()
    try:
        params = {"dimensions": "agency,race", "snapshot_year": "2022"}
        hi = httpx.get(server.url + POP, params=params, timeout=30).json()
        lo = api_live.get(POP, params=params).json()
        assert hi["meta"]["disclosure"]["k"] == 10
        assert all(r["people"] >= 10 for r in hi["data"] if not r["suppressed"])
        assert hi["meta"]["suppressed_count"] > lo["meta"]["suppressed_count"]
    finally:
        server.stop()
        set_default_service(api_live.service)

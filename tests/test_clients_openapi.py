"""OpenAPI that generators accept, and /docs that renders with the network closed (issue 15).

``openapi-spec-validator`` checks the document; ``openapi-python-client`` generates a client from
the live ``/openapi.json`` and the generated code calls the live server; Debian's Chromium renders
``/docs`` with every request that does not go to this server aborted.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _spec(api_live) -> dict:
    r = api_live.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_openapi_validates_and_every_operation_is_named_and_typed(api_live):
    from openapi_spec_validator import validate

    spec = _spec(api_live)
    validate(spec)
    seen = set()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            op_id = op.get("operationId", "")
            assert CAMEL.match(op_id), f"{method} {path}: operationId {op_id!r} is not a user-facing name"
            assert op_id not in seen
            seen.add(op_id)
            for status, resp in op["responses"].items():
                if status == "304":
                    continue
                content = resp.get("content")
                assert content, f"{method} {path} {status} declares no content"
                for media, body in content.items():
                    assert body.get("schema"), f"{method} {path} {status} {media} has no schema"
    assert {"listDatasets", "describeDataset", "queryPopulation", "queryPopulationCsv", "getHealth", "cubeLoad",
            "cubeMeta"} <= seen
    csv = spec["paths"]["/api/v1/population.csv"]["get"]["responses"]["200"]["content"]
    assert list(csv) == ["text/csv"] and csv["text/csv"]["schema"]["type"] == "string"


@pytest.mark.slow
def test_openapi_python_client_generates_and_calls_the_live_server(api_live, tmp_path):
    spec_file = tmp_path / "openapi.json"
    spec_file.write_text(api_live.get("/openapi.json").text)
    config = tmp_path / "config.yml"
    config.write_text("post_hooks: []\nproject_name_override: crosstrack_client\npackage_name_override: crosstrack_client\n")
    exe = Path(sys.executable).with_name("openapi-python-client")
    assert exe.exists(), "pip install -e '.[test]' installs openapi-python-client"
    run = subprocess.run([str(exe), "generate", "--path", str(spec_file), "--output-path", str(tmp_path / "gen"),
                          "--meta", "none", "--config", str(config)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "WARNING" not in run.stdout + run.stderr, run.stdout[-3000:]  # no endpoint skipped
    sys.path.insert(0, str(tmp_path))
    try:
        pkg = importlib.import_module("gen")
        list_datasets = importlib.import_module("gen.api.datasets.list_datasets")
        query_population = importlib.import_module("gen.api.datasets.query_population")
        query_csv = importlib.import_module("gen.api.datasets.query_population_csv")
        dims = importlib.import_module("gen.models.query_population_dimensions_item")
        years = importlib.import_module("gen.models.query_population_snapshot_year_item")
        client = pkg.Client(base_url=api_live.url)
        listing = list_datasets.sync(client=client)
        assert sorted(d.name for d in listing.datasets) == sorted(api_live.service.catalog)
        year = str(max(api_live.settings.snapshot_years))
        answer = query_population.sync(client=client, dimensions=[dims.QueryPopulationDimensionsItem("race")],
                                       snapshot_year=[years.QueryPopulationSnapshotYearItem(year)])
        want = api_live.get("/api/v1/population", params={"dimensions": "race", "snapshot_year": year}).json()
        assert answer.meta.canonical_url == want["meta"]["canonical_url"]
        assert [r.to_dict()["people"] for r in answer.data] == [r["people"] for r in want["data"]]
        text = query_csv.sync(client=client, dimensions=[dims.QueryPopulationDimensionsItem("race")],
                              snapshot_year=[years.QueryPopulationSnapshotYearItem(year)])
        assert isinstance(text, str) and text.splitlines()[0].startswith("race,race_label")
        assert len(text.strip().splitlines()) == len(want["data"]) + 1
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "gen" or m.startswith("gen.")]:
            del sys.modules[name]


@pytest.mark.browser
def test_docs_render_offline_with_the_network_closed(api_live, new_page):
    # The suite's one Playwright session (tests/fixtures_web.py): a second sync_playwright in the
    # same worker fails once another browser test has started the first.
    origin = urlsplit(api_live.url).netloc
    blocked: list[str] = []
    page = new_page()

    def gate(route):
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:  # the network beyond this server is closed
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    page.goto(api_live.url + "/docs")
    page.wait_for_selector(".swagger-ui .information-container .title", timeout=30_000)
    page.wait_for_selector("text=listDatasets", timeout=30_000)
    assert "Crosstrack API" in page.inner_text(".information-container")
    assert page.locator(".opblock").count() >= 10
    assert blocked == [], f"/docs asked the network for {blocked}"

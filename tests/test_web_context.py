"""The page keeps its context (issue 15): the caption and both downloads state the filters and the
data version, file names name dataset, dimensions, filters and version, and a shared link with
unknown or stale parameters says so on the page instead of silently showing another question."""

from __future__ import annotations

import json
import re

import pytest

from web_page_helpers import settle

pytestmark = pytest.mark.browser


def test_caption_and_downloads_state_filters_and_version(api_live, new_page, tmp_path):
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=race&measures=people&snapshot_year=2024&race=W,B")
    shown = settle(page)
    body = api_live.client.get(shown).json()
    version = body["meta"]["data_version"]
    caption = page.inner_text("#table-caption")
    assert "2024" in caption and "White" in caption and "Black" in caption, caption
    assert f"data version {version}" in caption
    assert not page.locator("#link-notice").is_visible()

    csv_resp = api_live.client.get(page.get_attribute("#download-csv", "href"))
    server_name = re.search(r'filename="([^"]+)"', csv_resp.headers["content-disposition"]).group(1)
    with page.expect_download() as dl:
        page.click("#download-csv")
    csv_name = dl.value.suggested_filename
    with page.expect_download() as dl:
        page.click("#download-json")
    json_name = dl.value.suggested_filename
    path = tmp_path / "answer.json"
    dl.value.save_as(path)
    meta = json.loads(path.read_text())["meta"]
    assert meta["data_version"] == version and meta["query"]["filters"]["snapshot_year"] == ["2024"]
    for name in (csv_name, json_name, server_name):
        assert "population" in name and "race" in name and "snapshot_year-2024" in name and name.count(version) == 1, name
    assert csv_name == server_name and json_name == csv_name.removesuffix(".csv") + ".json"
    other = api_live.client.get("/api/v1/population", params={"dimensions": "agency", "format": "csv"})
    assert re.search(r'filename="([^"]+)"', other.headers["content-disposition"]).group(1) != server_name


@pytest.mark.parametrize("link,named", [
    ("/?dataset=population&dimensions=race,colour&measures=people,height&snapshot_year=1999&planet=mars",
     ["colour", "height", "1999", "planet"]),
    ("/?dataset=nosuchdataset&dimensions=race", ["nosuchdataset"]),
])
def test_shared_link_with_unknown_or_stale_parameters_says_so(api_live, new_page, link, named):
    page = new_page()
    page.goto(api_live.url + link)
    settle(page)
    notice = page.locator("#link-notice")
    assert notice.is_visible()
    text = notice.inner_text()
    for word in named:
        assert word in text, text
    assert "Showing instead:" in text

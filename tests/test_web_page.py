"""The web query builder in a real browser (issue 7), over the real API and chDB.

Each test names the rule it checks: K2 (the page shows exactly what the API publishes), K3 (one
question, one canonical URL), P1/K1 (withheld cells are marked, never 0), R13 (governing/leading
charge only with one offender status), and the page's own promises (saved links, downloads,
keyboard, phone, definitions from metadata, assets served locally).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from web_page_helpers import (assert_table_matches, choose_dataset, click_and_settle, open_filter, settle, settle_to,
                              table_rows)

pytestmark = pytest.mark.browser

STATIC_JS = Path(__file__).resolve().parent.parent / "api" / "static" / "js"

# Small cells are certain with this many dimensions in one year of the synthetic data.
SUPPRESSING_LINK = ("/?dataset=population&dimensions=snapshot_year,agency,race,gender_identity"
                    "&measures=people&snapshot_year=2024")


def test_web_build_query_by_clicks_shows_canonical_url_with_same_rows_k2_k3(api_live, new_page, screenshot):
    """K2/K3: a query built with clicks shows the API's canonical URL, and that URL returns the table's rows."""
    page = new_page()
    page.goto(api_live.url + "/")
    first = settle(page)
    assert first.startswith(api_live.url + "/api/v1/population?")

    page.check("#d-race")
    settle(page)
    open_filter(page, "race")
    page.check("#f-race-W")
    page.check("#f-race-B")
    page.check("#y-2023")
    shown = click_and_settle(page, "#y-2024")

    resp = api_live.client.get(shown)
    assert resp.status_code == 200
    body = resp.json()
    assert urljoin(api_live.url, body["meta"]["canonical_url"]) == shown, "the URL shown is not canonical"
    assert body["meta"]["query"]["dimensions"] == ["snapshot_year", "race"]
    assert body["meta"]["query"]["filters"]["race"] == ["B", "W"]
    assert body["meta"]["query"]["filters"]["snapshot_year"] == ["2023", "2024"]
    assert_table_matches(page, body)
    assert not page.locator("#pager").is_visible(), "one page of rows needs no pager"
    assert page.locator("#chart").is_visible() and not page.locator("#error").is_visible()
    # The link itself runs the query from a browser.
    assert page.get_attribute("#api-url", "href") == shown
    # The page's own address carries the same choices.
    state = parse_qs(urlsplit(page.url).query)
    assert state["dataset"] == ["population"] and state["race"] == ["B,W"]
    assert state["snapshot_year"] == ["2023,2024"]
    screenshot(page, "built")


def test_web_copy_button_copies_the_canonical_url_k3(api_live, new_page):
    """K3: the copy button puts exactly the URL shown (the canonical one) on the clipboard."""
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto(api_live.url + "/?dataset=population&dimensions=race&measures=people")
    shown = settle(page)
    page.click("#copy-url")
    page.wait_for_function("() => document.getElementById('copy-status').textContent.length > 0")
    assert page.inner_text("#copy-status").startswith("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == shown


def test_web_suppressed_cells_marked_never_zero_p1_k1(api_live, new_page, screenshot):
    """P1/K1: a withheld cell is marked and explained in the table and chart, never shown as 0."""
    page = new_page()
    page.goto(api_live.url + SUPPRESSING_LINK)
    shown = settle(page)
    body = api_live.client.get(shown).json()
    n_sup = sum(1 for r in body["data"] if r["suppressed"])
    assert n_sup > 0, "the chosen query should contain small cells"
    assert_table_matches(page, body)

    cells = page.locator("#table td.suppressed")
    assert cells.count() == n_sup * len(body["meta"]["query"]["measures"])
    for i in range(min(cells.count(), 20)):
        cell = cells.nth(i)
        text = cell.inner_text()
        assert "withheld" in text and not re.search(r"\d", text)
        assert "fewer than 5" in cell.get_attribute("title")
    note = page.locator("#suppressed-note")
    assert note.is_visible() and "not zero" in note.inner_text()
    assert f"{n_sup} withheld" in page.inner_text("#summary")
    # Published cells are never blank or marked.
    for row in table_rows(page):
        if row["suppressed"] == "false":
            assert all(v != "" for v in row["values"])
    # The disclosure note from the metadata sits beside the results.
    meta = api_live.client.get("/api/v1/population/metadata").json()
    assert meta["disclosure"]["suppression"] in page.inner_text("#disclosure")
    screenshot(page, "suppressed")


def test_web_downloads_fetch_the_canonical_url_csv_and_json_k2(api_live, new_page, tmp_path):
    """K2: Download CSV/JSON fetch the canonical URL (format switched); the files hold the table's rows."""
    page = new_page()
    page.goto(api_live.url + SUPPRESSING_LINK)
    shown = settle(page)
    csv_href = page.get_attribute("#download-csv", "href")
    json_href = page.get_attribute("#download-json", "href")
    assert json_href == shown  # the canonical URL already says format=json
    # The CSV download is the answer's own link to the CSV with its context lines (issue 15).
    links = api_live.client.get(shown).json()["meta"]["links"]
    assert csv_href == urljoin(api_live.url, links["csv_with_context"])
    assert "csv_context=comments" in csv_href and "format=csv" in csv_href

    with page.expect_download() as dl:
        page.click("#download-csv")
    path = tmp_path / "download.csv"
    dl.value.save_as(path)
    assert dl.value.url == csv_href
    raw = path.read_bytes()
    assert raw == api_live.client.get(csv_href).content
    text = raw.decode("utf-8")
    # Past its '#' context lines the file is exactly the plain CSV programs get.
    table = "".join(line for line in io.StringIO(text, newline="") if not line.startswith("#"))
    assert text.startswith("# ") and table == api_live.client.get(links["csv"]).text
    rows = list(csv.DictReader(io.StringIO(table, newline="")))
    body = api_live.client.get(shown).json()
    assert len(rows) == len(body["data"])
    for row, pub in zip(rows, body["data"]):
        assert row["agency"] == pub["agency"] and row["race"] == pub["race"]
        if pub["suppressed"]:
            assert row["people"] == ""  # withheld is empty, never 0
        else:
            assert float(row["people"]) == pub["people"]
    assert any(pub["suppressed"] for pub in body["data"])

    with page.expect_download() as dl:
        page.click("#download-json")
    jpath = tmp_path / "download.json"
    dl.value.save_as(jpath)
    assert json.loads(jpath.read_text(encoding="utf-8"))["data"] == body["data"]


def test_web_saved_link_restores_the_query_k3(api_live, new_page, screenshot):
    """K3: the page's address after building a query, opened later, restores the same controls and URL."""
    page = new_page()
    page.goto(api_live.url + "/")
    settle(page)
    choose_dataset(page, "custody")
    page.check("#d-agency")
    settle(page)
    open_filter(page, "agency")
    page.check("#f-agency-DOC")
    page.check("#f-agency-SUF")
    page.uncheck("#by-year")
    shown = settle(page)
    saved = page.url
    assert "dataset=custody" in saved

    again = new_page()
    again.goto(saved)
    assert settle(again) == shown
    assert again.input_value("#dataset") == "custody"
    assert again.is_checked("#d-agency") and not again.is_checked("#by-year")
    assert again.is_checked("#f-agency-DOC") and again.is_checked("#f-agency-SUF")
    assert not again.is_checked("#f-agency-BER")
    assert table_rows(again) == table_rows(page)
    screenshot(again, "restored")


def _wait_for(page: Any, done: Callable[[], Any], what: str, timeout_s: float = 15.0) -> None:
    """Let the page run (route handlers fire in playwright's calls) until ``done()`` holds."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"{what} never reached the network"
        page.wait_for_timeout(20)


def _answer_held(api: Any, route: Any) -> None:
    """Answer a held request with the API's real answer, unless the page has aborted it (then
    playwright refuses to answer it)."""
    answer = api.client.get(route.request.url)
    assert answer.status_code == 200
    try:
        route.fulfill(status=200, headers={"content-type": "application/json"}, body=answer.content)
    except PlaywrightError:
        pass


def test_web_answer_to_a_changed_question_is_never_shown_as_canonical_k2_k3(api_live, new_page):
    """K2/K3: an answer still in flight when the user changes the question is dropped, not shown
    as canonical in the debounce before the next request (seen on a slow host: the saved-link
    test read the previous question's URL as the answer)."""
    page = new_page()
    page.goto(api_live.url + "/")
    before = settle(page)
    held: list[Any] = []
    page.route("**/api/v1/population?*", lambda route: held.append(route))
    page.check("#d-race")
    page.wait_for_function("() => document.getElementById('results').hasAttribute('aria-busy')")
    _wait_for(page, lambda: held, "the year-and-race request")
    page.uncheck("#by-year")
    _answer_held(api_live, held[0])  # the page has aborted it (fixed) or is still waiting for it (the race)
    _wait_for(page, lambda: len(held) > 1, "the request without years, after the debounce")
    state = page.get_attribute("#api-url", "data-state")
    assert state == "pending", f"the answer to the previous question is shown as {state}"
    held[1].continue_()
    page.unroute("**/api/v1/population?*")
    shown = settle(page)
    body = api_live.client.get(shown).json()
    assert shown != before and body["meta"]["query"]["dimensions"] == ["race"]
    assert_table_matches(page, body)


def test_web_previous_datasets_answer_is_not_shown_while_the_next_loads_k2_k3(api_live, new_page):
    """K2/K3: choosing another dataset drops the previous dataset's answer still in flight; it is
    not shown as canonical while the new dataset's metadata loads."""
    page = new_page()
    page.goto(api_live.url + "/")
    settle(page)
    answers: list[Any] = []
    metadata: list[Any] = []
    page.route("**/api/v1/population?*", lambda route: answers.append(route))
    page.route("**/api/v1/custody/metadata*", lambda route: metadata.append(route))
    page.check("#d-race")
    _wait_for(page, lambda: answers, "the population request")
    page.select_option("#dataset", "custody")
    _wait_for(page, lambda: metadata, "the custody metadata request")
    _answer_held(api_live, answers[0])
    with pytest.raises(PlaywrightError):  # a timeout: in 1.5 s the old answer never becomes canonical
        page.wait_for_function("() => document.getElementById('api-url').getAttribute('data-state') === 'canonical'",
                               timeout=1_500)
    metadata[0].continue_()
    page.unroute("**/api/v1/custody/metadata*")
    page.unroute("**/api/v1/population?*")
    shown = settle(page)
    assert shown.startswith(api_live.url + "/api/v1/custody?")
    assert_table_matches(page, api_live.client.get(shown).json())


def test_web_r13_governing_offered_only_with_one_offender_status(api_live, new_page, screenshot):
    """R13: governing/leading dimensions appear only with offender status grouped and exactly one status filtered."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year&measures=people")
    settle(page)
    assert page.locator("#d-governing_offense_type").count() == 0
    assert page.locator("#d-leading_charge_type").count() == 0
    assert page.locator("#r13-note").is_visible()

    page.check("#d-offender_status")
    settle(page)
    assert page.locator("#d-governing_offense_type").count() == 0  # both statuses: not yet
    open_filter(page, "offender_status")
    page.check("#f-offender_status-SENTENCED")
    settle(page)
    assert page.locator("#d-governing_offense_type").is_visible()
    assert page.locator("#d-leading_charge_type").is_visible()
    assert not page.locator("#r13-note").is_visible()
    shown = click_and_settle(page, "#d-governing_offense_type")
    body = api_live.client.get(shown).json()
    assert "governing_offense_type" in body["meta"]["query"]["dimensions"]
    assert_table_matches(page, body)
    screenshot(page, "governing")

    # A second status withdraws the option and the choice that depended on it.
    open_filter(page, "offender_status")
    shown = click_and_settle(page, "#f-offender_status-PRETRIAL")
    assert page.locator("#d-governing_offense_type").count() == 0
    assert "governing_offense_type" not in shown
    assert "governing_offense_type" not in page.url
    assert api_live.client.get(shown).status_code == 200


def test_web_keyboard_only_builds_a_query(api_live, new_page):
    """Accessibility: a dimension and a filter code can be chosen with Tab, Space and Enter alone."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year&measures=people")
    settle(page)

    def tab_to(predicate: str, limit: int = 120) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => {{ const a = document.activeElement; return !!a && ({predicate}); }}"):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("a.id === 'd-race'")
    page.keyboard.press("Space")
    shown = settle(page)
    assert "dimensions=snapshot_year,race" in shown
    assert page.evaluate("document.activeElement.id") == "d-race", "focus is kept on the control"

    tab_to("a.tagName === 'SUMMARY' && a.parentElement.getAttribute('data-name') === 'race'")
    page.keyboard.press("Enter")
    tab_to("a.id === 'f-race-API'", limit=10)
    page.keyboard.press("Space")
    shown = settle(page)
    assert "race=API" in shown
    # Every form control has a label the browser associates with it.
    unlabelled = page.eval_on_selector_all(
        "input, select, button", "els => els.filter(e => !e.labels?.length && !e.getAttribute('aria-label')"
        " && !e.textContent.trim()).map(e => e.id || e.outerHTML.slice(0, 60))")
    assert unlabelled == []


def test_web_phone_viewport_fits_without_sideways_scrolling(api_live, new_page, screenshot):
    """Accessibility: on a 390px phone screen the page stacks, the URL and controls fit, nothing scrolls sideways."""
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(api_live.url + "/?dataset=population&dimensions=race&measures=people")
    settle(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for sel in ("#api-url", "#copy-url", "#dataset", "#controls", "#results", "#download-csv"):
        box = page.locator(sel).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 391, (sel, box)
    assert page.locator("figure#chart[data-kind='bars']").is_visible()
    screenshot(page, "phone-top", full_page=False)
    page.tap("#d-age_group")
    settle(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#results").scroll_into_view_if_needed()
    screenshot(page, "phone-results", full_page=False)
    screenshot(page, "phone")


def test_web_chart_line_by_year_bars_by_category(api_live, new_page, screenshot):
    """The chart follows the shape: counts by snapshot year as a line, by one category as bars."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year&measures=people")
    settle(page)
    assert page.get_attribute("#chart", "data-kind") == "line"
    assert page.locator("#chart-svg svg path").count() == 1
    assert page.locator("#chart-svg svg circle").count() == len(table_rows(page))
    screenshot(page, "line")

    page.uncheck("#by-year")
    settle(page)
    page.check("#d-race")
    settle(page)
    assert page.get_attribute("#chart", "data-kind") == "bars"
    assert page.locator("#chart-svg svg rect.bar").count() == len(table_rows(page))
    screenshot(page, "bars")


def test_web_controls_and_definitions_come_from_metadata(api_live, new_page):
    """Nothing hard-coded: datasets, dimensions, codes, measures and definitions are the API metadata's."""
    page = new_page()
    page.goto(api_live.url + "/")
    settle(page)
    listed = api_live.client.get("/api/v1").json()["datasets"]
    assert page.eval_on_selector_all("#dataset option", "os => os.map(o => o.value)") == [d["name"] for d in listed]

    choose_dataset(page, "incarceration_time")
    meta = api_live.client.get("/api/v1/incarceration_time/metadata").json()
    assert page.eval_on_selector_all("#measure-options input", "es => es.map(e => e.value)") == \
        [m["name"] for m in meta["measures"]]
    offered = set(page.eval_on_selector_all("#dimension-options input", "es => es.map(e => e.value)"))
    assert offered == {d["name"] for d in meta["dimensions"] if not d.get("requires") and d["name"] != "snapshot_year"}
    race = next(d for d in meta["dimensions"] if d["name"] == "race")
    open_filter(page, "race")
    labels = page.eval_on_selector_all(
        '#filter-list details[data-name="race"] .option label', "ls => ls.map(l => l.textContent)")
    assert labels == [c["label"] for c in race["codes"]]
    # Every field's definition is in the side panel, and hovering a choice shows it.
    panel = page.inner_text("#definition-list")
    for member in meta["measures"] + meta["dimensions"]:
        assert member["description"][:60] in panel
    # R1: the page says which measure counts records and which distinct people
    assert page.inner_text("#counting-note") == meta["counting"]["rule"]
    assert "once per snapshot in 'people'" in meta["counting"]["rule"]
    median = next(m for m in meta["measures"] if m["name"] == "median_days")
    page.hover('#measure-options .option[data-name="median_days"] label')
    assert median["description"] in page.inner_text("#definition-focus")
    # P2: a median always comes with the count it follows; the page shows what was asked.
    page.uncheck("#m-people") if page.is_checked("#m-people") else None
    page.check("#m-median_days")
    shown = settle(page)
    assert "measures=people,median_days" in shown
    assert page.is_checked("#m-people")


def test_web_assets_are_local_and_page_has_csp(api_live, new_page):
    """No CDN: every request the page makes goes to its own origin; the page is served with a strict CSP."""
    page = new_page()
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    page.goto(api_live.url + "/?dataset=population&dimensions=race&measures=people")
    settle(page)
    assert seen and all(u.startswith(api_live.url + "/") for u in seen), [u for u in seen if not u.startswith(api_live.url)]
    resp = api_live.client.get("/")
    assert resp.status_code == 200 and "script-src 'self'" in resp.headers["content-security-policy"]
    # The page is ES modules, no build step: each is served from here as JavaScript (module
    # scripts need a JavaScript MIME type; nosniff is set) and none is over 500 lines.
    modules = sorted(STATIC_JS.glob("*.js"))
    assert modules and any(u.endswith("/static/js/main.js") for u in seen)
    for js in modules:
        served = api_live.client.get(f"/static/js/{js.name}")
        assert served.status_code == 200 and served.content == js.read_bytes()
        assert served.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert len(js.read_text(encoding="utf-8").splitlines()) <= 500, js.name
    assert all(u.split("?")[0].rsplit("/", 1)[-1] in {m.name for m in modules}
               for u in seen if "/static/js/" in u), "every module the page loads is in api/static/js"


def test_web_labels_from_the_api_are_text_not_markup_k6(api_live, new_page):
    """K6/XSS: a label or definition containing markup is shown as text; nothing in it runs or renders."""
    page = new_page()
    evil = '<img src=x onerror="window.__xss=1">Race<script>window.__xss=2</script>'

    def poisoned(route: Any) -> None:
        meta = route.fetch().json()
        for d in meta["dimensions"]:
            if d["name"] == "race":
                d["title"] = evil
                d["description"] = evil
                d["codes"][0]["label"] = evil
        route.fulfill(json=meta)

    page.route("**/api/v1/population/metadata", poisoned)
    page.goto(api_live.url + "/?dataset=population&dimensions=race&measures=people")
    settle(page)
    open_filter(page, "race")
    assert page.inner_text('#filter-list details[data-name="race"] .option label >> nth=0') == evil
    assert page.locator('#table thead th[data-name="race"]').inner_text() == evil
    assert evil in page.inner_text("#definition-list")
    assert page.evaluate("window.__xss") is None
    assert page.locator("body img, body script:not([src])").count() == 0


def test_web_pages_follow_the_api_links_k3(api_live, new_page):
    """K3: a long answer is paged with the API's own links; each page's URL is canonical and restorable."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year,agency,age_group,race,gender_identity"
              "&measures=people")
    first = settle(page)
    body = api_live.client.get(first).json()
    assert body["meta"]["total_row_count"] > body["meta"]["row_count"], "the query should need more than one page"
    assert page.locator("#pager").is_visible() and page.is_disabled("#page-prev")
    shown = click_and_settle(page, "#page-next")
    nxt = api_live.client.get(shown).json()
    assert urljoin(api_live.url, body["meta"]["links"]["next"]) == shown
    assert_table_matches(page, nxt)
    assert "offset=" in page.url and not page.is_disabled("#page-prev")
    again = new_page()
    again.goto(page.url)
    assert settle(again) == shown
    # Changing the question starts again at its first page.
    page.check("#d-ethnicity")
    assert "offset=0" in settle(page)


def test_web_sort_by_measure_descending_feeds_order_k2_k3(api_live, new_page, screenshot):
    """K2/K3: sorting by a measure, descending, puts order=-people in the canonical URL, the page's address and
    the downloads; the table's rows are the API's rows for that URL, largest first, withheld last."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year,race&measures=people&snapshot_year=2024")
    settle(page)
    assert page.get_attribute('#table thead th[data-name="snapshot_year"]', "aria-sort") == "ascending"
    page.select_option("#sort-by", "people")
    settle(page)
    page.check("#sort-desc")
    shown = settle(page)
    assert "order=-people,snapshot_year,race" in shown, shown
    body = api_live.client.get(shown).json()
    assert body["meta"]["query"]["order"][0] == "-people"
    assert urljoin(api_live.url, body["meta"]["canonical_url"]) == shown
    assert_table_matches(page, body)
    values = [r["values"][0] for r in table_rows(page)]
    published = [float(v) for v in values if v != ""]
    assert published == sorted(published, reverse=True) and len(published) > 1
    assert all(v == "" for v in values[len(published):]), "withheld cells sort last"
    # aria-sort names the sorted column only; the sort rides in the page address and the downloads.
    assert page.get_attribute('#table thead th[data-name="people"]', "aria-sort") == "descending"
    assert page.get_attribute('#table thead th[data-name="race"]', "aria-sort") is None
    assert parse_qs(urlsplit(page.url).query)["order"] == ["-people"]
    assert "order=-people," in page.get_attribute("#download-csv", "href")
    assert page.get_attribute("#download-json", "href") == shown
    screenshot(page, "sorted")

    # Keyboard: a column heading is a button; Enter sorts by it, again reverses, and focus stays on it.
    page.focus('#table thead button[data-name="race"]')
    page.keyboard.press("Enter")
    shown = settle(page)
    assert "order=race,snapshot_year" in shown
    assert page.get_attribute('#table thead th[data-name="race"]', "aria-sort") == "ascending"
    assert page.evaluate("document.activeElement.getAttribute('data-name')") == "race"
    assert page.input_value("#sort-by") == "race" and page.is_checked("#sort-asc")
    page.keyboard.press("Enter")
    shown = settle(page)
    assert "order=-race,snapshot_year" in shown
    assert_table_matches(page, api_live.client.get(shown).json())

    # A saved link restores the sort.
    again = new_page()
    again.goto(page.url)
    assert settle(again) == shown
    assert again.input_value("#sort-by") == "race" and again.is_checked("#sort-desc")
    # Removing the sorted dimension drops its sort key (the API allows only chosen fields).
    page.uncheck("#d-race")
    assert "order=snapshot_year" in settle(page) and "order" not in parse_qs(urlsplit(page.url).query)


def test_web_back_and_forward_step_through_queries_k3(api_live, new_page):
    """K3: each change the user makes is a history entry: Back restores the earlier query (controls, URL shown,
    table), Forward the later one; opening the page only normalises its address (no extra entry)."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&measures=people&dimensions=snapshot_year")
    first = settle(page)
    rows_first = table_rows(page)
    length = page.evaluate("history.length")
    assert parse_qs(urlsplit(page.url).query)["dimensions"] == ["snapshot_year"]

    page.check("#d-race")
    second = settle(page)
    rows_second = table_rows(page)
    assert page.evaluate("history.length") == length + 1
    page.select_option("#sort-by", "people")
    third = settle(page)
    assert "order=people," in third and len({first, second, third}) == 3

    page.go_back()
    assert settle_to(page, second) == second
    assert page.is_checked("#d-race") and page.input_value("#sort-by") == ""
    assert table_rows(page) == rows_second
    assert_table_matches(page, api_live.client.get(second).json())
    assert "order" not in parse_qs(urlsplit(page.url).query)

    page.go_back()
    assert settle_to(page, first) == first
    assert not page.is_checked("#d-race")
    assert table_rows(page) == rows_first

    page.go_forward()
    page.go_forward()
    assert settle_to(page, third) == third
    assert page.is_checked("#d-race") and page.input_value("#sort-by") == "people"
    assert_table_matches(page, api_live.client.get(third).json())

    # Back across a dataset change reloads the earlier dataset's controls.
    custody = choose_dataset(page, "custody")
    assert "/api/v1/custody?" in custody
    page.go_back()
    assert settle_to(page, third) == third
    assert page.input_value("#dataset") == "population"


def test_web_recidivism_chart_release_years_and_withheld_events_rc12(api_live, new_page, screenshot):
    """docs/recidivism.md: the journalist's chart (three-year reincarceration rate by release year)
    from the page; release years are the year control; an event withheld on its own (RC12) or a
    window not yet passed (RC8) is marked, never shown as 0; the table is the API's (K2)."""
    page = new_page()
    page.goto(api_live.url + "/?dataset=recidivism&dimensions=release_year,agency"
                             "&measures=followed_3y,reincarcerated_3y,reincarceration_rate_3y")
    url = settle(page)
    assert page.inner_text("#years-title") == "Release years (cohorts)"
    body = api_live.get(urlsplit(url).path + "?" + urlsplit(url).query).json()
    assert_table_matches(page, body)
    own = page.eval_on_selector_all("td[data-withheld='true']", "cells => cells.map(c => c.textContent)")
    assert own and all(t == "n/a" for t in own)
    assert any(r["reincarceration_rate_3y"] is not None for r in body["data"])
    screenshot(page, "recidivism-chart")

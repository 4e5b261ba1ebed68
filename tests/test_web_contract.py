"""The page trusts its contract (issue 17 part 7) and its CSV keeps its context (issue 15).

The page reads the API's answers only by the field names /openapi.json documents, takes R13's
availability from the metadata (``dimensions[].available_when``) instead of re-implementing the
rule, copies the answer's ``meta.canonical_url`` and ``meta.links`` instead of rebuilding them,
and its CSV download opens with '#' lines naming the question, every filter and the data version
(``csv_context=comments``), while the plain ``format=csv`` that programs read is unchanged.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urljoin

import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from web_page_helpers import choose_dataset, open_filter, settle

# Filters in an unusual order and spelling: parameters shuffled, codes reversed and repeated.
SHUFFLED_LINK = ("/?snapshot_year=2024,2023&race=W&race=B&measures=people&dataset=population"
                 "&dimensions=race,snapshot_year&order=-people")

# Record every field the page reads from a JSON answer of the API: JSON.parse returns proxies that
# log each property read as a path from the response's documented schema (by the URL it came from).
READ_LOGGER = """
(() => {
  const reads = new Set();
  window.__reads = reads;
  const textOf = new Map();
  const text = Response.prototype.text;
  Response.prototype.text = function () {
    const url = new URL(this.url), status = this.status;
    return text.call(this).then((t) => {
      let root = null;
      if (status !== 200) root = "error";
      else if (url.pathname === "/api/v1") root = "list";
      else if (/^\\/api\\/v1\\/[^/]+\\/metadata$/.test(url.pathname)) root = "metadata";
      else if (/^\\/api\\/v1\\/[^/]+$/.test(url.pathname)) root = "answer:" + url.pathname.split("/")[3];
      if (root) textOf.set(t, root);
      return t;
    });
  };
  const wrap = (value, path) => {
    if (value === null || typeof value !== "object") return value;
    return new Proxy(value, { get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== "string" || key === "then") return v;  // "then": the engine testing for a promise
      if (Array.isArray(target)) return /^[0-9]+$/.test(key) ? wrap(v, path + "[]") : v;
      reads.add(path + "." + key);
      return wrap(v, path + "." + key);
    } });
  };
  const parse = JSON.parse;
  JSON.parse = function (t, reviver) {
    const v = parse(t, reviver);
    return textOf.has(t) ? wrap(v, textOf.get(t)) : v;
  };
})();
"""

ANY = object()


def _step(schema: Any, seg: str, components: dict[str, Any]) -> Any:
    """The schema reached from ``schema`` by one read (a property, or ``[]`` into an array); None when
    OpenAPI does not declare it. ANY: below a documented free-form object (read as it is)."""
    if schema is ANY:
        return ANY
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found = _step(branch, seg, components)
        if found is not None:
            return found
    if seg == "[]":
        return schema.get("items")
    if seg in schema.get("properties", {}):
        return schema["properties"][seg]
    extra = schema.get("additionalProperties")
    if extra is True:
        return ANY
    return extra if isinstance(extra, dict) else None


def undeclared(paths: set[str], roots: dict[str, Any], components: dict[str, Any]) -> list[str]:
    out = []
    for path in sorted(paths):
        root, *rest = path.replace("[]", ".[]").split(".")
        schema: Any = roots[root]
        for seg in rest:
            schema = _step(schema, seg, components)
            if schema is None:
                out.append(path)
                break
    return out


@pytest.mark.browser
def test_web_reads_only_fields_openapi_documents_k2(api_live, new_page):
    """Issue 17.7: every field the page reads from the dataset list, the metadata, an answer or an
    error is declared in /openapi.json (no guessed names such as id/key/kind/meta)."""
    page = new_page()
    page.add_init_script(READ_LOGGER)
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year,offender_status,governing_offense_type"
              "&offender_status=SENTENCED&measures=people")
    settle(page)
    choose_dataset(page, "recidivism")
    reads = set(page.evaluate("Array.from(window.__reads)"))  # each new document logs afresh
    # More dimensions than the server allows: the page shows the API's error (Error schema).
    md = api_live.client.get("/api/v1/incarceration_time/metadata").json()
    many = [d["name"] for d in md["dimensions"] if d["available_when"] is None][: api_live.settings.max_dimensions + 1]
    page.goto(api_live.url + "/?dataset=incarceration_time&measures=median_days&dimensions=" + ",".join(many))
    page.wait_for_selector("#error:not([hidden])")
    assert "parameter: dimensions" in page.inner_text("#error")
    reads |= set(page.evaluate("Array.from(window.__reads)"))
    assert {"metadata.dimensions[].available_when", "answer:population.meta.canonical_url",
            "answer:population.meta.links.csv_with_context", "list.datasets[].name"} <= reads, sorted(reads)

    spec = api_live.client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    roots = {"list": components["DatasetList"], "metadata": components["DatasetMetadata"],
             "error": components["Error"]}
    for name in ("population", "recidivism", "incarceration_time"):
        roots[f"answer:{name}"] = spec["paths"][f"/api/v1/{name}"]["get"]["responses"]["200"]["content"][
            "application/json"]["schema"]
    assert undeclared(reads, roots, components) == []


def test_metadata_fields_are_all_documented(api_live):
    """Issue 17.7: the metadata and an answer's meta hold no field /openapi.json leaves out, so
    reading by the documented names misses nothing."""
    spec = api_live.client.get("/openapi.json").json()
    components = spec["components"]["schemas"]

    def paths(value: Any, prefix: str) -> set[str]:
        if isinstance(value, dict):
            return {p for k, v in value.items() for p in {f"{prefix}.{k}"} | paths(v, f"{prefix}.{k}")}
        if isinstance(value, list):
            return {p for v in value for p in paths(v, prefix + "[]")}
        return set()

    for ds in api_live.client.get("/api/v1").json()["datasets"]:
        md = api_live.client.get(f"/api/v1/{ds['name']}/metadata").json()
        answer = api_live.client.get(f"/api/v1/{ds['name']}", params={"limit": 3}).json()
        roots = {"metadata": components["DatasetMetadata"], "meta": components["AnswerMeta"]}
        missing = undeclared(paths(md, "metadata") | paths(answer["meta"], "meta"), roots, components)
        assert missing == [], missing
        for value, name in ((md, "DatasetMetadata"), (answer["meta"], "AnswerMeta")):
            schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(value)]
            assert errors == [], (ds["name"], name, errors[:5])


def test_metadata_r13_availability_is_what_the_server_accepts(api_live):
    """R13 as data: each alternative in a dimension's available_when is a question the server answers,
    and the same question without the filter it names is refused (422); other dimensions need nothing."""
    c = api_live.client
    checked = 0
    for ds in c.get("/api/v1").json()["datasets"]:
        md = c.get(f"/api/v1/{ds['name']}/metadata").json()
        for d in md["dimensions"]:
            if d["available_when"] is None:
                assert "requires" not in d
                continue
            assert d["requires"]["dimension"] in {x["name"] for x in md["dimensions"]}
            for alt in d["available_when"]:
                params = {"dimensions": ",".join([*alt["dimensions"], d["name"]]), "limit": 1,
                          **{k: ",".join(v) for k, v in alt["filters"].items()}}
                assert c.get(f"/api/v1/{ds['name']}", params=params).status_code == 200, (d["name"], alt)
                if alt["filters"]:
                    bare = {"dimensions": params["dimensions"], "limit": 1}
                    refused = c.get(f"/api/v1/{ds['name']}", params=bare)
                    assert refused.status_code == 422 and refused.json()["error"]["parameter"] == d["name"]
                checked += 1
    assert checked >= 4


@pytest.mark.browser
def test_web_r13_availability_comes_from_metadata(api_live, new_page):
    """Issue 17.7: the page offers a dimension exactly when the metadata's available_when says so; it
    does not know R13 itself (a changed statement in the metadata changes what is offered)."""
    def restated(route: Any) -> None:
        md = route.fetch().json()
        for d in md["dimensions"]:
            if d["name"] == "race":  # stated here as needing agency grouped, nothing else
                d["available_when"] = [{"dimensions": ["agency"], "filters": {}}]
            if d["name"] == "leading_charge_type":
                d["available_when"] = None
        route.fulfill(json=md)

    page = new_page()
    page.route("**/api/v1/population/metadata", restated)
    page.goto(api_live.url + "/?dataset=population&dimensions=snapshot_year&measures=people")
    settle(page)
    assert page.locator("#d-race").count() == 0 and page.locator("#d-governing_offense_type").count() == 0
    assert page.locator("#d-leading_charge_type").is_visible()
    note = page.inner_text("#r13-note")
    assert "Race becomes available when you break down by Agency." in note, note
    assert "Governing offense type" in note and "Leading charge type" not in note
    page.check("#d-agency")
    settle(page)
    assert page.locator("#d-race").is_visible()
    # The real metadata: governing offense type appears with one offender status, as the server states.
    real = new_page()
    real.goto(api_live.url + "/?dataset=population&dimensions=offender_status&offender_status=PRETRIAL&measures=people")
    settle(real)
    assert real.locator("#d-governing_offense_type").is_visible() and real.locator("#d-race").is_visible()
    rule = next(d for d in api_live.client.get("/api/v1/population/metadata").json()["dimensions"]
                if d["name"] == "governing_offense_type")["requires"]["rule"]
    open_filter(real, "offender_status")
    real.check("#f-offender_status-SENTENCED")
    settle(real)
    assert real.locator("#d-governing_offense_type").count() == 0
    note = real.locator("#r13-note")
    assert "keep only Pretrial, or only Sentenced, in the Offender status filter" in note.inner_text()
    assert rule in note.get_attribute("title")  # the server's own statement of R13


@pytest.mark.browser
def test_web_copies_canonical_url_and_links_from_the_answer_k3(api_live, new_page):
    """K3, issue 17.7: for a link with its filters in an unusual order, the URL shown, the copied URL
    and both downloads are the answer's meta.canonical_url and meta.links, copied, not rebuilt: an
    answer whose canonical URL is pinned to its data version (data_version=) is shown as it says."""
    version = api_live.client.get("/api/v1").json()["data_version"]
    answered: list[dict[str, Any]] = []

    def pinned(route: Any) -> None:
        body = route.fetch().json()
        meta = body["meta"]
        for key in ("json", "csv_with_context"):
            meta["links"][key] += f"&data_version={version}"
        meta["canonical_url"] += f"&data_version={version}"
        answered.append(body)
        route.fulfill(json=body)

    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.route("**/api/v1/population?*", pinned)
    page.goto(api_live.url + SHUFFLED_LINK)
    shown = settle(page)
    meta = answered[-1]["meta"]
    assert shown == urljoin(api_live.url, meta["canonical_url"]) and shown.endswith(f"data_version={version}")
    assert page.get_attribute("#download-json", "href") == urljoin(api_live.url, meta["links"]["json"])
    assert page.get_attribute("#download-csv", "href") == urljoin(api_live.url, meta["links"]["csv_with_context"])
    page.click("#copy-url")
    page.wait_for_function("() => document.getElementById('copy-status').textContent.length > 0")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    assert meta["query"]["filters"] == {"snapshot_year": ["2023", "2024"], "race": ["B", "W"]}
    # Unrouted, the shown URL is exactly what the server calls canonical for this question.
    plain = new_page()
    plain.goto(api_live.url + SHUFFLED_LINK)
    unpinned = settle(plain)
    assert unpinned == urljoin(api_live.url, api_live.client.get(unpinned).json()["meta"]["canonical_url"])
    assert unpinned == shown.removesuffix(f"&data_version={version}")


def _context_lines(text: str) -> list[str]:
    return [line[2:] for line in text.splitlines() if line.startswith("# ")]


@pytest.mark.browser
def test_web_csv_download_states_filters_and_data_version_issue15(api_live, new_page, tmp_path):
    """Issue 15: the CSV downloaded from the page names the dataset, measures, dimensions, every filter
    (the year included) and the data version the metadata gives, with its canonical URL and the
    disclosure note; past those '#' lines it is the plain CSV (pandas reads it with comment='#')."""
    md = api_live.client.get("/api/v1/population/metadata").json()
    page = new_page()
    page.goto(api_live.url + "/?dataset=population&dimensions=race&measures=people&snapshot_year=2024&race=W,B")
    shown = settle(page)
    with page.expect_download() as dl:
        page.click("#download-csv")
    path = tmp_path / "download.csv"
    dl.value.save_as(path)
    text = path.read_text(encoding="utf-8")
    lines = _context_lines(text)
    race = {c["code"]: c["label"] for d in md["dimensions"] if d["name"] == "race" for c in d["codes"]}
    assert any(line.startswith("data version: " + md["data_version"]) for line in lines), lines
    assert any("dataset population" in line for line in lines)
    assert "measures: people (People)" in lines
    assert any(line.startswith("dimensions: race") for line in lines)
    assert any(line.startswith("filter snapshot_year") and line.endswith(": 2024") for line in lines), lines
    race_line = next(line for line in lines if line.startswith("filter race"))
    assert f"W ({race['W']})" in race_line and f"B ({race['B']})" in race_line
    canonical = next(line for line in lines if line.startswith("canonical URL: ")).removeprefix("canonical URL: ")
    assert urljoin(api_live.url, canonical) == page.get_attribute("#download-csv", "href")
    assert any(md["disclosure"]["suppression"][:60] in line for line in lines)
    # The table past the context is the plain CSV programs get, unchanged.
    links = api_live.client.get(shown).json()["meta"]["links"]
    plain = api_live.client.get(links["csv"]).text
    assert not plain.startswith("#") and plain.splitlines()[0] == "race,race_label,people,suppressed"
    framed = pd.read_csv(path, comment="#", keep_default_na=False, dtype=str)
    assert framed.equals(pd.read_csv(io.StringIO(plain), keep_default_na=False, dtype=str))
    rows = list(csv.DictReader(io.StringIO(plain)))
    assert sorted(r["race"] for r in rows) == ["B", "W"]


def test_csv_context_is_opt_in_and_documented(api_live):
    """Issue 15: csv_context=comments is an opt-in of the CSV format: the plain CSV's bytes are unchanged
    by it, the canonical URL names it only when given, a JSON request with it is a clear 400, and
    OpenAPI declares it on both the JSON-or-CSV and the .csv operations."""
    c = api_live.client
    q = {"dimensions": "race", "snapshot_year": "2024"}
    plain = c.get("/api/v1/population", params={**q, "format": "csv"})
    framed = c.get("/api/v1/population.csv", params={**q, "csv_context": "comments"})
    assert plain.status_code == framed.status_code == 200
    assert plain.text.startswith("race,race_label,")
    assert framed.text.startswith("# ") and framed.text.endswith(plain.text)
    assert framed.text[: -len(plain.text)].count("\r\n") == len(_context_lines(framed.text))
    assert plain.headers["content-disposition"] == framed.headers["content-disposition"]
    answer = c.get("/api/v1/population", params=q).json()["meta"]
    assert "csv_context" not in answer["canonical_url"] and "csv_context" not in answer["links"]["csv"]
    assert "csv_context=comments" in answer["links"]["csv_with_context"]
    assert f"canonical URL: {answer['links']['csv_with_context']}" in _context_lines(framed.text)
    bad = c.get("/api/v1/population", params={**q, "csv_context": "comments"})
    assert bad.status_code == 400 and bad.json()["error"]["parameter"] == "csv_context"
    assert c.get("/api/v1/population.csv", params={**q, "csv_context": "yaml"}).status_code == 400
    spec = c.get("/openapi.json").json()
    for path in ("/api/v1/population", "/api/v1/population.csv"):
        param = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "csv_context")
        assert param["schema"]["enum"] == ["comments"]
    assert "csv_with_context" in spec["components"]["schemas"]["AnswerLinks"]["properties"]

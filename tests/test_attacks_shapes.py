"""Attack suite items 4, 6 and 7 of spec/disclosure.md against the live API over HTTP (K2, K3, K6).

4. Repetition: the same question many times and in equivalent spellings; answers must be
   identical, so averaging repeats recovers nothing the first answer did not.
6. Shapes: every format, paging window and ordering, the Cube-compatible endpoint and the SQL
   surface, for withheld cells: none may show a value, and all must agree.
7. Identifiers: every byte returned by every endpoint is scanned for person ids, person and
   record keys, docket numbers, episode ids and exact dates.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any, Callable

import pytest

from attack_helpers import Score, codes, fetch, truth

DS = "population"
DIMS = ["agency", "race"]
YEAR = "2022"

Rows = dict[tuple[str, str], tuple[Any, bool]]  # (agency, race) -> (people or None, suppressed)


def _norm_json(rows: list[dict]) -> Rows:
    return {(str(r["agency"]), str(r["race"])): (r["people"], bool(r["suppressed"])) for r in rows}


def _url_json(api, **extra) -> list[dict]:
    r = api.get(f"/api/v1/{DS}", params={"dimensions": ",".join(DIMS), "snapshot_year": YEAR, **extra})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def shape_json(api) -> Rows:
    return _norm_json(_url_json(api))


def shape_json_paged(api) -> Rows:
    out: list[dict] = []
    url = f"/api/v1/{DS}?dimensions={','.join(DIMS)}&snapshot_year={YEAR}&limit=7"
    while url:
        body = api.get(url).json()
        out += body["data"]
        url = body["meta"]["links"]["next"]
    return _norm_json(out)


def shape_order_desc(api) -> Rows:
    return _norm_json(_url_json(api, order="-people"))


def shape_order_asc(api) -> Rows:
    return _norm_json(_url_json(api, order="people"))


def _csv(text: str) -> Rows:
    out: Rows = {}
    for rec in csv.DictReader(io.StringIO(text)):
        out[(rec["agency"], rec["race"])] = (int(rec["people"]) if rec["people"] != "" else None,
                                             rec["suppressed"] == "true")
    return out


def shape_csv(api) -> Rows:
    return _csv(api.get(f"/api/v1/{DS}", params={"dimensions": ",".join(DIMS), "snapshot_year": YEAR,
                                                  "format": "csv"}).text)


def shape_csv_accept_paged(api) -> Rows:
    out: Rows = {}
    for offset in range(0, 200, 11):
        out.update(_csv(api.get(f"/api/v1/{DS}", params={"dimensions": ",".join(DIMS), "snapshot_year": YEAR,
                                                          "limit": 11, "offset": offset},
                                headers={"Accept": "text/csv"}).text))
    return out


def _cube_rows(rows: list[dict]) -> Rows:
    return {(str(r[f"{DS}.agency"]), str(r[f"{DS}.race"])): (r[f"{DS}.people"], r[f"{DS}.suppressed"]) for r in rows}


CUBE_Q = {"measures": [f"{DS}.people"], "dimensions": [f"{DS}.agency", f"{DS}.race"],
          "filters": [{"member": f"{DS}.snapshot_year", "operator": "equals", "values": [YEAR]}]}


def shape_cube_get(api) -> Rows:
    return _cube_rows(api.get("/cubejs-api/v1/load", params={"query": json.dumps(CUBE_Q)}).json()["data"])


def shape_cube_post_ordered(api) -> Rows:
    q = {**CUBE_Q, "order": {f"{DS}.people": "desc"}}
    return _cube_rows(api.client.post("/cubejs-api/v1/load", json={"query": q}).json()["data"])


URL_SHAPES: dict[str, Callable[[Any], Rows]] = {
    "json": shape_json, "json paged": shape_json_paged, "order -people": shape_order_desc,
    "order people": shape_order_asc, "csv": shape_csv, "csv via Accept, paged": shape_csv_accept_paged,
    "cube GET": shape_cube_get, "cube POST ordered": shape_cube_post_ordered,
}


def _sql_shapes(request) -> dict[str, Callable[[Any], Rows]]:
    """The SQL surface's shapes, when the SQL surface and its fixture are part of the build."""
    try:
        sql = request.getfixturevalue("sql_live")
    except pytest.FixtureLookupError:
        return {}

    def run(statement: str) -> Rows:
        out: Rows = {}
        for r in sql.rows(statement):
            people = next((v for k, v in r.items() if "people" in k.lower()), None)
            out[(str(r["agency"]), str(r["race"]))] = (people, r["suppressed"] in (True, "t", "true", 1))
        return out

    base = (f"SELECT agency, race, MEASURE(people), suppressed FROM {DS} WHERE snapshot_year = {YEAR} "
            "GROUP BY 1, 2")
    return {"sql": lambda api: run(base),
            "sql ordered": lambda api: run(base + " ORDER BY 3 DESC"),
            "sql paged": lambda api: {k: v for off in range(0, 200, 13)
                                      for k, v in run(base + f" LIMIT 13 OFFSET {off}").items()}}


def test_attack6_every_shape_withholds_and_agrees(api_live, request):
    """K2 attack 6: no format, paging window, ordering, Cube endpoint or SQL shows a withheld value."""
    shapes = {**URL_SHAPES, **_sql_shapes(request)}
    true_cells = truth(api_live, DS, DIMS, ["people"], {"snapshot_year": [YEAR]})
    withheld = {k for k, r in true_cells.items() if 0 < r["people"] < 5}
    assert len(withheld) >= 5, "the data must hold withheld cells"
    reference = shape_json(api_live)
    revealed: set = set()
    for name, shape in shapes.items():
        rows = shape(api_live)
        assert rows == reference, f"{name} disagrees with JSON"
        for key in withheld:
            people, suppressed = rows[key]
            assert suppressed, f"{name}: {key} not flagged suppressed"
            if people is not None:
                revealed.add(key)
    rate = len(revealed) / len(withheld)
    print(f"attack 6 shapes ({len(shapes)} shapes incl. {'SQL' if 'sql' in shapes else 'no SQL'}): "
          f"revealed {len(revealed)}/{len(withheld)} = {rate:.3f}")
    assert rate == 0.0


def test_attack6_ordering_does_not_rank_withheld_cells(api_live):
    """K2: ordering runs on published values, so withheld rows sit last in dimension order either way."""
    for order in ("people", "-people"):
        rows = _url_json(api_live, order=order)
        sup = [(r["agency"], r["race"]) for r in rows if r["suppressed"]]
        first_sup = next(i for i, r in enumerate(rows) if r["suppressed"])
        assert all(r["suppressed"] for r in rows[first_sup:])
        ag = codes(api_live, DS, "agency")
        rc = codes(api_live, DS, "race")
        assert sup == sorted(sup, key=lambda k: (ag.index(k[0]), rc.index(k[1])))


def test_attack4_repetition_and_spellings_identical(api_live):
    """K3 attack 4: re-asking a complement question in many spellings returns identical bytes,
    so averaging the repeats recovers exactly what one answer does."""
    single = Score("attack 4 single answer")
    averaged = Score("attack 4 averaged over 6 spellings")
    cells = fetch(api_live, DS, DIMS, {"snapshot_year": [YEAR]})
    true_cells = truth(api_live, DS, DIMS, ["people"], {"snapshot_year": [YEAR]})
    races = codes(api_live, DS, "race")
    for (ag, race) in [k for k, r in cells.items() if r["suppressed"]][:8]:
        rest = [x for x in races if x != race]
        spellings = [
            f"snapshot_year={YEAR}&agency={ag}&race={','.join(rest)}",
            f"race={','.join(reversed(rest))}&agency={ag}&snapshot_year={YEAR}",
            f"agency={ag.lower()}&" + "&".join(f"race={x}" for x in rest) + f"&snapshot_year={YEAR}&format=json",
            f"snapshot_year={YEAR}&agency={ag}&agency={ag}&race={','.join(rest + rest[:1])}&measures=people",
            f"limit=5&offset=0&snapshot_year={YEAR}&agency={ag}&race={','.join(rest)}",
            f"race={','.join(rest)}&snapshot_year={YEAR}&agency={ag}&dimensions=",
        ]
        answers = [api_live.get(f"/api/v1/{DS}?{s}") for s in spellings]
        bodies = {a.json()["meta"]["canonical_url"] for a in answers if a.status_code == 200}
        values = [a.json()["data"][0]["people"] for a in answers]
        assert all(a.status_code == 200 for a in answers)
        assert len(set(values)) == 1, f"spellings of one question disagree: {values}"
        assert len({a.headers["etag"] for a in answers}) <= 2 and len(bodies) <= 2  # limit=5 is a different page size
        total = fetch(api_live, DS, [], {"snapshot_year": [YEAR], "agency": [ag]})[()]["people"]
        tv = true_cells[(ag, race)]["people"]
        if values[0] is None:  # K4 lattice: "all races but one" is withheld with that race's cell
            single.withheld(tv)
            averaged.withheld(tv)
            continue
        single.add(total - values[0], tv)
        averaged.add(sum(total - v for v in values) / len(values), tv)
    print(single.line())
    print(averaged.line())
    assert averaged.rate == single.rate


# --- attack 7: identifiers ---------------------------------------------------------------------
def _identifiers(api) -> dict[str, set[str]]:
    ex = api.extracts
    found: dict[str, set[str]] = {"person id": set(), "docket number": set(), "episode id": set(), "date": set()}
    date_cols = {"date_of_birth", "admission_date", "release_date", "filing_date", "start_date", "end_date"}
    for name in ("people", "custody_episodes", "charges", "program_enrollments"):
        with open(ex / f"{name}.csv", newline="") as fh:
            for rec in csv.DictReader(fh):
                if rec.get("person_id"):
                    found["person id"].add(rec["person_id"])
                if rec.get("docket_number"):
                    found["docket number"].add(rec["docket_number"])
                if rec.get("episode_id"):
                    found["episode id"].add(rec["episode_id"])
                for c in date_cols & rec.keys():
                    if rec[c]:
                        found["date"].add(rec[c])
    version = api.service.version()
    engine = api.service.engine
    keys = engine.query(f"SELECT DISTINCT toString(person_key), toString(record_key) FROM {version.database}.custody_facts").rows
    found["person_key"] = {k for k, _ in keys}
    found["record_key"] = {r for _, r in keys if len(r) >= 7}
    return found


def _collect(api) -> list[tuple[str, str]]:
    """(where, text) for every endpoint and shape the API serves, headers included."""
    out: list[tuple[str, str]] = []

    def grab(path: str, **kw: Any) -> None:
        r = api.get(path, **kw)
        out.append((path, r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items())))

    grab("/api/v1")
    grab("/openapi.json")
    grab("/docs")
    grab("/healthz")
    grab("/cubejs-api/v1/meta")
    for ds in ("population", "custody", "incarceration_time", "charges", "programs"):
        grab(f"/api/v1/{ds}/metadata")
        meta = api.get(f"/api/v1/{ds}/metadata").json()
        dims = [d["name"] for d in meta["dimensions"] if "requires" not in d]
        measures = ",".join(m["name"] for m in meta["measures"])
        for i in range(0, len(dims), 3):
            for fmt in ("json", "csv"):
                grab(f"/api/v1/{ds}", params={"dimensions": ",".join(dims[i:i + 3]), "measures": measures,
                                              "format": fmt, "limit": 10000})
        grab("/cubejs-api/v1/load", params={"query": json.dumps({"measures": [f"{ds}.{meta['measures'][0]['name']}"],
                                                                  "dimensions": [f"{ds}.{dims[1]}"]})})
    grab("/api/v1/population", params={"dimensions": "offender_status,governing_offense_subtype",
                                       "offender_status": "SENTENCED", "limit": 10000})
    grab("/api/v1/population", params={"dimensions": "offender_status,leading_charge_subtype",
                                       "offender_status": "PRETRIAL", "format": "csv", "limit": 10000})
    for bad in ("/api/v1/nope", "/api/v1/population?race=Q", "/api/v1/population?limit=x", "/nothing"):
        grab(bad)
    return out


def test_attack7_no_identifiers_or_exact_dates_anywhere(api_live):
    """K6/P3 attack 7: scan every byte returned for identifiers and exact dates."""
    ids = _identifiers(api_live)
    assert all(ids[k] for k in ("person id", "docket number", "episode id", "date", "person_key"))
    loaded_at = api_live.service.version().loaded_at_iso or ""
    loaded_date = loaded_at[:10]
    hits: list[str] = []
    scanned = 0
    for where, text in _collect(api_live):
        scanned += len(text)
        text = text.replace(loaded_at, "")
        for token in set(re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]{5,}", text)):
            for kind in ("person id", "docket number", "episode id", "person_key", "record_key"):
                if token in ids[kind]:
                    hits.append(f"{kind} {token[:4]}… in {where}")
        for d in set(re.findall(r"\d{4}-\d{2}-\d{2}", text)):
            if d != loaded_date:
                hits.append(f"exact date in {where}")
        for d in set(re.findall(r"\d{1,2}/\d{1,2}/\d{4}", text)):
            hits.append(f"exact date {d} in {where}")
    total_ids = sum(len(v) for v in ids.values())
    print(f"attack 7 identifiers: {len(hits)} found in {scanned} bytes scanned against {total_ids} identifiers "
          f"(rate {len(hits) / total_ids:.4f})")
    assert not hits, hits[:10]

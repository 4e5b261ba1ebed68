"""The attack suite at realistic strength (spec/disclosure.md items 1–3 and 8–10; K4, K7, K8) over
HTTP on scale-1 data (seed 5).

Each attack is written once against a *source* of cells and run twice: against the published API,
where it must recover withheld values no more often than guessing the commonest true value
(+ 0.05), and against the true values, where it must recover nearly all of them — so every test
here can fail. Every rate is printed beside its guessing rate (run with ``-s`` to see them).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from statistics import mean
from typing import Any, Protocol

import pytest

from attack_helpers import Cells, K, Score, codes

MARGIN = 0.05  # spec/disclosure.md: fail above guessing + 0.05
YEARS = ["2017", "2018", "2019", "2020", "2021", "2022", "2023", "2024"]
TARGETS = 40  # withheld cells per attack, at least
ROUTES = 40  # routes per withheld cell, at least

pytestmark = pytest.mark.slow


class Source(Protocol):
    name: str

    def rows(self, dataset: str, dims: list[str], filters: dict[str, list[str]],
             measures: list[str]) -> dict[tuple[str, ...], dict[str, Any] | None]:
        """Cells keyed by the dims' codes; a withheld cell is None; a cell with no people is absent."""


class Published:
    name = "published"

    def __init__(self, api: Any):
        self.api = api

    def rows(self, dataset, dims, filters, measures):
        params: list[tuple[str, str]] = [("dimensions", ",".join(dims)), ("measures", ",".join(measures)),
                                         ("limit", str(self.api.settings.max_page_size))]
        params += [(d, ",".join(c)) for d, c in filters.items()]
        status, body = self.api.get_json(f"/api/v1/{dataset}", params)
        assert status == 200, body
        assert body["meta"]["total_row_count"] == len(body["data"])
        return {tuple(str(row[d]) for d in dims): (None if row["suppressed"] else row) for row in body["data"]}


class Truth:
    name = "true values"

    def __init__(self, api: Any):
        self.api = api

    def rows(self, dataset, dims, filters, measures):
        return Cells({tuple(str(r[d]) for d in dims): r for r in self.api.truth(dataset, dims, measures, filters)},
                     measures)


def one(src: Source, dataset: str, filters: dict[str, list[str]], measure: str) -> int | None:
    """One cell's value: 0 for a cell with no people, None when withheld."""
    cell = src.rows(dataset, [], filters, [measure]).get((), {measure: 0})
    return None if cell is None else cell[measure]


CONTEXTS = [{}, {"offender_status": ["SENTENCED"]}, {"offender_status": ["PRETRIAL"]}, {"assigned_sex": ["M"]},
            {"assigned_sex": ["F"]}]


def withheld_targets(api: Any, dataset: str, dims: list[str], measure: str, n: int,
                     contexts: list[dict[str, list[str]]] = [{}], min_true: int = 0) -> list[tuple[dict, tuple, int]]:
    """(filters, codes, true value) of up to n cells the API withholds, over every year and the
    given context filters (``filters`` holds the year and the context). ``min_true=1`` keeps only
    cells that hold someone: conservative, since the attacker cannot tell them from empty ones."""
    pub, tru = Published(api), Truth(api)
    out: list[tuple[dict, tuple, int]] = []
    for year in YEARS:
        for ctx in contexts:
            f = {"snapshot_year": [year], **ctx}
            shown = pub.rows(dataset, dims, f, [measure])
            true = tru.rows(dataset, dims, f, [measure])
            # cells withheld for fewer than k people: a cell withheld with its other half along a
            # two-code dimension (offender_status) holds k or more, and is not a small count to recover
            out += [(f, key, int(true[key][measure])) for key, row in sorted(shown.items())
                    if row is None and min_true <= int(true[key][measure]) < K]
    random.Random(3).shuffle(out)
    return out[:n]


# --- item 9: averaging at strength ----------------------------------------------------------------
def averaging(api: Any, src: Source, targets, routes: int, dataset: str = "population", by: str = "race") -> Score:
    """people(agency ∈ {X} ∪ T, by=Y) − people(agency ∈ T, by=Y), averaged over random sets T."""
    score = Score(f"{dataset} averaging over {routes} routes ({src.name})")
    agencies = codes(api, dataset, "agency")
    rng = random.Random(11)
    for f, (x, y), tv in targets:
        others = [a for a in agencies if a != x]
        ests = []
        for _ in range(routes):
            t = rng.sample(others, rng.randint(1, len(others) - 1))
            with_x = one(src, dataset, {**f, "agency": [x, *t], by: [y]}, "people")
            if with_x is None:
                continue  # the attacker needs both halves of the route
            without = one(src, dataset, {**f, "agency": t, by: [y]}, "people")
            if without is not None:
                ests.append(with_x - without)
        if ests:
            score.add(mean(ests), tv)
        else:
            score.withheld(tv)
    return score


def test_K4_averaging_many_routes_recovers_no_more_than_guessing(api_s1):
    targets = withheld_targets(api_s1, "population", ["agency", "race"], "people", TARGETS, min_true=1)
    assert len(targets) >= TARGETS
    attack = averaging(api_s1, Published(api_s1), targets, ROUTES)
    control = averaging(api_s1, Truth(api_s1), targets[:10], 3)
    print(attack.line())
    print(control.line())
    assert control.rate >= 0.95, "the attack must work on unprotected values, or this test cannot fail"
    assert attack.rate <= attack.guess_rate + MARGIN, attack.line()


# --- items 1–3: margins, complements and routes through other dimensions --------------------------
PARTITIONS = ["", "assigned_sex", "ethnicity", "offender_status", "age_group", "facility_type", "gender_identity",
              "security_level"]
PAIRS = [("agency", "race"), ("agency", "age_group"), ("agency", "ethnicity"), ("facility_type", "race")]


def margin_routes(api: Any, src: Source, a_dim: str, b_dim: str, targets) -> tuple[Score, Score]:
    """For a withheld (a = X, b = Y): per partition D (and none), Σ_d [people(X, d) −
    Σ_{y≠Y} people(X, y, d)] — a margin minus its published breakdown. Each partition uses
    different cells, so their noises are independent, and averaging the routes is the attack."""
    single = Score(f"margin {a_dim}x{b_dim}, one route ({src.name})")
    routes = Score(f"margin {a_dim}x{b_dim}, up to {len(PARTITIONS)} partitions averaged ({src.name})")
    b_codes = codes(api, "population", b_dim)
    cache: dict[tuple, Any] = {}

    def rows(f, dims):
        key = (repr(sorted(f.items())), tuple(dims))
        if key not in cache:
            cache[key] = src.rows("population", dims, f, ["people"])
        return cache[key]

    for f, (x, y), tv in targets:
        ests = []
        for d in PARTITIONS:
            if d in (a_dim, b_dim) or d in f:
                continue
            extra = [d] if d else []
            margin, cells = rows(f, [a_dim, *extra]), rows(f, [a_dim, b_dim, *extra])
            levels = sorted({k[1:] for k in margin if k[0] == x})
            est, ok = 0, True
            for lv in levels:
                m = margin.get((x, *lv))
                parts = [cells.get((x, r, *lv), {"people": 0}) for r in b_codes if r != y]
                if m is None or any(p is None for p in parts):
                    ok = False
                    break
                est += m["people"] - sum(p["people"] for p in parts)
            if ok:
                ests.append(est)
        if ests:
            single.add(ests[0], tv)
            routes.add(mean(ests), tv)
        else:
            single.withheld(tv)
            routes.withheld(tv)
    return single, routes


def _merged(scores: list[Score], name: str) -> Score:
    out = Score(name)
    for s in scores:
        out.hits += s.hits
        out.tries += s.tries
        out.truths += s.truths
        out.fallbacks += s.fallbacks
    return out


def test_K4_margins_complements_and_partitions_recover_no_more_than_guessing(api_s1):
    singles, averaged, controls = [], [], []
    for a_dim, b_dim in PAIRS:
        targets = withheld_targets(api_s1, "population", [a_dim, b_dim], "people", 10_000, CONTEXTS)
        one_route, many = margin_routes(api_s1, Published(api_s1), a_dim, b_dim, targets)
        _, control = margin_routes(api_s1, Truth(api_s1), a_dim, b_dim, targets[:10])
        singles.append(one_route)
        averaged.append(many)
        controls.append(control)
        print(one_route.line())
        print(many.line())
    # the complement filter (b = every code but Y) is answered from the same single-code cells
    complement = Score("complement filter (published)")
    races = codes(api_s1, "population", "race")
    for f, (x, y), tv in withheld_targets(api_s1, "population", ["agency", "race"], "people", TARGETS):
        total = one(Published(api_s1), "population", {**f, "agency": [x]}, "people")
        rest = one(Published(api_s1), "population", {**f, "agency": [x], "race": [r for r in races if r != y]}, "people")
        if total is None or rest is None:
            complement.withheld(tv)
        else:
            complement.add(total - rest, tv)
    control = _merged(controls, "margins (true values)")
    scores = [_merged(singles, "margins, one route (published)"),
              _merged(averaged, "margins, partitions averaged (published)"), complement]
    for s in (*scores, control):
        print(s.line())
    assert control.rate >= 0.95, control.line()
    for s in scores:
        assert s.tries >= TARGETS, s.line()
        assert s.rate <= s.guess_rate + MARGIN, s.line()


# --- item 8: same people, different records (K7) --------------------------------------------------
def charges_complement(api: Any, src: Source, targets) -> tuple[Score, Score]:
    """charges(agency X) − charges(agency X, offense_type = every type but T) for a withheld (X, T):
    two cells with, often, exactly the same people and different charges."""
    score, same = Score(f"charges: X − (X, all types but T) ({src.name})"), Score(
        f"charges: the pairs with the same people ({src.name})")
    types = codes(api, "charges", "offense_type")
    tru = Truth(api)
    for f, (x, r, t), tv in targets:
        rest = [c for c in types if c != t]
        f_all = {**f, "agency": [x], "race": [r]}
        f_rest = {**f_all, "offense_type": rest}
        a, b = one(src, "charges", f_all, "charges"), one(src, "charges", f_rest, "charges")
        same_people = one(tru, "charges", f_all, "people") == one(tru, "charges", f_rest, "people")
        for s in (score, same) if same_people else (score,):
            if a is None or b is None:
                s.withheld(tv)
            else:
                s.add(max(a - b, 0), tv, clip=False)
    return score, same


def test_K7_same_people_different_charges_do_not_difference(api_s1):
    targets = withheld_targets(api_s1, "charges", ["agency", "race", "offense_type"], "charges", 3 * TARGETS,
                               min_true=1)
    assert len(targets) >= TARGETS
    attack, same = charges_complement(api_s1, Published(api_s1), targets)
    control, _ = charges_complement(api_s1, Truth(api_s1), targets[:15])
    for s in (attack, same, control):
        print(s.line())
    assert control.rate >= 0.95, control.line()
    assert same.tries >= 10, same.line()
    for s in (attack, same):
        assert s.rate <= s.guess_rate + MARGIN, s.line()


def test_K7_cell_keys_of_records_differ_where_people_keys_agree(api_s1):
    """Two cells with the same people (the same people cell key) and different charges carry
    different charge keys, so their published charge counts are perturbed independently."""
    types = codes(api_s1, "charges", "offense_type")
    svc = api_s1.service
    ds = svc.dataset("charges")
    version = svc.version()
    members = [ds.dimensions["agency"].member, ds.dimensions["race"].member]
    measures = [ds.measures["charges"].member, ds.rules.cell_key_member, "charges.charges_key"]

    def cells(filters: dict[str, list[str]]) -> dict[tuple, dict]:
        q = {"dimensions": members, "measures": measures,
             "filters": [{"member": ds.dimensions[d].member, "operator": "equals", "values": v}
                         for d, v in filters.items()]}
        return {(r[members[0]], r[members[1]]): r for r in
                svc.query_engine.load(q, database=version.database, internal=True).data}

    pairs = 0
    for year in YEARS[:2]:
        whole = cells({"snapshot_year": [year]})
        for t in types:
            for key, b in cells({"snapshot_year": [year], "offense_type": [c for c in types if c != t]}).items():
                a = whole[key]
                if a[ds.rules.cell_key_member] == b[ds.rules.cell_key_member] and a[measures[0]] != b[measures[0]]:
                    pairs += 1
                    assert a["charges.charges_key"] != b["charges.charges_key"]
    assert pairs >= 20, pairs


def test_K7_same_people_different_severity_lattice_cells_do_not_difference(api_s1):
    """Without any multi-code filter: charges(X, race r) − charges(X, r, severity F) is the
    charges of severity M of the same people when every one of them has a felony charge — the
    pair the people-keyed noise used to cancel exactly."""
    pub, tru = Published(api_s1), Truth(api_s1)
    attack, same = Score("charges: (X, r) − (X, r, F) (published)"), Score("charges: those with the same people (published)")
    control = Score("charges: (X, r) − (X, r, F) (true values)")
    for year, ctx in ((y, c) for y in YEARS for c in ("race", "age_group", "assigned_sex", "ethnicity", "facility_type")):
        f = {"snapshot_year": [year]}
        by_sev = pub.rows("charges", ["agency", ctx, "severity"], f, ["charges"])
        total = pub.rows("charges", ["agency", ctx], f, ["charges"])
        t_sev = tru.rows("charges", ["agency", ctx, "severity"], f, ["charges", "people"])
        t_total = tru.rows("charges", ["agency", ctx], f, ["charges", "people"])
        for (x, r, sev), row in by_sev.items():
            if row is not None or sev != "M" or not t_sev[(x, r, sev)]["charges"]:
                continue  # conservative: only cells that hold someone's charges
            tv = int(t_sev[(x, r, sev)]["charges"])
            fel, tot = by_sev.get((x, r, "F"), {"charges": 0}), total.get((x, r))
            tf = t_sev.get((x, r, "F"), {"charges": 0, "people": 0})
            control.add(max(t_total[(x, r)]["charges"] - tf["charges"], 0), tv, clip=False)
            same_people = t_total[(x, r)]["people"] == tf["people"]
            for s in (attack, same) if same_people else (attack,):
                if fel is None or tot is None:
                    s.withheld(tv)
                else:
                    s.add(max(tot["charges"] - fel["charges"], 0), tv, clip=False)
    for s in (attack, same, control):
        print(s.line())
    assert control.rate >= 0.95, control.line()
    assert same.tries - len(same.fallbacks) >= 10, same.line()
    for s in (attack, same):
        assert s.rate <= s.guess_rate + MARGIN, s.line()


# --- item 10: small-cell medians (K8) -------------------------------------------------------------
def small_medians(api: Any, src: Source) -> tuple[Score, Score]:
    exact, near = Score(f"small-cell medians, exact ({src.name})"), Score(f"small-cell medians, within 2 days ({src.name})")
    tru = Truth(api)
    for dims in (["agency", "race"], ["agency", "age_group"], ["facility_type", "race"], ["agency", "assigned_sex"]):
        for f in ({"snapshot_year": [y], **ctx} for y in YEARS for ctx in CONTEXTS):
            true = tru.rows("incarceration_time", dims, f, ["people", "median_days"])
            shown = src.rows("incarceration_time", dims, f, ["people", "median_days"])
            for key, t in true.items():
                n = int(t["people"])
                if not (5 <= n <= 15 and n % 2 == 1):
                    continue
                tv = int(round(float(t["median_days"])))
                cell = shown.get(key)
                if cell is None or cell["median_days"] is None:
                    exact.withheld(tv)
                    near.withheld(tv)
                    continue
                est = float(cell["median_days"])
                exact.add(est, tv, clip=False)
                near.tries += 1
                near.truths.append(tv)
                near.hits += int(abs(est - tv) <= 2)
    return exact, near


def test_K8_small_cell_medians_do_not_give_one_persons_days(api_s1):
    exact, near = small_medians(api_s1, Published(api_s1))
    control, _ = small_medians(api_s1, Truth(api_s1))
    for s in (exact, near, control):
        print(s.line())
    assert exact.tries >= TARGETS, exact.line()
    assert control.rate >= 0.95, control.line()
    assert exact.rate <= exact.guess_rate + MARGIN, exact.line()


def test_K4_multi_code_filter_is_the_sum_of_published_single_codes(api_s1):
    """The lattice rule itself: a filter on several codes publishes exactly the sum of the
    single-code cells as published, and is withheld when any of them is."""
    pub = Published(api_s1)
    agencies = codes(api_s1, "population", "agency")
    checked = withheld = 0
    for year in YEARS[:2]:
        by_agency = pub.rows("population", ["agency", "race"], {"snapshot_year": [year]}, ["people"])
        for race in codes(api_s1, "population", "race"):
            for i in range(0, len(agencies) - 2, 3):
                group = agencies[i:i + 3]
                got = one(pub, "population", {"snapshot_year": [year], "agency": group, "race": [race]}, "people")
                parts = [by_agency.get((a, race), {"people": 0}) for a in group]
                if any(p is None for p in parts):
                    assert got is None
                    withheld += 1
                else:
                    assert got == sum(p["people"] for p in parts)
                    checked += 1
    assert checked >= 10 and withheld >= 1, (checked, withheld)


def test_K4_median_over_several_codes_is_refused_with_what_to_write(api_s1):
    r = api_s1.get("/api/v1/incarceration_time", params={"race": "W,B", "measures": "people,median_days"})
    assert r.status_code == 400
    body = r.json()
    text = str(body)
    assert "query.median_over_codes" in text and "dimensions=race" in text


def test_guess_rate_is_the_commonest_value():
    s = Score("x")
    for v in (1, 1, 2, 3):
        s.withheld(v)
    assert s.guess_rate == 0.5 and s.rate == 0.5 and Counter(s.truths)[1] == 2 and K == 5


# --- row existence (found by an independent attacker) --------------------------------------------
BREAKDOWN = ["offender_status", "age_group", "assigned_sex", "gender_identity", "ethnicity", "facility_type"]


def row_existence(api: Any, src: Source, targets) -> Score:
    """Break a withheld cell down by six more dimensions and count the rows: when only
    combinations that have people are listed, each person is usually a row of their own."""
    score = Score(f"row existence, {len(BREAKDOWN)}-dimension breakdown ({src.name})")
    for f, (x, y), tv in targets:
        rows = src.rows("population", BREAKDOWN, {**f, "agency": [x], "race": [y]}, ["people"])
        score.add(len(rows), tv)
    return score


def test_P1_which_rows_exist_tells_nothing(api_s1):
    """P1 as the FAQ has it: a combination with no people is withheld like one with 1–4, and every
    combination of the asked codes is listed, so counting rows recovers nothing."""
    targets = withheld_targets(api_s1, "population", ["agency", "race"], "people", TARGETS, min_true=1)
    attack = row_existence(api_s1, Published(api_s1), targets)
    control = row_existence(api_s1, Truth(api_s1), targets)
    for s in (attack, control):
        print(s.line())
    assert control.rate >= 0.80, control.line()  # people who share all six codes make it miss a few
    assert attack.rate <= attack.guess_rate + MARGIN, attack.line()
    r = api_s1.get("/api/v1/population", params={"dimensions": ",".join(BREAKDOWN), "snapshot_year": "2020",
                                                  "agency": targets[0][1][0], "race": targets[0][1][1]})
    body = r.json()
    assert body["meta"]["total_row_count"] == math.prod(len(codes(api_s1, "population", d)) for d in BREAKDOWN)
    assert {row["suppressed"] for row in body["data"]} == {True}


def test_K7_charges_and_convictions_of_the_same_charges_agree(api_s1):
    """K3/K4: filtered on CONVICTED, charges and convictions count the same charge records, so
    they are one published value, not two readings to average (they share a noise stream)."""
    pub = Published(api_s1)
    compared = 0
    for dims in (["offense_type"], ["agency", "race"], ["severity", "age_group"]):
        shown = pub.rows("charges", dims, {"disposition": ["CONVICTED"], "snapshot_year": ["2024"]},
                         ["charges", "convictions"])
        for key, row in shown.items():
            if row is not None:
                compared += 1
                assert row["charges"] == row["convictions"], (dims, key, row)
    assert compared >= 20, compared


def test_K4_two_people_counts_on_one_key_do_not_difference_exactly(api_s1):
    """Over several snapshots the charges view's people (a person once per snapshot) and
    distinct_people differ by the people in custody on more than one snapshot. Both drew from the
    cell key and the one "people" stream, so in every cell with both above k + 3 they moved by the
    same amount and their difference was that small count exactly (found in review). The second
    count now draws from a stream of its own: exact in about one cell in six, as independent
    noise is, not in all."""
    pub, tru = Published(api_s1), Truth(api_s1)
    measures = ["people", "distinct_people"]
    exact = tries = 0
    for dims in (["agency", "race"], ["offense_type", "age_group"], ["severity", "race", "agency"]):
        shown, true = pub.rows("charges", dims, {}, measures), tru.rows("charges", dims, {}, measures)
        for key, row in shown.items():
            if row is None:
                continue
            t = true[key]
            if min(int(t["people"]), int(t["distinct_people"])) >= K + 3 and t["people"] != t["distinct_people"]:
                tries += 1
                exact += row["people"] - row["distinct_people"] == int(t["people"]) - int(t["distinct_people"])
    print(f"charges people - distinct_people exact in {exact} of {tries} cells")
    assert tries >= 30, tries
    assert exact / tries < 0.4, (exact, tries)


def test_K3_K4_within_one_snapshot_the_people_counts_are_one_value(api_s1):
    """Within one snapshot a person is one person-snapshot record, so a view's governing counts
    (people per snapshot, distinct people, record counts) count the very same people. Drawn from
    different keys or streams they were two readings of one count to average (reported, not fixed,
    on 2 December); they are now one value there. Over several snapshots they differ and keep
    independent noise (the test above)."""
    pub, tru = Published(api_s1), Truth(api_s1)
    checked = 0
    for dataset in ("population", "custody", "charges", "programs"):
        ds = api_s1.service.dataset(dataset)
        names = [m.name for m in ds.measures.values() if m.member in ds.rules.people_members]
        assert len(names) >= 2, (dataset, names)
        for dims, f in ((["snapshot_year", "agency"], {}), (["race"], {"snapshot_year": ["2020"]}),
                        (["age_group"], {"snapshot_year": ["2018", "2023"]})):
            shown, true = pub.rows(dataset, dims, f, names), tru.rows(dataset, dims, f, names)
            for key, row in shown.items():
                if row is None:
                    continue
                if len(f.get("snapshot_year", [])) < 2:  # a sum over two years adds two one-year cells
                    assert len({int(true[key][n]) for n in names}) == 1, (dataset, key, true[key])
                assert len({row[n] for n in names}) == 1, (dataset, dims, f, key, row)
                checked += 1
    print(f"published cells whose people counts are one count: {checked}")
    assert checked >= 100, checked

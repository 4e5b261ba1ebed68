"""Attack suite items 1, 2, 3 and 5 of spec/disclosure.md, against the live API over HTTP (K4, K5).

Each attack computes, for every withheld cell it can reach, the attacker's best estimate of
its exact true value and counts exact hits. Without perturbation every one of these attacks
recovers 100% of the cells it reaches; the bounds below are the rate of the best constant
guess (what an attacker knows without the API) plus a stated margin.
"""

from __future__ import annotations

import itertools
from statistics import mean

from attack_helpers import K, Score, codes, fetch, truth

DS = "population"
DIMS = ["agency", "race", "age_group", "offender_status", "assigned_sex", "ethnicity", "facility_type"]
YEARS = ["2018", "2021", "2024"]
MARGIN = 0.05  # allowed excess over the best constant guess (spec/disclosure.md)
ROUTES_MARGIN = 0.05  # averaging routes gains nothing: each small cell has one published value (K4 lattice)


def _margin_estimates(api, a_dim: str, b_dim: str, margin, breakdown, b_codes, true_cells):
    """For each (year, a) whose breakdown by b has exactly one withheld cell: (estimate, truth)."""
    out = {}
    for (year, a), row in margin.items():
        if row["suppressed"]:
            continue
        cells = [(year, a, b) for b in b_codes if (year, a, b) in breakdown]
        withheld = [c for c in cells if breakdown[c]["suppressed"]]
        if len(withheld) != 1:
            continue
        est = row["people"] - sum(breakdown[c]["people"] for c in cells if not breakdown[c]["suppressed"])
        out[withheld[0]] = (est, true_cells[withheld[0]]["people"])
    return out


def test_attack1_margin_differencing(api_live):
    """K4 attack 1: a total and its breakdown by each dimension, for every withheld cell."""
    score = Score("attack 1 margin differencing")
    all_codes = {d: codes(api_live, DS, d) for d in DIMS}
    margins = {d: fetch(api_live, DS, ["snapshot_year", d]) for d in DIMS}
    for a_dim, b_dim in itertools.permutations(DIMS, 2):
        dims = ["snapshot_year", a_dim, b_dim]
        breakdown = fetch(api_live, DS, dims)
        true_cells = truth(api_live, DS, dims, ["people"])
        for est, tv in _margin_estimates(api_live, a_dim, b_dim, margins[a_dim], breakdown, all_codes[b_dim],
                                         true_cells).values():
            score.add(est, tv)
    # the grand total by year minus each one-dimension breakdown
    totals = fetch(api_live, DS, ["snapshot_year"])
    for d in DIMS:
        tcells = truth(api_live, DS, ["snapshot_year", d], ["people"])
        for (year,), row in totals.items():
            cells = [(year, c) for c in all_codes[d] if (year, c) in margins[d]]
            withheld = [c for c in cells if margins[d][c]["suppressed"]]
            if len(withheld) == 1:
                est = row["people"] - sum(margins[d][c]["people"] for c in cells if not margins[d][c]["suppressed"])
                score.add(est, tcells[withheld[0]]["people"])
    print(score.line())
    assert score.tries >= 30, "the synthetic data must give the attack withheld cells to work on"
    assert score.rate <= score.guess_rate + MARGIN, score.line()


def test_attack2_filter_complement_and_overlap(api_live):
    """K4 attack 2: dim=all minus dim=all-but-X for small X; overlapping filter pairs."""
    comp = Score("attack 2a filter complement")
    over = Score("attack 2b overlapping filters")
    pairs = [("agency", "race"), ("agency", "age_group"), ("race", "ethnicity"), ("age_group", "race"),
             ("agency", "assigned_sex"), ("facility_type", "race")]
    for a_dim, b_dim in pairs:
        b_codes = codes(api_live, DS, b_dim)
        for year in YEARS:
            cells = fetch(api_live, DS, [a_dim, b_dim], {"snapshot_year": [year]})
            true_cells = truth(api_live, DS, [a_dim, b_dim], ["people"], {"snapshot_year": [year]})
            withheld = [k for k, r in cells.items() if r["suppressed"]][:6]
            for a, b in withheld:
                all_a = fetch(api_live, DS, [], {"snapshot_year": [year], a_dim: [a]})[()]
                rest = [c for c in b_codes if c != b]
                but_x = fetch(api_live, DS, [], {"snapshot_year": [year], a_dim: [a], b_dim: rest})[()]
                if not all_a["suppressed"] and not but_x["suppressed"]:
                    comp.add(all_a["people"] - but_x["people"], true_cells[(a, b)]["people"])
                else:  # K4 lattice: "all but b" is the sum of single codes, withheld with b's cell
                    comp.withheld(true_cells[(a, b)]["people"])
                for c in rest:  # overlap: {b, c} minus {c}, with c published
                    if (a, c) in cells and not cells[(a, c)]["suppressed"]:
                        both = fetch(api_live, DS, [], {"snapshot_year": [year], a_dim: [a], b_dim: [b, c]})[()]
                        if not both["suppressed"]:
                            over.add(both["people"] - cells[(a, c)]["people"], true_cells[(a, b)]["people"])
                        else:
                            over.withheld(true_cells[(a, b)]["people"])
                        break
    for s in (comp, over):
        print(s.line())
        assert s.tries >= 10, s.line()
        assert s.rate <= s.guess_rate + MARGIN, s.line()


def test_attack3_multiple_routes_averaged(api_live):
    """K4 attack 3: the same small cell reached through different dimension sets and filters, averaged."""
    score = Score("attack 3 routes averaged")
    singles = Score("attack 3 best single route")
    a_dim, b_dim, c_dim = "agency", "race", "assigned_sex"
    b_codes = codes(api_live, DS, b_dim)
    c_codes = codes(api_live, DS, c_dim)
    for year in YEARS:
        f_year = {"snapshot_year": [year]}
        cells = fetch(api_live, DS, [a_dim, b_dim], f_year)
        true_cells = truth(api_live, DS, [a_dim, b_dim], ["people"], f_year)
        margin = fetch(api_live, DS, [a_dim], f_year)
        by_c = fetch(api_live, DS, [a_dim, c_dim], f_year)
        for (a, b), row in cells.items():
            if not row["suppressed"]:
                continue
            routes: list[float] = []
            # route 1: margin minus published breakdown (only if b is the one withheld cell of a)
            others = [(a, x) for x in b_codes if x != b and (a, x) in cells]
            if not margin[(a,)]["suppressed"] and all(not cells[o]["suppressed"] for o in others):
                routes.append(margin[(a,)]["people"] - sum(cells[o]["people"] for o in others))
            # route 2: complement filter
            rest = [x for x in b_codes if x != b]
            but_x = fetch(api_live, DS, [], {**f_year, a_dim: [a], b_dim: rest})[()]
            if not margin[(a,)]["suppressed"] and not but_x["suppressed"]:
                routes.append(margin[(a,)]["people"] - but_x["people"])
            # routes 3..: overlaps {b, x} - {x} for every published x
            for x in rest:
                if (a, x) in cells and not cells[(a, x)]["suppressed"]:
                    both = fetch(api_live, DS, [], {**f_year, a_dim: [a], b_dim: [b, x]})[()]
                    if not both["suppressed"]:
                        routes.append(both["people"] - cells[(a, x)]["people"])
            # route via a third dimension: sum over c of (cell(a, c) - cell(a, c, race != b))
            but_x_by_c = fetch(api_live, DS, [c_dim], {**f_year, a_dim: [a], b_dim: rest})
            parts = [(by_c.get((a, c)), but_x_by_c.get((c,))) for c in c_codes]
            if all(p is None or not p["suppressed"] for pair in parts for p in pair):
                routes.append(sum((p[0]["people"] if p[0] else 0) - (p[1]["people"] if p[1] else 0) for p in parts))
            tv = true_cells[(a, b)]["people"]
            if routes:
                score.add(mean(routes), tv)
                singles.add(routes[0], tv)
            else:  # every route withheld: the attacker is left with guessing
                score.withheld(tv)
                singles.withheld(tv)
    for s in (singles, score):
        print(s.line())
    assert score.tries >= 10, score.line()
    assert score.rate <= score.guess_rate + ROUTES_MARGIN, score.line()


def test_attack5_mean_times_count(api_live):
    """K5 attack 5: recover a withheld cell's total days from published means and counts."""
    score = Score("attack 5 mean x count (exact total days)")
    ds = "incarceration_time"
    meas = ["mean_days"]
    for a_dim, b_dim in [("agency", "race"), ("agency", "age_group"), ("race", "assigned_sex"), ("facility_type", "race")]:
        b_codes = codes(api_live, ds, b_dim)
        margin = fetch(api_live, ds, ["snapshot_year", a_dim], measures=meas)
        breakdown = fetch(api_live, ds, ["snapshot_year", a_dim, b_dim], measures=meas)
        tcells = truth(api_live, ds, ["snapshot_year", a_dim, b_dim], ["people", "mean_days"])
        for (year, a), row in margin.items():
            if row["suppressed"]:
                continue
            cells = [(year, a, b) for b in b_codes if (year, a, b) in breakdown]
            withheld = [c for c in cells if breakdown[c]["suppressed"]]
            if len(withheld) != 1:
                continue
            est = row["mean_days"] * row["people"] - sum(
                breakdown[c]["mean_days"] * breakdown[c]["people"] for c in cells if not breakdown[c]["suppressed"])
            t = tcells[withheld[0]]
            score.add(est, round(t["mean_days"] * t["people"]), clip=False)
    print(score.line())
    assert score.tries >= 20, score.line()
    assert score.rate <= 0.02, score.line()

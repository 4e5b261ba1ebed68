"""Disclosure designs compared on protection and error (docs/disclosure-design.md; K4, K7).

Loads scale-1 synthetic extracts (seed 5) into an in-memory chDB and, for the population
dataset's people counts, scores three designs on the same true cells:

* ``before``  — cell key on every people set the API allowed: a filter on several codes was its own
  people set with its own noise (the design before the lattice rule);
* ``lattice`` — the chosen design: published people sets are lattice cells; a filter on several codes
  is the sum of its single-code cells as published (this is the real ``Service.answer``);
* ``additive`` — the alternative of a fixed perturbed base: only single-code cells get noise, and
  every total (one code or all codes of a dimension not asked for) is the sum of its published
  single-code cells, withheld when any is.

Protection: exact recovery of withheld cells by (1) averaging 40 routes ``X∪T − T`` and (2) a
margin minus its breakdown, beside the best constant guess. Error: mean absolute error against
the truth of published cells of 5–19, 20–99 and 100+ people, and the share withheld.

    python benchmarks/disclosure_compare.py          # prints a markdown table
"""

from __future__ import annotations

import random
import sys
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import memory_service  # noqa: E402
from crosstrack.api.service import Service  # noqa: E402

K = 5
YEARS = ["2018", "2020", "2022", "2024"]
BANDS = [(5, 19), (20, 99), (100, 10**9)]


def setup() -> Service:
    return memory_service(5, "compare", K)


class Designs:
    def __init__(self, svc: Service):
        self.svc = svc
        self.ds = svc.dataset("population")
        self.version = svc.version()
        self.rules = self.ds.rules.only(["people"])
        self.protect = svc.disclosure.protector(self.rules)

    def raw(self, dims: list[str], filters: dict[str, list[str]]) -> dict[tuple, dict]:
        """True people and cell key per cell, one people set per cell (filters as given)."""
        q = {"dimensions": [self.ds.dimensions[d].member for d in dims],
             "measures": [*self.ds.rules.people_members, *self.rules.key_members],
             "filters": [{"member": self.ds.dimensions[d].member, "operator": "equals", "values": v}
                         for d, v in filters.items()], "limit": 10**6}
        res = self.svc.query_engine.load(q, database=self.version.database, internal=True)
        return {tuple(str(r[self.ds.dimensions[d].member]) for d in dims): r for r in res.data}

    def truth(self, dims, filters) -> dict[tuple, int]:
        return {k: int(r[self.rules.people_members[0]]) for k, r in self.raw(dims, filters).items()}

    def before(self, dims, filters) -> dict[tuple, int | None]:
        out = {}
        for k, r in self.raw(dims, filters).items():
            values, withheld = self.protect(r)
            out[k] = None if withheld else values["people"]
        return out

    def lattice(self, dims, filters) -> dict[tuple, int | None]:
        params = [("dimensions", ",".join(dims)), ("measures", "people"), ("limit", "10000")]
        params += [(d, ",".join(v)) for d, v in filters.items()]
        res = self.svc.answer("population", params)
        return {tuple(str(r[d]) for d in dims): (None if r["suppressed"] else r["people"]) for r in res.rows}

    def additive(self, dims, filters, base: list[str]) -> dict[tuple, int | None]:
        """Every answer is the sum of published cells of the finest table ``base`` (noise once, there)."""
        fine = self.before(sorted(set(dims) | set(base), key=(dims + base).index), filters)
        order = sorted(set(dims) | set(base), key=(dims + base).index)
        out: dict[tuple, int | None] = {}
        for k, v in fine.items():
            key = tuple(k[order.index(d)] for d in dims)
            prev = out.get(key, 0)
            out[key] = None if prev is None or v is None else prev + v
        return out


def averaging(d: Designs, design: str, targets, routes: int = 40) -> tuple[float, float]:
    agencies = [c for c, _ in d.ds.dimensions["agency"].codes]
    rng = random.Random(11)
    hits, truths = 0, []
    for year, x, y, tv in targets:
        ests = []
        for _ in range(routes):
            t = rng.sample([a for a in agencies if a != x], rng.randint(1, len(agencies) - 2))
            f1 = {"snapshot_year": [year], "agency": [x, *t], "race": [y]}
            f2 = {"snapshot_year": [year], "agency": t, "race": [y]}
            a = getattr(d, design)([], f1).get((), 0) if design != "additive" else d.additive([], f1, ["agency"]).get((), 0)
            b = getattr(d, design)([], f2).get((), 0) if design != "additive" else d.additive([], f2, ["agency"]).get((), 0)
            if a is not None and b is not None:
                ests.append(a - b)
        truths.append(tv)
        if ests:
            hits += int(min(max(round(mean(ests)), 1), K - 1) == tv)
        else:
            hits += int(tv == 1)  # the attacker's best constant guess (1 is the commonest small count)
    return hits / len(targets), Counter(truths).most_common(1)[0][1] / len(truths)


def margin(d: Designs, design: str, targets) -> float:
    races = [c for c, _ in d.ds.dimensions["race"].codes]
    hits = 0
    for year, x, y, tv in targets:
        f = {"snapshot_year": [year]}
        if design == "additive":
            total = d.additive(["agency"], f, ["race"]).get((x,), 0)
            cells = d.additive(["agency", "race"], f, [])
        else:
            total = getattr(d, design)(["agency"], f).get((x,), 0)
            cells = getattr(d, design)(["agency", "race"], f)
        parts = [cells.get((x, r), 0) for r in races if r != y]
        if total is None or any(p is None for p in parts):
            hits += int(tv == 1)
        else:
            hits += int(min(max(total - sum(parts), 1), K - 1) == tv)
    return hits / len(targets)


def errors(d: Designs, design: str, questions) -> dict[str, Any]:
    abs_err: dict[tuple, list[int]] = defaultdict(list)
    withheld = shown = 0
    for dims, filters, base in questions:
        true = d.truth(dims, filters)
        pub = d.additive(dims, filters, base) if design == "additive" else getattr(d, design)(dims, filters)
        for k, tv in true.items():
            if tv < K:
                continue
            v = pub.get(k)
            if v is None:
                withheld += 1
                continue
            shown += 1
            for lo, hi in BANDS:
                if lo <= tv <= hi:
                    abs_err[(lo, hi)].append(abs(v - tv))
    out = {f"{lo}-{hi if hi < 10**9 else ''}".rstrip("-") + ("+" if hi >= 10**9 else ""): round(mean(v), 2)
           for (lo, hi), v in sorted(abs_err.items())}
    out["n"] = "/".join(str(len(abs_err.get(b, []))) for b in BANDS)
    out["withheld (cells of 5+ people)"] = f"{withheld / max(withheld + shown, 1):.1%}"
    return out


def main() -> None:
    svc = setup()
    d = Designs(svc)
    targets = []
    for year in YEARS:
        true = d.truth(["agency", "race"], {"snapshot_year": [year]})
        targets += [(year, x, y, tv) for (x, y), tv in sorted(true.items()) if 0 < tv < K]
    random.Random(3).shuffle(targets)
    targets = targets[:40]
    rng = random.Random(5)
    agencies = [c for c, _ in d.ds.dimensions["agency"].codes]
    races = [c for c, _ in d.ds.dimensions["race"].codes]
    single = [(dims, {"snapshot_year": [y]}, []) for y in YEARS
              for dims in (["agency"], ["agency", "race"], ["race", "age_group"], ["agency", "offender_status", "race"])]
    multi = [([], {"snapshot_year": [rng.choice(YEARS)], "agency": rng.sample(agencies, rng.randint(2, 6)),
                   "race": [rng.choice(races)]}, ["agency"]) for _ in range(100)]
    multi += [(["agency"], {"snapshot_year": [rng.choice(YEARS)], "race": rng.sample(races, 2)}, ["race"])
              for _ in range(20)]
    print("| design | averaging 40 routes | margin − breakdown | guessing | MAE lattice cells 5–19 / 20–99 / 100+ | "
          "MAE multi-code filters 5–19 / 20–99 / 100+ | withheld (single / multi) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    from crosstrack.api.disclosure import BASE_NOISE_WEIGHTS, Disclosure, PerturbationTable

    tables = {"±2": {-2: 15, -1: 20, 0: 30, 1: 20, 2: 15}, "±3": BASE_NOISE_WEIGHTS}
    for design, table in (("before", "±2"), ("lattice", "±2"), ("lattice", "±3"), ("additive", "±3")):
        svc.disclosure = Disclosure(K, PerturbationTable(tables[table]))
        svc.cache = type(svc.cache)()  # nothing answered under one table is reused under another
        d.protect = svc.disclosure.protector(d.rules)
        avg, guess = averaging(d, design, targets)
        mar = margin(d, design, targets)
        e1 = errors(d, design, [(a, b, ["race"] if design == "additive" and "race" not in a else []) for a, b, _ in single])
        e2 = errors(d, design, multi)
        bands = lambda e: " / ".join(str(e.get(b, "–")) for b in ("5-19", "20-99", "100+"))  # noqa: E731
        print(f"| {design} {table} | {avg:.2f} | {mar:.2f} | {guess:.2f} | {bands(e1)} (n {e1['n']}) | {bands(e2)} "
              f"(n {e2['n']}) | {e1['withheld (cells of 5+ people)']} / {e2['withheld (cells of 5+ people)']} |")
    medians(d)  # under the chosen table


def medians(d: Designs) -> None:
    """K8: exact and ±2-day recovery of odd small cells' medians, and the error of every median."""
    ds = d.svc.dataset("incarceration_time")
    disc = d.svc.disclosure
    err: dict[str, dict[tuple, list[float]]] = {"before": defaultdict(list), "after": defaultdict(list)}
    small: dict[str, list[int]] = {"before": [0, 0], "after": [0, 0]}
    n_small = 0
    for year in YEARS:
        q = {"dimensions": [ds.dimensions["agency"].member, ds.dimensions["race"].member],
             "measures": ["incarceration_time.people", "incarceration_time.median_days",
                          *ds.rules.key_members],
             "filters": [{"member": ds.dimensions["snapshot_year"].member, "operator": "equals", "values": [year]}]}
        for r in d.svc.query_engine.load(q, database=d.version.database, internal=True).data:
            n, m = int(r["incarceration_time.people"]), float(r["incarceration_time.median_days"] or 0)
            if n < K:
                continue
            shown = disc.perturb_count(n, int(r["incarceration_time.records_key"]), "people", K)
            key = int(r["incarceration_time.records_key"])
            after = disc.perturb_median(m, n, key, "median:median_days", shown)
            before = disc.perturb_median(m, n, int(r[ds.rules.cell_key_member]), "median:median_days", 10**9)
            odd_small = n % 2 == 1 and n <= 15
            n_small += odd_small
            for name, v in (("before", before), ("after", after)):
                for lo, hi in BANDS:
                    if lo <= n <= hi:
                        err[name][(lo, hi)].append(abs(v - m))
                if odd_small:
                    small[name][0] += int(v == round(m))
                    small[name][1] += int(abs(v - m) <= 2)
    print()
    print("| medians | exact, odd cells 5–15 | within 2 days | MAE days 5–19 / 20–99 / 100+ |")
    print("| --- | --- | --- | --- |")
    for name in ("before", "after"):
        maes = " / ".join(f"{mean(err[name][b]):.1f}" if err[name][b] else "–" for b in BANDS)
        print(f"| {name} | {small[name][0] / max(n_small, 1):.3f} | {small[name][1] / max(n_small, 1):.3f} | {maes} |")
    print(f"({n_small} odd cells of 5–15 people)")


if __name__ == "__main__":
    main()

"""Designs against margins on two-code dimensions (docs/disclosure-design.md, "Two-code dimensions").

Loads scale-1 synthetic extracts into an in-memory chDB, takes the true release counts and cell keys
of the recidivism dataset's lattice (per release year: every subset of a few dimension sets, one code
or all codes each), and publishes them under each design with the real perturbation table and key
streams. Then it runs, per design, the attacks an attacker with the published cells alone can run,
each beside the rate of guessing the commonest true value of its targets:

* **margin − other half**: a withheld ``(year, a, b)`` of a yes/no ``b`` as ``(year, a) − (year, a,
  b = other)`` (two noises), rounded and clipped to 0–4;
* **through a second yes/no dimension**: ``(year, a, b2) − [(year, a, b = other) − (year, a, b2 =
  other, b = other)]`` where the other half itself is withheld (three noises);
* **margin − two cells** of a three-code dimension (three noises);
* **least squares** over the whole lattice of three dimensions (unknowns: the finest cells).

The designs: the threshold alone (before), a uniform ±8 table, noise drawn from the cell's
definition as well with a uniform ±5 table, and the chosen rule (a cell withheld with its other half
along a two-code dimension, ``api.lattice.complement_withheld``) with today's table.

    python benchmarks/disclosure_halves.py [--seed 5]     # prints a markdown table
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import memory_service, release_cells  # noqa: E402
from crosstrack.api.disclosure import BASE_NOISE_WEIGHTS, PerturbationTable, key_stream  # noqa: E402

K = 5
HALVES = ["program_any", "program_beh", "program_edu", "program_sup", "program_work", "program_reinv", "program_relig"]
BY = ["agency", "race", "age_group", "governing_offense_type", "stay_band", "security_level", "ethnicity",
      "facility_type"]
THIRDS = ["assigned_sex", "ethnicity", "facility_type"]
PAIRS = [(a, b) for a in BY for b in HALVES]
PAIRS3 = [(a, b) for a in ["race", "age_group", "agency", "stay_band"] for b in THIRDS if a != b]
TWO_HALVES = [("race", "program_any", "program_edu"), ("age_group", "program_any", "program_work"),
              ("agency", "program_beh", "program_any"), ("race", "program_edu", "program_sup"),
              ("stay_band", "program_work", "program_relig"), ("security_level", "program_any", "program_reinv")]
TRIPLES = [("race", "age_group", "program_any"), ("agency", "race", "program_any"), ("race", "stay_band", "program_edu"),
           ("age_group", "security_level", "program_work"), ("race", "governing_offense_type", "program_beh")]

Key = tuple  # (year, (dim, code), ...) in the dimension set's order


def true_lattice(seed: int) -> tuple[dict[Key, tuple[int, int, int]], dict[str, list[str]], list]:
    """(people, releases, release key) of every cell of every subset of the dimension sets."""
    svc = memory_service(seed, "halves")
    ds = svc.dataset("recidivism")
    sets = [*PAIRS, *PAIRS3, *TWO_HALVES, *TRIPLES]
    codes = {d: [c for c, _ in ds.dimensions[d].codes] for s in sets for d in s}
    cells = release_cells(svc, sets, always=("release_year",))
    years = sorted({k[0] for k in cells})
    keys = [(y, *zip(sub, combo)) for y in years for dims in sets for r in range(len(dims) + 1)
            for sub in itertools.combinations(dims, r) for combo in itertools.product(*(codes[d] for d in sub))]
    return cells, codes, sorted(set(keys))


class Design:
    def __init__(self, name: str, weights: dict[int, int], *, halves: bool = False, by_definition: bool = False):
        self.name, self.table, self.halves, self.by_definition = name, PerturbationTable(weights), halves, by_definition

    def publish(self, cells, codes, keys) -> dict[Key, int | None]:
        pub: dict[Key, int | None] = {}
        for key in keys:
            people, released, cell_key = cells.get(key, (0, 0, 0))
            if people < K:
                pub[key] = None
                continue
            label = "count:released" + (repr(sorted(key[1:])) if self.by_definition else "")
            pub[key] = max(released + self.table.noise(released, K, key_stream(cell_key, label)), K)
        if self.halves:  # one round, on the threshold's result, as api.lattice.complement_withheld
            held = [key for key in keys if pub[key] is not None and any(
                cells.get((*key[:1 + i], (d, _other(codes[d], c)), *key[2 + i:]), (0,))[0] < K
                for i, (d, c) in enumerate(key[1:]) if len(codes[d]) == 2)]
            pub.update(dict.fromkeys(held))
        return pub


def _other(pair: list[str], code: str) -> str:
    return pair[1] if code == pair[0] else pair[0]


def _clip(x: float) -> int:
    return min(max(int(round(x)), 0), K - 1)


def attacks(cells, codes, pub) -> dict[str, list[tuple[int, int]]]:
    """(estimate, truth) per attack, on the withheld cells of fewer than k releases each can reach."""
    years = sorted({k[0] for k in cells})
    out: dict[str, list[tuple[int, int]]] = {"margin − other half": [], "through a second yes/no": [],
                                             "margin − two cells (3 codes)": [], "least squares, 3 dimensions": []}
    truth = lambda key: cells.get(key, (0, 0, 0))[1]  # noqa: E731
    for (a, b), y in itertools.product(PAIRS, years):
        for x, c in itertools.product(codes[a], codes[b]):
            key = (y, (a, x), (b, c))
            if pub[key] is None and truth(key) < K:
                margin, half = pub[(y, (a, x))], pub[(y, (a, x), (b, _other(codes[b], c)))]
                if margin is not None and half is not None:
                    out["margin − other half"].append((_clip(margin - half), truth(key)))
    for (a, b, b2), y in itertools.product(TWO_HALVES, years):
        for x, v, w in itertools.product(codes[a], codes[b], codes[b2]):
            key = (y, (a, x), (b, v), (b2, w))
            vo, wo = _other(codes[b], v), _other(codes[b2], w)
            if pub[key] is None and truth(key) < K and pub[(y, (a, x), (b, vo), (b2, w))] is None:
                parts = [pub[(y, (a, x), (b2, w))], pub[(y, (a, x), (b, vo))], pub[(y, (a, x), (b, vo), (b2, wo))]]
                if None not in parts:
                    out["through a second yes/no"].append((_clip(parts[0] - parts[1] + parts[2]), truth(key)))
    for (a, b), y in itertools.product(PAIRS3, years):
        for x, c in itertools.product(codes[a], codes[b]):
            key = (y, (a, x), (b, c))
            parts = [pub[(y, (a, x))]] + [pub[(y, (a, x), (b, o))] for o in codes[b] if o != c]
            if pub[key] is None and truth(key) < K and None not in parts:
                out["margin − two cells (3 codes)"].append((_clip(parts[0] - sum(parts[1:])), truth(key)))
    for dims, y in itertools.product(TRIPLES, years):
        finest = list(itertools.product(*(codes[d] for d in dims)))
        rows, rhs, targets = [], [], []
        for r in range(len(dims) + 1):
            for sub in itertools.combinations(range(len(dims)), r):
                for combo in itertools.product(*(codes[dims[i]] for i in sub)):
                    key = (y, *((dims[i], c) for i, c in zip(sub, combo)))
                    vec = np.array([float(all(f[i] == c for i, c in zip(sub, combo))) for f in finest])
                    if pub[key] is not None:
                        rows.append(vec)
                        rhs.append(pub[key])
                    elif r == len(dims) and truth(key) < K:
                        targets.append((vec, truth(key)))
        solution, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs, float), rcond=None)
        out["least squares, 3 dimensions"] += [(_clip(float(vec @ solution)), t) for vec, t in targets]
    return out


def rate(pairs: list[tuple[int, int]]) -> str:
    if not pairs:
        return "no route"
    hits = sum(e == t for e, t in pairs) / len(pairs)
    guess = Counter(t for _, t in pairs).most_common(1)[0][1] / len(pairs)
    return f"{hits:.3f} / {guess:.3f} ({len(pairs)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    cells, codes, keys = true_lattice(args.seed)
    designs = [Design("threshold and ±3 table (before)", BASE_NOISE_WEIGHTS),
               Design("uniform ±8 table", {d: 1 for d in range(-8, 9)}),
               Design("uniform ±5 table, noise also from the cell's definition", {d: 1 for d in range(-5, 6)},
                      by_definition=True),
               Design("**±3 table, withheld with the other half (chosen)**", BASE_NOISE_WEIGHTS, halves=True)]
    names = list(attacks(cells, codes, designs[0].publish(cells, codes, keys)))
    print(f"seed {args.seed}: recovered / guessing (cells reached); then the MAE of published release counts "
          f"and the cells published\n")
    print("| design | " + " | ".join(names) + " | MAE | published |")
    print("| --- " * (len(names) + 3) + "|")
    for d in designs:
        pub = d.publish(cells, codes, keys)
        scores = attacks(cells, codes, pub)
        errors = [abs(v - cells[k][1]) for k, v in pub.items() if v is not None]
        print(f"| {d.name} | " + " | ".join(rate(scores[n]) for n in names)
              + f" | {sum(errors) / len(errors):.2f} | {len(errors):,} |")


if __name__ == "__main__":
    main()

"""The counted population of the synthetic generator: targets and the stock-and-flow walk.

See loaders/generate.py for how the population is built; this module makes the counted
placements (``Batch``) of every (agency, status, sex) cell and snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import yaml

from crosstrack.loaders.generate_draws import (CALIBRATION, COUNTIES, by_year, choice, draw_days, interp, jan1_day, range_share)
from crosstrack.loaders.statutes import load_statutes


@dataclass
class Batch:
    """Counted placements created for one cell and snapshot (arrays of equal length)."""

    agency: str
    status: str
    year_idx: int
    adm: np.ndarray
    rel: np.ndarray
    dob: np.ndarray
    juvenile18: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


class Population:
    def __init__(self, seed: int | list[int], scale: float, years: list[int]):
        self.rng = np.random.default_rng(seed)
        self.scale = scale
        self.years = sorted(years)
        self.snaps = [jan1_day(y) for y in self.years]
        self.end = jan1_day(self.years[-1] + 1) - 1  # extract date: Dec 31 of the last snapshot year
        self.cal = yaml.safe_load(CALIBRATION.read_text())
        self.statutes = load_statutes()

    # --- targets ---------------------------------------------------------------------------
    def targets(self) -> dict[tuple[str, str, str], list[int]]:
        cal = self.cal
        out: dict[tuple[str, str], list[int]] = {}
        doc = cal["doc"]
        for y in self.years:
            basis = by_year(doc["custody_crosstracking_basis"], y) * self.scale
            sh = range_share(doc["legal_status_share"], y)
            p = sh["pretrial"] / (sh["pretrial"] + sh["sentenced"])
            pre = round(basis * p)
            self._split_sex(out, "DOC", "PRETRIAL", pre, by_year(doc["female_share"], y))
            self._split_sex(out, "DOC", "SENTENCED", round(basis) - pre, by_year(doc["female_share"], y))
        sher = cal["sheriffs"]
        for code, county in COUNTIES.items():
            for y in self.years:
                n = by_year(sher["by_county"][county], y) * self.scale
                p = by_year(sher["pretrial_share"], y)
                if y == 2022:
                    p = sher["pretrial_share_county_override_2022"].get(county, p)
                pre = round(n * p)
                fem = by_year(sher["female_share"], y)
                self._split_sex(out, code, "PRETRIAL", pre, fem)
                self._split_sex(out, code, "SENTENCED", round(n) - pre, fem)
        return out

    @staticmethod
    def _split_sex(out: dict, agency: str, status: str, n: int, female_share: float) -> None:
        # cells are split by sex so a stock that carries over for years still meets each year's share
        f = round(n * female_share)
        out.setdefault((agency, status, "F"), []).append(f)
        out.setdefault((agency, status, "M"), []).append(n - f)

    def los_spec(self, agency: str, status: str) -> dict:
        los = self.cal["length_of_stay_days"]
        if status == "PRETRIAL":
            return los["pretrial"]
        return los["doc_sentenced"] if agency == "DOC" else los["hoc_sentenced"]

    # --- the stock-and-flow walk -----------------------------------------------------------
    def counted(self) -> list[Batch]:
        rng = self.rng
        batches: list[Batch] = []
        for (agency, status, sex), targets in self.targets().items():
            spec = self.los_spec(agency, status)
            cell: list[Batch] = []
            for yi, (y, S) in enumerate(zip(self.years, self.snaps)):
                n_target = targets[yi]
                S_prev = self.snaps[yi - 1] if yi else None
                # carried: counted at the previous snapshot and not released before this one
                carried = [(b, np.nonzero(b.rel >= S)[0]) for b in cell]
                n_carried = sum(len(ix) for _, ix in carried)
                if n_carried > n_target and S_prev is not None:
                    flat = [(b, i) for b, ix in carried for i in ix]
                    # the oldest are likelier to leave (deaths, medical parole), which keeps age bands near the figures
                    w = np.array([float(S - b.dob[i]) ** 3 for b, i in flat])
                    drop = rng.choice(len(flat), size=n_carried - n_target, replace=False, p=w / w.sum())
                    for k in drop:
                        b, i = flat[k]
                        b.rel[i] = rng.integers(max(S_prev, int(b.adm[i])), S)  # released between snapshots
                    n_carried = n_target
                n_new = max(0, n_target - n_carried)
                if n_new == 0:
                    continue
                gap = None if S_prev is None else S - S_prev  # new placements start after S_prev
                elapsed = draw_days(rng, spec, n_new, upper=gap)
                age = self.ages(agency, y, n_new)
                # nobody was admitted before 17 and a half
                elapsed = np.minimum(elapsed, np.maximum(1, (age - 18) * 365 + 180))
                adm = S - elapsed + 1
                remaining = draw_days(rng, spec, n_new)
                remaining[rng.random(n_new) < 0.004] = 0  # released exactly on the snapshot date (R1)
                rel = S + remaining
                dob = self.dobs(y, age)
                juv = np.zeros(n_new, dtype=bool)
                if S_prev is not None and agency != "DOC":
                    # juveniles who turn 18: 17 and in custody at S_prev (excluded), 18 at S (counted)
                    k = min(n_new, max(1 if self.scale >= 0.05 else 0, round(0.002 * n_new)))
                    if k:
                        pick = rng.choice(n_new, size=k, replace=False)
                        juv[pick] = True
                        dob[pick] = jan1_day(y - 19) + 1 + rng.integers(0, 365, size=k)
                        dob[pick[0]] = jan1_day(y - 18)  # 18th birthday on the snapshot itself (R3)
                        adm[pick] = S_prev - rng.integers(0, 120, size=k)
                b = Batch(agency, status, yi, adm.astype(np.int64), rel.astype(np.int64), dob, juv, {"sex": sex})
                cell.append(b)
            batches.extend(cell)
        return batches

    def ages(self, agency: str, year: int, n: int) -> np.ndarray:
        if agency == "DOC":
            bands = interp({int(k): v for k, v in self.cal["doc"]["age_bands"].items()}, year)
        else:
            bands = self.cal["sheriffs"]["age_bands"]
        band = choice(self.rng, bands, n)
        lo = np.array([60 if b == "60+" else int(b.split("-")[0]) for b in band])
        hi = np.array([82 if b == "60+" else int(b.split("-")[1]) for b in band])
        return self.rng.integers(lo, hi + 1)

    def dobs(self, year: int, age: np.ndarray) -> np.ndarray:
        """Birth dates giving exactly ``age`` on January 1 of ``year``."""
        base = np.array([jan1_day(int(year - a)) for a in np.unique(age)])
        lookup = dict(zip(np.unique(age).tolist(), base.tolist()))
        jan1 = np.array([lookup[a] for a in age.tolist()], dtype=np.int64)
        return jan1 - self.rng.integers(0, 364, size=len(age))


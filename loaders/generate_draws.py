"""The synthetic generator's calibration figures and random draws (loaders/generate.py).

Year-keyed figures of ``reference/calibration.yml``, share tables, the length-of-stay
distributions and the array helpers every part of the generator uses.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

CALIBRATION = Path(__file__).resolve().parent / "reference" / "calibration.yml"
EPOCH = dt.date(1970, 1, 1)
NO_RELEASE = np.int32(2**30)

COUNTIES = {  # extract agency code -> calibration county name (Nantucket holds no one: R5)
    "BAR": "Barnstable", "BER": "Berkshire", "BRI": "Bristol", "DUK": "Dukes", "ESS": "Essex",
    "FRA": "Franklin", "HMD": "Hampden", "HMP": "Hampshire", "MID": "Middlesex", "NOR": "Norfolk",
    "PLY": "Plymouth", "SUF": "Suffolk", "WOR": "Worcester",
}
GENDER_LABELS = ["Agender", "Bigender", "Cisgender", "Expansive", "Gender Fluid", "Intersex",
                 "Nonbinary", "Transgender", "Two-Spirit", "Variante"]
DOC_FACILITIES = {
    "MAXIMUM": ["Souza-Baranowski Correctional Center", "MCI-Cedar Junction"],
    "MEDIUM": ["MCI-Norfolk", "MCI-Shirley", "Old Colony Correctional Center", "MCI-Concord",
               "Massachusetts Treatment Center", "North Central Correctional Institution"],
    "MINIMUM": ["MCI-Shirley Minimum", "Pondville Correctional Center", "Old Colony Minimum"],
    "PRE_RELEASE": ["Boston Pre-Release Center", "Northeastern Correctional Center"],
    "": ["MCI-Framingham"],
}
PROGRAMS = {
    "BEH": ["Correctional Recovery Academy", "Criminal Thinking", "Anger Management", "Opioid Treatment Readiness"],
    "EDU": ["Adult Basic Education", "HiSET Preparation", "Culinary Arts", "Building Trades", "College Courses"],
    "SUP": ["Peer Mentoring", "Fatherhood Program", "Reentry Support"],
    "WORK": ["Kitchen Work Assignment", "Laundry Work Assignment", "MassCor Industries", "Groundskeeping"],
    "REINV": ["Community Work Crew", "Restorative Justice Circle"],
    "RELIG": ["Bible Study", "Jumu'ah Prayer", "Meditation Group"],
}



def to_days(d: dt.date) -> int:
    return (d - EPOCH).days


def jan1_day(year: int) -> int:
    return to_days(dt.date(year, 1, 1))


def by_year(table: dict, year: int) -> Any:
    """A year-keyed figure; years outside the table use the nearest year."""
    keys = sorted(int(k) for k in table)
    y = min(max(year, keys[0]), keys[-1])
    return table[y] if y in table else table[str(y)]


def range_share(table: dict, year: int) -> dict:
    # YAML reads 2017_2019 as the integer 20172019: split it back into two years
    spans = sorted((int(str(k).replace("_", "")[:4]), int(str(k).replace("_", "")[-4:]), v) for k, v in table.items())
    for lo, hi, val in spans:
        if lo <= year <= hi:
            return val
    return spans[0][2] if year < spans[0][0] else spans[-1][2]


def interp(tables: dict[int, dict], year: int) -> dict[str, float]:
    """Linear interpolation between year-keyed share tables (clamped at the ends)."""
    years = sorted(tables)
    if year <= years[0]:
        return dict(tables[years[0]])
    if year >= years[-1]:
        return dict(tables[years[-1]])
    for a, b in zip(years, years[1:]):
        if a <= year <= b:
            w = (year - a) / (b - a)
            return {k: (1 - w) * tables[a][k] + w * tables[b].get(k, 0.0) for k in tables[a]}
    raise AssertionError


def choice(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    p = p / p.sum()
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p)]


# --- length of stay --------------------------------------------------------------------------
def draw_once(rng: np.random.Generator, spec: dict, n: int) -> np.ndarray:
    if "mixture" in spec:
        parts = spec["mixture"]
        w = np.array([p["weight"] for p in parts], dtype=float)
        which = rng.choice(len(parts), size=n, p=w / w.sum())
        out = np.empty(n)
        for i, part in enumerate(parts):
            m = which == i
            out[m] = draw_once(rng, part, int(m.sum()))
        return out
    if spec.get("dist") == "uniform":
        return rng.uniform(spec["min"], spec["max"], size=n)
    x = rng.lognormal(np.log(spec["median"]), spec.get("sigma", 0.8), size=n)
    return np.where(x > spec.get("max", np.inf), np.nan, x)  # redrawn by draw_days


def draw_days(rng: np.random.Generator, spec: dict, n: int, upper: int | None = None) -> np.ndarray:
    """n whole days >= 1 from a stay distribution, optionally truncated to <= upper (rejection)."""
    out = np.empty(0, dtype=np.int64)
    need = n
    for _ in range(200):
        if need <= 0:
            break
        x = draw_once(rng, spec, max(need * 4, 64))
        x = x[~np.isnan(x)]
        x = np.maximum(1, np.round(x)).astype(np.int64)
        if upper is not None:
            x = x[x <= upper]
        out = np.concatenate([out, x[:need]])
        need = n - len(out)
    if need > 0:  # truncation far in the tail: spread uniformly over the allowed range
        out = np.concatenate([out, rng.integers(1, (upper or 365) + 1, size=need)])
    return out



def date_array(days: np.ndarray) -> pa.Array:
    """int days since 1970 -> date32, NO_RELEASE -> null."""
    d = np.asarray(days, dtype=np.int64)
    mask = d >= NO_RELEASE
    return pa.array(np.where(mask, 0, d).astype(np.int32), type=pa.int32(), mask=mask).cast(pa.date32())


def id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pa.array(numbers.astype(np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), s, "")


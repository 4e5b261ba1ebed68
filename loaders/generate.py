"""Synthetic agency extracts in the raw format (spec/extracts.md), calibrated to calibration.yml.

How the population is built (all vectorised with numpy; deterministic for a seed):

* Targets. For each snapshot year and agency the number of people the facts must count (after
  the R2 exclusions) is the calibration figure times ``scale``: DOC uses
  ``custody_crosstracking_basis`` split into sentenced/pretrial by ``legal_status_share`` (the
  civil share is generated on top, since civil commitments are excluded from the counts); each
  Sheriff's Office uses ``by_county`` split by ``pretrial_share`` (2022 county overrides).
* Stock and flow. Each (agency, status) cell walks the snapshots in order. People still in
  custody from the previous snapshot carry over; if they exceed the target the surplus is
  released between the two snapshots, otherwise new placements admitted after the previous
  snapshot fill the gap. Elapsed time at the snapshot (R6 days) is drawn from the cell's
  ``length_of_stay_days`` distribution (truncated to the gap for new placements) and the time
  still to serve from the same distribution, which is what a stationary stock looks like.
  Counts therefore match the targets exactly at every snapshot.
* Chains. A counted placement may follow an earlier one of the same person that lies wholly
  between two snapshots, so it never adds to another agency's count: a TRANSFER (the earlier
  placement ends the day the new one starts), a STATUS_CHANGE (a pretrial jail stay that
  becomes a sentence), or a PAROLE_VIOLATION (an earlier DOC/HOC sentence).
* Edge cases (R1-R12): releases exactly on a snapshot date, juveniles who turn 18 between
  snapshots (and one whose 18th birthday is the snapshot), civil commitments, safe keeps,
  federal and compact (in and out) holds, Hispanic as a race code, Dukes (Nantucket never
  appears: its people are held by Barnstable), dockets filed the same day, IMS governing flags
  that are not the first charge, pretrial people with no felony, people with no programs,
  statutes cited as bare sections, a stated share (UNKNOWN_STATUTE_SHARE) of statutes missing
  from the reference table, CMR and municipal offences.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from crosstrack.loaders.recidivism_gen import add_release_outcomes
from crosstrack.loaders.statutes import load_statutes

CALIBRATION = Path(__file__).resolve().parent / "reference" / "calibration.yml"
EPOCH = dt.date(1970, 1, 1)
NO_RELEASE = np.int32(2**30)
CHUNK_SCALE = 10.0  # largest population built in one piece (see generate_extracts)
# R12: share of the non-designated charges that cite a statute the reference table does not know
# (the designated governing/leading charge always cites a known one). The rest are drawn only from
# the table's rows (as written, bare sections included). The unknown ones: sections the table does
# not list, sections whose subsections differ in sub-type (90/24, 265/13A), CMR and municipal codes.
UNKNOWN_STATUTE_SHARE = 0.01
UNKNOWN_STATUTES = ("266/126A", "265/99Z", "94C/99", "90/24", "265/13A", "269/99", "272/99",
                    "CMR/501-18.00", "MUNI/BOS-16-12")

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


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _jan1(year: int) -> int:
    return _days(dt.date(year, 1, 1))


def _by_year(table: dict, year: int) -> Any:
    """A year-keyed figure; years outside the table use the nearest year."""
    keys = sorted(int(k) for k in table)
    y = min(max(year, keys[0]), keys[-1])
    return table[y] if y in table else table[str(y)]


def _range_share(table: dict, year: int) -> dict:
    # YAML reads 2017_2019 as the integer 20172019: split it back into two years
    spans = sorted((int(str(k).replace("_", "")[:4]), int(str(k).replace("_", "")[-4:]), v) for k, v in table.items())
    for lo, hi, val in spans:
        if lo <= year <= hi:
            return val
    return spans[0][2] if year < spans[0][0] else spans[-1][2]


def _interp(tables: dict[int, dict], year: int) -> dict[str, float]:
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


def _choice(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    p = p / p.sum()
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p)]


# --- length of stay --------------------------------------------------------------------------
def _draw_once(rng: np.random.Generator, spec: dict, n: int) -> np.ndarray:
    if "mixture" in spec:
        parts = spec["mixture"]
        w = np.array([p["weight"] for p in parts], dtype=float)
        which = rng.choice(len(parts), size=n, p=w / w.sum())
        out = np.empty(n)
        for i, part in enumerate(parts):
            m = which == i
            out[m] = _draw_once(rng, part, int(m.sum()))
        return out
    if spec.get("dist") == "uniform":
        return rng.uniform(spec["min"], spec["max"], size=n)
    x = rng.lognormal(np.log(spec["median"]), spec.get("sigma", 0.8), size=n)
    return np.where(x > spec.get("max", np.inf), np.nan, x)  # redrawn by _draw


def _draw(rng: np.random.Generator, spec: dict, n: int, upper: int | None = None) -> np.ndarray:
    """n whole days >= 1 from a stay distribution, optionally truncated to <= upper (rejection)."""
    out = np.empty(0, dtype=np.int64)
    need = n
    for _ in range(200):
        if need <= 0:
            break
        x = _draw_once(rng, spec, max(need * 4, 64))
        x = x[~np.isnan(x)]
        x = np.maximum(1, np.round(x)).astype(np.int64)
        if upper is not None:
            x = x[x <= upper]
        out = np.concatenate([out, x[:need]])
        need = n - len(out)
    if need > 0:  # truncation far in the tail: spread uniformly over the allowed range
        out = np.concatenate([out, rng.integers(1, (upper or 365) + 1, size=need)])
    return out


@dataclass
class _Batch:
    """Counted placements created for one cell and snapshot (arrays of equal length)."""

    agency: str
    status: str
    year_idx: int
    adm: np.ndarray
    rel: np.ndarray
    dob: np.ndarray
    juvenile18: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)


class _Gen:
    def __init__(self, seed: int | list[int], scale: float, years: list[int]):
        self.rng = np.random.default_rng(seed)
        self.scale = scale
        self.years = sorted(years)
        self.snaps = [_jan1(y) for y in self.years]
        self.end = _jan1(self.years[-1] + 1) - 1  # extract date: Dec 31 of the last snapshot year
        self.cal = yaml.safe_load(CALIBRATION.read_text())
        self.statutes = load_statutes()

    # --- targets ---------------------------------------------------------------------------
    def targets(self) -> dict[tuple[str, str, str], list[int]]:
        cal = self.cal
        out: dict[tuple[str, str], list[int]] = {}
        doc = cal["doc"]
        for y in self.years:
            basis = _by_year(doc["custody_crosstracking_basis"], y) * self.scale
            sh = _range_share(doc["legal_status_share"], y)
            p = sh["pretrial"] / (sh["pretrial"] + sh["sentenced"])
            pre = round(basis * p)
            self._split_sex(out, "DOC", "PRETRIAL", pre, _by_year(doc["female_share"], y))
            self._split_sex(out, "DOC", "SENTENCED", round(basis) - pre, _by_year(doc["female_share"], y))
        sher = cal["sheriffs"]
        for code, county in COUNTIES.items():
            for y in self.years:
                n = _by_year(sher["by_county"][county], y) * self.scale
                p = _by_year(sher["pretrial_share"], y)
                if y == 2022:
                    p = sher["pretrial_share_county_override_2022"].get(county, p)
                pre = round(n * p)
                fem = _by_year(sher["female_share"], y)
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
    def counted(self) -> list[_Batch]:
        rng = self.rng
        batches: list[_Batch] = []
        for (agency, status, sex), targets in self.targets().items():
            spec = self.los_spec(agency, status)
            cell: list[_Batch] = []
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
                elapsed = _draw(rng, spec, n_new, upper=gap)
                age = self.ages(agency, y, n_new)
                # nobody was admitted before 17 and a half
                elapsed = np.minimum(elapsed, np.maximum(1, (age - 18) * 365 + 180))
                adm = S - elapsed + 1
                remaining = _draw(rng, spec, n_new)
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
                        dob[pick] = _jan1(y - 19) + 1 + rng.integers(0, 365, size=k)
                        dob[pick[0]] = _jan1(y - 18)  # 18th birthday on the snapshot itself (R3)
                        adm[pick] = S_prev - rng.integers(0, 120, size=k)
                b = _Batch(agency, status, yi, adm.astype(np.int64), rel.astype(np.int64), dob, juv, {"sex": sex})
                cell.append(b)
            batches.extend(cell)
        return batches

    def ages(self, agency: str, year: int, n: int) -> np.ndarray:
        if agency == "DOC":
            bands = _interp({int(k): v for k, v in self.cal["doc"]["age_bands"].items()}, year)
        else:
            bands = self.cal["sheriffs"]["age_bands"]
        band = _choice(self.rng, bands, n)
        lo = np.array([60 if b == "60+" else int(b.split("-")[0]) for b in band])
        hi = np.array([82 if b == "60+" else int(b.split("-")[1]) for b in band])
        return self.rng.integers(lo, hi + 1)

    def dobs(self, year: int, age: np.ndarray) -> np.ndarray:
        """Birth dates giving exactly ``age`` on January 1 of ``year``."""
        base = np.array([_jan1(int(year - a)) for a in np.unique(age)])
        lookup = dict(zip(np.unique(age).tolist(), base.tolist()))
        jan1 = np.array([lookup[a] for a in age.tolist()], dtype=np.int64)
        return jan1 - self.rng.integers(0, 364, size=len(age))


def _date_array(days: np.ndarray) -> pa.Array:
    """int days since 1970 -> date32, NO_RELEASE -> null."""
    d = np.asarray(days, dtype=np.int64)
    mask = d >= NO_RELEASE
    return pa.array(np.where(mask, 0, d).astype(np.int32), type=pa.int32(), mask=mask).cast(pa.date32())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pa.array(numbers.astype(np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), s, "")


def generate_extracts(out: Path, *, seed: int, scale: float, fmt: str = "csv",
                      years: list[int] | None = None, console: Any = None) -> dict[str, int]:
    """Write people, custody_episodes, charges and program_enrollments into ``out``.

    Returns the row count of each file. Deterministic for (seed, scale, years)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError("fmt must be csv or parquet")
    if scale <= 0:
        raise ValueError("scale must be > 0")
    years = sorted(years or list(range(2017, 2025)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = _Progress(console)
    # A large population is built and written in chunks of at most CHUNK_SCALE, each a calibrated
    # population of its own with its own id range, so memory stays that of one chunk (about 2 GB
    # at scale 10) whatever the scale. Up to CHUNK_SCALE the output is exactly one chunk.
    n_chunks = max(1, math.ceil(scale / CHUNK_SCALE - 1e-9))
    counts = {}
    writers: dict[str, Any] = {}
    offsets = {"people": 0, "episodes": 0}
    try:
        with progress:
            for i in range(n_chunks):
                g = _Gen(seed if n_chunks == 1 else [seed, i], scale / n_chunks, years)
                progress.step(f"placing people in custody ({i + 1}/{n_chunks})" if n_chunks > 1
                              else "placing people in custody")
                tables = _build(g, g.rng, offsets)
                # the release cohort's later custody and court events (docs/recidivism.md), on a
                # random stream of their own so the snapshot population above is unchanged
                tables = add_release_outcomes(tables, seed=seed if n_chunks == 1 else [seed, i], years=g.years,
                                              end=g.end, offsets=offsets)
                progress.step("writing files")
                for name, table in tables.items():
                    if name not in writers:
                        path = out / f"{name}.{fmt}"
                        # strings only where quoting matters; dates as YYYY-MM-DD, nulls as empty fields
                        writers[name] = (pacsv.CSVWriter(path, table.schema, write_options=pacsv.WriteOptions(
                            quoting_style="needed")) if fmt == "csv" else pq.ParquetWriter(path, table.schema))
                    writers[name].write_table(table)
                    counts[name] = counts.get(name, 0) + table.num_rows
                del tables
    finally:
        for w in writers.values():
            w.close()
    for name in counts:
        for other in ("csv", "parquet"):
            stale = out / f"{name}.{other}"
            if other != fmt and stale.exists():
                stale.unlink()
    if console is not None:
        console.print(f"wrote {', '.join(f'{k} {v:,}' for k, v in counts.items())} rows to {out}")
    return counts


class _Progress:
    def __init__(self, console: Any):
        self.console = console
        self._status = None

    def __enter__(self):
        if self.console is not None:
            self._status = self.console.status("generating")
            self._status.__enter__()
        return self

    def step(self, text: str) -> None:
        if self._status is not None:
            self._status.update(f"generating: {text}")

    def __exit__(self, *exc):
        if self._status is not None:
            self._status.__exit__(*exc)
        return False


def _build(g: _Gen, rng: np.random.Generator, offsets: dict[str, int] | None = None) -> dict[str, pa.Table]:
    """One calibrated population. ``offsets`` (people and episodes already written by earlier
    chunks) keeps ids unique across chunks; it is advanced by this chunk's counts."""
    offsets = offsets if offsets is not None else {"people": 0, "episodes": 0}
    cal = g.cal
    batches = g.counted()
    # ---- counted placements: one array per attribute -----------------------------------------
    agency = np.concatenate([np.full(len(b.adm), b.agency, dtype=object) for b in batches])
    status = np.concatenate([np.full(len(b.adm), b.status, dtype=object) for b in batches])
    yidx = np.concatenate([np.full(len(b.adm), b.year_idx) for b in batches])
    adm = np.concatenate([b.adm for b in batches])
    rel = np.concatenate([b.rel for b in batches])
    dob = np.concatenate([b.dob for b in batches])
    juv = np.concatenate([b.juvenile18 for b in batches])
    n = len(adm)
    years_arr = np.array(g.years)[yidx]
    snaps = np.array(g.snaps)
    s_prev = np.where(yidx > 0, snaps[np.maximum(yidx - 1, 0)], -10**6)
    is_doc = agency == "DOC"
    sent = status == "SENTENCED"

    # demographics (R3/R4 inputs) by agency type and year of first count
    sex = np.concatenate([np.full(len(b.adm), b.extra["sex"], dtype=object) for b in batches])
    sex[rng.random(n) < 0.002] = "U"
    gi = np.where(sex == "F", "Female", np.where(sex == "M", "Male", ""))
    gi = gi.astype(object)
    r = rng.random(n)
    gi[r < 0.06] = ""
    odd = r > 0.993
    gi[odd] = np.array(GENDER_LABELS, dtype=object)[rng.integers(0, len(GENDER_LABELS), size=int(odd.sum()))]

    combo = np.empty(n, dtype=object)
    combo[is_doc] = _choice(rng, cal["doc"]["race_ethnicity_combined"], int(is_doc.sum()))
    base_sh = dict(cal["sheriffs"]["race_ethnicity_combined"])
    hints = cal["sheriffs"]["hispanic_share_by_county_hint"]
    for code, county in COUNTIES.items():
        m = agency == code
        shares = dict(base_sh)
        if county in hints:
            h = hints[county]
            f = (1 - h) / (1 - shares["hispanic"])
            shares = {k: (h if k == "hispanic" else v * f) for k, v in shares.items()}
        combo[m] = _choice(rng, shares, int(m.sum()))
    race = np.empty(n, dtype=object)
    eth = np.empty(n, dtype=object)
    hisp = combo == "hispanic"
    eth[hisp] = "H"
    nh = ~hisp
    eth[nh] = np.where(rng.random(int(nh.sum())) < 0.9, "N", "U")
    eth[nh & (rng.random(n) < 0.03)] = ""
    hrace = _choice(rng, cal["doc"]["hispanic_race_assignment"], int(hisp.sum()))
    race_code = {"white": "W", "black": "B", "am_indian_ak_native": "AI", "other_unknown": "O"}
    race[hisp] = [race_code[x] for x in hrace]
    # Hispanic recorded as a race (R4): most Hispanic people whose race is "other" in the source
    race[hisp & (race == "O") & (rng.random(n) < 0.7)] = "H"
    for k, code in race_code.items():
        race[nh & (combo == k)] = code
    asian = nh & (combo == "asian_pi")
    race[asian] = np.where(rng.random(int(asian.sum())) < 0.8, "AS", "PI")
    ou = nh & (combo == "other_unknown")
    race[ou] = np.array(["O", "U", ""], dtype=object)[rng.choice(3, size=int(ou.sum()), p=[0.4, 0.4, 0.2])]

    # facility, security level, source system
    sec_share = cal["doc"]["security_level"]
    sec = np.full(n, "", dtype=object)
    sec[is_doc] = [s.upper() for s in _choice(rng, sec_share, int(is_doc.sum()))]
    sec[is_doc & (rng.random(n) < 0.03)] = ""  # DOC placements with no level -> UNKNOWN
    facility = np.empty(n, dtype=object)
    for lvl, names in DOC_FACILITIES.items():
        m = is_doc & (sec == lvl)
        facility[m] = np.array(names, dtype=object)[rng.integers(0, len(names), size=int(m.sum()))]
    facility[is_doc & (sex == "F")] = "MCI-Framingham"
    ftype = np.where(is_doc, "PRISON", np.where(sent, "HOC", "JAIL")).astype(object)
    for code, county in COUNTIES.items():
        m = agency == code
        facility[m & sent] = f"{county} County House of Correction"
        facility[m & ~sent] = f"{county} County Jail"
    system = np.where(is_doc, "IMS", np.where(sent, "OMS", "JMS")).astype(object)

    # ---- chains: the placement before the counted one ----------------------------------------
    adm_type = np.full(n, "NEW", dtype=object)
    u = rng.random(n)
    doc_s, hoc_s, pre_sh = is_doc & sent, ~is_doc & sent, ~is_doc & ~sent
    adm_type[doc_s & (u < 0.10)] = "TRANSFER"
    adm_type[doc_s & (u >= 0.10) & (u < 0.22)] = "PAROLE_VIOLATION"
    adm_type[doc_s & (u >= 0.22) & (u < 0.27)] = "STATUS_CHANGE"
    adm_type[hoc_s & (u < 0.30)] = "STATUS_CHANGE"
    adm_type[hoc_s & (u >= 0.30) & (u < 0.40)] = "TRANSFER"
    adm_type[hoc_s & (u >= 0.40) & (u < 0.45)] = "PAROLE_VIOLATION"
    adm_type[pre_sh & (u < 0.08)] = "TRANSFER"
    room = np.where(yidx > 0, adm - s_prev - 1, 400)
    adm_type[juv] = "NEW"
    adm_type[(adm_type != "NEW") & (room < 2)] = "NEW"
    adm_type[(adm_type == "PAROLE_VIOLATION") & (room < 40)] = "NEW"
    chain = adm_type != "NEW"
    ci = np.nonzero(chain)[0]
    c_room = room[ci]
    c_type = adm_type[ci]
    pv = c_type == "PAROLE_VIOLATION"
    gap = np.where(pv, rng.integers(30, np.maximum(31, np.minimum(c_room - 8, 300))), 0)
    span = np.maximum(1, np.minimum(c_room - gap - 1, 240))
    d0 = rng.integers(1, span + 1)
    p_rel = adm[ci] - gap
    p_adm = p_rel - d0
    p_agency = agency[ci].copy()
    p_status = np.where(c_type == "STATUS_CHANGE", "PRETRIAL", status[ci]).astype(object)
    # transfers come from another Sheriff's Office (DOC sentenced people from a county HOC)
    tr = c_type == "TRANSFER"
    sheriff_codes = np.array([c for c in COUNTIES], dtype=object)
    other = sheriff_codes[rng.integers(0, len(sheriff_codes), size=int(tr.sum()))]
    same = other == p_agency[tr]
    other[same] = np.where(other[same] == "SUF", "MID", "SUF")
    p_agency[tr] = other
    p_doc = p_agency == "DOC"
    p_sent = p_status == "SENTENCED"
    p_ftype = np.where(p_doc, "PRISON", np.where(p_sent, "HOC", "JAIL")).astype(object)
    p_system = np.where(p_doc, "IMS", np.where(p_sent, "OMS", "JMS")).astype(object)
    p_sec = np.where(p_doc, "MEDIUM", "").astype(object)
    p_fac = np.where(p_doc, "MCI-Norfolk", "").astype(object)
    for code, county in COUNTIES.items():
        m = p_agency == code
        p_fac[m & p_sent] = f"{county} County House of Correction"
        p_fac[m & ~p_sent] = f"{county} County Jail"

    # ---- excluded populations (R2): never counted, but present in the extract ------------------
    ex: dict[str, list] = {k: [] for k in ("agency", "status", "adm", "rel", "age_year", "age", "ftype", "fac", "sec")}
    los = cal["length_of_stay_days"]
    doc_share_y = [_range_share(cal["doc"]["legal_status_share"], y) for y in g.years]
    for yi, (y, S) in enumerate(zip(g.years, g.snaps)):
        basis = _by_year(cal["doc"]["custody_crosstracking_basis"], y) * g.scale
        sh = doc_share_y[yi]
        sheriff_total = sum(_by_year(cal["sheriffs"]["by_county"][c], y) for c in COUNTIES.values()) * g.scale

        def add(count: float, ag: Any, st: str, spec: dict, ft: str, fac: str, sec_: str, age_lo=18, age_hi=70):
            k = int(round(count))
            if k <= 0:
                return
            ages = rng.integers(age_lo, age_hi + 1, size=k)
            e = np.minimum(_draw(rng, spec, k), np.maximum(1, (ages - 17) * 365))  # not admitted before birth
            r_ = _draw(rng, spec, k)
            ags = ag if isinstance(ag, np.ndarray) else np.full(k, ag, dtype=object)
            ex["agency"].append(ags[:k])
            ex["status"].append(np.full(k, st, dtype=object))
            ex["adm"].append(S - e + 1)
            ex["rel"].append(S + r_)
            ex["age_year"].append(np.full(k, y))
            ex["age"].append(ages)
            ex["ftype"].append(np.full(k, ft, dtype=object))
            ex["fac"].append(np.full(k, fac, dtype=object))
            ex["sec"].append(np.full(k, sec_, dtype=object))

        n_civ = basis * sh["civil"] / (sh["sentenced"] + sh["pretrial"])
        add(n_civ / 2, "DOC", "CIVIL", los["doc_civil"]["section35"] | {"sigma": 0.6}, "PRISON",
            "Massachusetts Alcohol and Substance Abuse Center", "MINIMUM")
        add(n_civ / 2, "DOC", "CIVIL", los["doc_civil"]["sdp_bsh"], "PRISON", "Massachusetts Treatment Center", "MEDIUM")
        add(max(1, basis * 0.004), "DOC", "COMPACT_IN", {"median": 700, "sigma": 0.8}, "PRISON", "MCI-Norfolk", "MEDIUM")
        add(max(1, basis * 0.003), "DOC", "COMPACT_OUT", {"median": 700, "sigma": 0.8}, "PRISON", "Out of state (interstate compact)", "")
        cty = np.array(list(COUNTIES), dtype=object)
        k_fed = max(1, round(sheriff_total * 0.01))
        add(k_fed, cty[rng.integers(0, len(cty), size=k_fed)], "FEDERAL", {"median": 120, "sigma": 1.0}, "JAIL", "", "")
        k_sk = max(1, round(sheriff_total * 0.003))
        add(k_sk, cty[rng.integers(0, len(cty), size=k_sk)], "SAFE_KEEP", {"median": 2, "sigma": 0.4, "max": 4}, "JAIL", "", "")
        k_juv = max(1, round(sheriff_total * 0.001))
        add(k_juv, cty[rng.integers(0, len(cty), size=k_juv)], "PRETRIAL", {"median": 20, "sigma": 0.5, "max": 300},
            "JAIL", "", "", age_lo=17, age_hi=17)
    x_agency = np.concatenate(ex["agency"])
    x_status = np.concatenate(ex["status"])
    x_adm = np.concatenate(ex["adm"]).astype(np.int64)
    x_rel = np.concatenate(ex["rel"]).astype(np.int64)
    x_age = np.concatenate(ex["age"])
    x_year = np.concatenate(ex["age_year"])
    # the 17-year-olds must leave before the next snapshot, or they would turn into counted adults
    juvx = x_age == 17
    x_rel[juvx] = np.minimum(x_rel[juvx], x_adm[juvx] + 300)
    x_rel[juvx] = np.minimum(x_rel[juvx], np.array([_jan1(y + 1) - 1 for y in x_year[juvx]], dtype=np.int64))
    x_dob = np.array([_jan1(int(y - a)) for y, a in zip(x_year, x_age)], dtype=np.int64) - rng.integers(1, 364, size=len(x_age))
    x_ftype = np.concatenate(ex["ftype"])
    x_fac = np.concatenate(ex["fac"])
    x_sec = np.concatenate(ex["sec"])
    for code, county in COUNTIES.items():
        m = (x_agency == code) & (x_fac == "")
        x_fac[m] = f"{county} County Jail"
    x_system = np.where(x_agency == "DOC", "IMS", "JMS").astype(object)
    nx = len(x_adm)

    # ---- people -------------------------------------------------------------------------------
    n_people = n + nx
    p0 = 10_000_000 + offsets["people"] * 7
    person_num = rng.permutation(np.arange(p0, p0 + n_people * 7, 7))[:n_people]
    offsets["people"] += n_people
    pid = _ids("SID", person_num, 9)
    ex_sex = np.where(rng.random(nx) < 0.1, "F", "M").astype(object)
    ex_race = np.array(["W", "B", "H", "AS", "O", "U", ""], dtype=object)[rng.integers(0, 7, size=nx)]
    ex_eth = np.array(["H", "N", "U", ""], dtype=object)[rng.integers(0, 4, size=nx)]
    people = pa.table({
        "person_id": pid,
        "date_of_birth": _date_array(np.concatenate([dob, x_dob])),
        "assigned_sex": pa.array(np.concatenate([sex, ex_sex]).tolist(), pa.string()),
        "gender_identity": pa.array(np.concatenate([gi, np.full(nx, "", dtype=object)]).tolist(), pa.string()),
        "race": pa.array(np.concatenate([race, ex_race]).tolist(), pa.string()),
        "ethnicity": pa.array(np.concatenate([eth, ex_eth]).tolist(), pa.string()),
    })

    # ---- episodes: counted, their chain predecessors, excluded ------------------------------
    c_person = np.arange(n)
    e_person = np.concatenate([c_person, ci, n + np.arange(nx)])
    e_agency = np.concatenate([agency, p_agency, x_agency])
    e_system = np.concatenate([system, p_system, x_system])
    e_fac = np.concatenate([facility, p_fac, x_fac])
    e_ftype = np.concatenate([ftype, p_ftype, x_ftype])
    e_sec = np.concatenate([sec, p_sec, x_sec])
    e_status = np.concatenate([status, p_status, x_status])
    e_type = np.concatenate([adm_type, np.where(rng.random(len(ci)) < 0.5, "NEW", "TRANSFER").astype(object),
                             np.full(nx, "NEW", dtype=object)])
    e_type[n:n + len(ci)][pv] = "NEW"
    e_adm = np.concatenate([adm, p_adm, x_adm])
    e_rel = np.concatenate([rel, p_rel, x_rel])
    e_rel = np.where(e_rel > g.end, NO_RELEASE, e_rel)
    ne = len(e_adm)
    epi_num = rng.permutation(np.arange(ne)) * 3 + 5_000_001 + offsets["episodes"] * 3
    offsets["episodes"] += ne
    eid = _ids("E", epi_num, 8)
    episodes = pa.table({
        "episode_id": eid,
        "person_id": pid.take(pa.array(e_person)),
        "source_system": pa.array(e_system.tolist(), pa.string()),
        "agency": pa.array(e_agency.tolist(), pa.string()),
        "facility": pa.array(e_fac.tolist(), pa.string()),
        "facility_type": pa.array(e_ftype.tolist(), pa.string()),
        "security_level": pa.array(e_sec.tolist(), pa.string()),
        "custody_status": pa.array(e_status.tolist(), pa.string()),
        "admission_type": pa.array(e_type.tolist(), pa.string()),
        "admission_date": _date_array(e_adm),
        "release_date": _date_array(e_rel),
    })

    charges = _charges(g, rng, n, agency, status, yidx, adm, ci, c_type, p_status, p_adm, p_system,
                       eid, e_person, pid)
    programs = _programs(g, rng, n, agency, status, adm, e_rel[:n], yidx, pid)
    # rows in no particular order, so no rule can lean on file order
    episodes = episodes.take(pa.array(rng.permutation(episodes.num_rows)))
    return {"people": people, "custody_episodes": episodes, "charges": charges,
            "program_enrollments": programs}


def _statute_pools(g: _Gen) -> dict[tuple[str, str], np.ndarray]:
    pools: dict[tuple[str, str], list[str]] = {}
    for st in g.statutes.values():
        if st.statute.endswith("/*"):
            continue
        pools.setdefault((st.offense_subtype, st.severity), []).append(st.statute)
        pools.setdefault((st.offense_subtype, "*"), []).append(st.statute)
    return {k: np.array(v, dtype=object) for k, v in pools.items()}


def _subtype_mix(cal: dict, group: str, year: int) -> dict[str, float]:
    """Sub-type shares of the governing (or leading) offense of one population group."""
    om = cal["offense_mix"]
    if group == "DOC":
        top = _interp({2017: om["doc_2017"], 2024: om["doc_2024"]}, year)
        person = om["doc_person_detail"]
    elif group == "HOC":
        top = _interp({2017: om["hoc_2017"], 2024: om["hoc_2024"]}, year)
        person = om["subtype_within"]["person_hoc"]
    else:
        top = om["pretrial_charge"]
        person = om["subtype_within"]["person_hoc"]
    within = dict(om["subtype_within"])
    within["person"] = person
    within["weapon"] = within["weapon"]
    out: dict[str, float] = {}
    for t, share in top.items():
        sub = within[t]
        tot = sum(sub.values())
        for s, w in sub.items():
            code = "MOTOR_VEHICLE_PROPERTY" if (t, s) == ("property", "motor_vehicle") else s.upper()
            out[code] = out.get(code, 0.0) + share * w / tot
    return out


def _charges(g: _Gen, rng: np.random.Generator, n: int, agency, status, yidx, adm, ci, c_type, p_status,
             p_adm, p_system, eid: pa.Array, e_person, pid: pa.Array) -> pa.Table:
    cal = g.cal
    pools = _statute_pools(g)
    all_statutes = np.array([s for s in g.statutes if not s.endswith("/*")], dtype=object)
    sev_of = {s: g.statutes[s].severity for s in all_statutes}
    m_statutes = np.array([s for s in all_statutes if sev_of[s] == "M"], dtype=object)
    is_doc = agency == "DOC"
    sent = status == "SENTENCED"
    group = np.where(sent & is_doc, "DOC", np.where(sent, "HOC", "PRE")).astype(object)
    # designated charge: the governing offense (sentenced) or the leading charge (pretrial)
    desig = np.empty(n, dtype=object)
    for grp in ("DOC", "HOC", "PRE"):
        for yi, y in enumerate(g.years):
            m = (group == grp) & (yidx == yi)
            if m.any():
                desig[m] = _choice(rng, _subtype_mix(cal, grp, y), int(m.sum()))
    felony_share = cal["offense_mix"]["felony_share"]
    want_f = np.where(group == "DOC", rng.random(n) < felony_share["doc_sentenced"],
                      np.where(group == "HOC", rng.random(n) < felony_share["hoc_sentenced"],
                               rng.random(n) < felony_share["pretrial"]))
    d_stat = np.empty(n, dtype=object)
    for (sub, sev), pool in pools.items():
        if sev == "*":
            continue
        m = (desig == sub) & (want_f == (sev == "F"))
        if m.any():
            d_stat[m] = pool[rng.integers(0, len(pool), size=int(m.sum()))]
    miss = np.array([x is None for x in d_stat])
    for sub in np.unique(desig[miss]):
        m = miss & (desig == sub)
        pool = pools[(sub, "*")]
        d_stat[m] = pool[rng.integers(0, len(pool), size=int(m.sum()))]
    d_sev = np.array([sev_of[s] for s in d_stat], dtype=object)

    # layout: k charges over d dockets; the designated one sits at position p
    k = rng.choice([1, 2, 3, 4, 5, 6], size=n, p=[0.35, 0.25, 0.18, 0.12, 0.06, 0.04])
    ndock = np.minimum(k, rng.choice([1, 2, 3], size=n, p=[0.65, 0.25, 0.10]))
    ims_flag = is_doc & sent & (rng.random(n) < 0.85)  # DOC's IMS marks the governing offense
    pos = np.where(ims_flag | (group == "PRE"), (rng.random(n) * k).astype(int), 0)
    # OMS/JMS sentenced: designated = first incarceration charge; put it anywhere, earlier ones not incarcerated
    oms = sent & ~ims_flag
    pos = np.where(oms, (rng.random(n) * k).astype(int), pos)
    pos = np.where(group == "PRE", np.where(d_sev == "F", pos, 0), pos)
    tot = int(k.sum())
    owner = np.repeat(np.arange(n), k)
    start = np.repeat(np.cumsum(k) - k, k)
    j = np.arange(tot) - start
    dock = (j * ndock[owner]) // k[owner]
    first_in_dock = np.concatenate([[True], dock[1:] != dock[:-1]]) | (j == 0)
    grp_start = np.maximum.accumulate(np.where(first_in_dock, np.arange(tot), 0))
    charge_no = np.arange(tot) - grp_start + 1
    # filing dates: dockets in order, some filed the same day (R9 tie-break on docket number)
    base = adm[owner] - rng.integers(1, 90, size=n)[owner]
    step = np.where(rng.random(n) < 0.35, 0, rng.integers(1, 40, size=n))[owner]
    filing = np.minimum(base + dock * step, adm[owner])
    court = rng.integers(1, 99, size=n)[owner]
    seq = rng.integers(1000, 900000, size=n)[owner] + dock * rng.integers(1, 50, size=n)[owner]
    yy = np.array([(EPOCH + dt.timedelta(days=int(f))).year % 100 for f in filing[first_in_dock]])
    yy_full = np.repeat(yy, np.diff(np.append(np.nonzero(first_in_dock)[0], tot)))
    docket = [f"{a:02d}{b:02d}CR{c:06d}" for a, b, c in zip(yy_full.tolist(), court.tolist(), seq.tolist())]

    is_d = j == pos[owner]
    before = j < pos[owner]
    grp_c = group[owner]
    statute = all_statutes[rng.integers(0, len(all_statutes), size=tot)]
    # R12: a stated share of the other charges cite statutes the table does not know, so the
    # load report and the chapter fallback are exercised; every other statute is in the table
    unk = rng.random(tot) < UNKNOWN_STATUTE_SHARE
    statute[unk] = np.array(UNKNOWN_STATUTES, dtype=object)[rng.integers(0, len(UNKNOWN_STATUTES), size=int(unk.sum()))]
    # pretrial: nothing before the leading felony may be a felony; a misdemeanour lead means no felony at all
    pm = (grp_c == "PRE") & (before | (d_sev[owner] == "M")) & ~is_d
    statute[pm] = m_statutes[rng.integers(0, len(m_statutes), size=int(pm.sum()))]
    statute[is_d] = d_stat
    sev = np.array([sev_of.get(s, "M") for s in statute], dtype=object)
    unknown = np.array([s not in sev_of for s in statute])
    sev[unknown] = np.where(rng.random(int(unknown.sum())) < 0.4, "F", "M")
    sev[pm] = "M"

    disp = np.full(tot, "PENDING", dtype=object)
    sentence = np.full(tot, "", dtype=object)
    s_c = grp_c != "PRE"
    # before the governing charge (no IMS flag): convicted without incarceration, or not convicted
    outcomes = np.array(["CONVICTED", "DISMISSED", "NOT_GUILTY", "NOLLE_PROSEQUI"], dtype=object)
    oc = outcomes[rng.choice(4, size=tot, p=[0.45, 0.25, 0.08, 0.22])]
    disp[s_c] = oc[s_c]
    other_sent = np.array(["PROBATION", "FINE", "SUSPENDED"], dtype=object)[rng.integers(0, 3, size=tot)]
    after_or_flag = s_c & ~is_d & (~before | ims_flag[owner])
    sentence[s_c & (disp == "CONVICTED")] = other_sent[s_c & (disp == "CONVICTED")]
    incar = after_or_flag & (disp == "CONVICTED") & (rng.random(tot) < 0.6)
    sentence[incar] = "INCARCERATION"
    disp[s_c & is_d] = "CONVICTED"
    sentence[s_c & is_d] = "INCARCERATION"
    governing = np.full(tot, "", dtype=object)
    flag = ims_flag[owner]
    governing[flag] = "N"
    governing[flag & is_d] = "Y"

    # the chain predecessors carry one charge each: the designated charge, pending or sentenced
    cp = len(ci)
    p_owner = ci
    p_disp = np.where(p_status == "PRETRIAL", "PENDING", "CONVICTED").astype(object)
    p_sentence = np.where(p_status == "PRETRIAL", "", "INCARCERATION").astype(object)
    p_gov = np.where(p_system == "IMS", np.where(p_status == "PRETRIAL", "", "Y"), "").astype(object)
    p_filing = np.minimum(p_adm - rng.integers(1, 60, size=cp), adm[p_owner] - 1)
    p_docket = [f"{(EPOCH + dt.timedelta(days=int(f))).year % 100:02d}{c:02d}CR{s:06d}"
                for f, c, s in zip(p_filing.tolist(), rng.integers(1, 99, size=cp).tolist(),
                                   rng.integers(1000, 900000, size=cp).tolist())]

    ep_idx = np.concatenate([owner, n + np.arange(cp)])  # episode row: counted ones first, then predecessors
    table = pa.table({
        "person_id": pid.take(pa.array(e_person[ep_idx])),
        "episode_id": eid.take(pa.array(ep_idx)),
        "docket_number": pa.array(docket + p_docket, pa.string()),
        "filing_date": _date_array(np.concatenate([filing, p_filing])),
        "charge_number": pa.array(np.concatenate([charge_no, np.ones(cp, dtype=np.int64)]).astype(np.int32)),
        "statute": pa.array(np.concatenate([statute, d_stat[p_owner]]).tolist(), pa.string()),
        "severity": pa.array(np.concatenate([sev, d_sev[p_owner]]).tolist(), pa.string()),
        "disposition": pa.array(np.concatenate([disp, p_disp]).tolist(), pa.string()),
        "sentence": pa.array(np.concatenate([sentence, p_sentence]).tolist(), pa.string()),
        "governing": pa.array(np.concatenate([governing, p_gov]).tolist(), pa.string()),
    })
    return table.take(pa.array(rng.permutation(table.num_rows)))


def _programs(g: _Gen, rng: np.random.Generator, n: int, agency, status, adm, rel, yidx,
              pid: pa.Array) -> pa.Table:
    cal = g.cal["programs"]
    is_doc = agency == "DOC"
    sent = status == "SENTENCED"
    S0 = np.array(g.snaps)[yidx]
    grp = np.where(sent & is_doc, "doc_sentenced", np.where(sent, "hoc_sentenced", "pretrial")).astype(object)
    n_enr = np.zeros(n, dtype=np.int64)
    psi_w: dict[str, np.ndarray] = {}
    for key in ("doc_sentenced", "hoc_sentenced", "pretrial"):
        c = cal[key]
        m = grp == key
        has = m & (rng.random(n) < c["any"])
        n_enr[has] = 1 + rng.poisson(max(0.0, c["mean_enrollments_if_any"] - 1), size=int(has.sum()))
        w = {"BEH": c["substance_use"] + c["behavioral_cognitive"], "EDU": c["education"] + c["vocational"],
             "SUP": 0.05, "WORK": c["work_assignment"], "REINV": 0.03, "RELIG": c["religious"]}
        psi_w[key] = np.array(list(w.values())) / sum(w.values())
    owner = np.repeat(np.arange(n), n_enr)
    tot = len(owner)
    areas = np.array(list(PROGRAMS), dtype=object)
    psi = np.empty(tot, dtype=object)
    og = grp[owner]
    for key, w in psi_w.items():
        m = og == key
        psi[m] = areas[rng.choice(len(areas), size=int(m.sum()), p=w)]
    program = np.empty(tot, dtype=object)
    for a, names in PROGRAMS.items():
        m = psi == a
        program[m] = np.array(names, dtype=object)[rng.integers(0, len(names), size=int(m.sum()))]
    # started between the admission and the first snapshot the person is counted on (R8)
    span = S0[owner] - adm[owner] + 1
    start = adm[owner] + (rng.random(tot) * span).astype(np.int64)
    done = rng.random(tot) < np.where(og == "pretrial", g.cal["programs"]["completion_rate"]["pretrial"],
                                      g.cal["programs"]["completion_rate"]["sentenced"])
    withdrawn = ~done & (rng.random(tot) < 0.3)
    end = start + rng.integers(14, 200, size=tot)
    end = np.minimum(end, np.where(rel[owner] >= NO_RELEASE, g.end, rel[owner]))
    end = np.maximum(end, start)
    st = np.where(done, "COMPLETED", np.where(withdrawn, "WITHDRAWN", "ENROLLED")).astype(object)
    end = np.where(st == "ENROLLED", NO_RELEASE, end)
    # one row per enrollment: two identical rows would be a duplicate the loader must reject
    key = owner.astype(np.int64) * 100_000 + start
    _, first = np.unique(np.stack([key, np.searchsorted(list(PROGRAMS), psi.astype(str))]), axis=1, return_index=True)
    keep = np.sort(first)
    owner, program, psi, start, end, st = owner[keep], program[keep], psi[keep], start[keep], end[keep], st[keep]
    table = pa.table({
        "person_id": pid.take(pa.array(owner)),
        "agency": pa.array(agency[owner].tolist(), pa.string()),
        "program": pa.array(program.tolist(), pa.string()),
        "psi_area": pa.array(psi.tolist(), pa.string()),
        "start_date": _date_array(start),
        "end_date": _date_array(end),
        "status": pa.array(st.tolist(), pa.string()),
    })
    # the key above can still leave two identical rows (one program twice on a day): keep the first
    idx = table.append_column("_i", pa.array(np.arange(table.num_rows))).group_by(
        table.column_names, use_threads=False).aggregate([("_i", "min")]).column("_i_min").to_numpy()
    if len(idx) < table.num_rows:
        table = table.take(pa.array(np.sort(idx)))
    return table

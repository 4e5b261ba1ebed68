"""Synthetic release outcomes: later custody and Trial Court events for the release cohort.

Runs on one generated population (``loaders.generate_people.build_population``'s tables) with its own random
stream, so the snapshot data it was given stay exactly as they were. Calibrated to
``reference/recidivism_calibration.yml`` (sources and [P]/[S]/[A] labels there):

* Releases are found as the loader finds them (docs/recidivism.md RC1-RC3): sentenced placements
  released from the first snapshot year on, not followed within a day by another admission.
* Each release gets a three-year probability per event: the agency type's calibrated rate times
  the relative risks of its age group at release and of program participation during the stay,
  normalised so the agency type keeps its rate. Events the data already hold (a later parole
  violation in a generated chain) count towards it; the rest are drawn.
* A reincarceration is a new sentenced placement (a parole violation or a new commitment) that
  starts at least two days after the release (RC2) and ends before the next January 1, so no
  snapshot count changes; its own release is a release of a later (or the same) cohort and gets
  outcomes in the next pass, which also yields people released twice in one year.
* Court events: a new commitment comes with the conviction that caused it (arraigned after the
  release, disposed at the admission); further arraignments and convictions are drawn to the
  calibrated rates. Some old charges are arraigned before the release and disposed after it
  (RC6), and a few events fall exactly on the last day of a window (RC7). Nothing is dated after
  the extract date, so late cohorts are censored as real data are (RC8).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

CALIBRATION = Path(__file__).resolve().parent / "reference" / "recidivism_calibration.yml"
EPOCH = dt.date(1970, 1, 1)
NO_DATE = 2**30
AGE_BANDS = ("18-24", "25-29", "30-39", "40-49", "50-59", "60+")
EVENTS = ("reincarceration", "rearraignment", "reconviction")
PASSES = 3  # outcome passes: releases created by one pass get outcomes in the next


def _days(col: pa.ChunkedArray) -> np.ndarray:
    a = pc.fill_null(col.cast(pa.int32()), NO_DATE)
    return a.to_numpy().astype(np.int64)


def _date_array(days: np.ndarray) -> pa.Array:
    d = np.asarray(days, dtype=np.int64)
    mask = d >= NO_DATE
    return pa.array(np.where(mask, 0, d).astype(np.int32), type=pa.int32(), mask=mask).cast(pa.date32())


def _year_of(days: np.ndarray) -> np.ndarray:
    return (np.asarray(days, dtype="datetime64[D]").astype("datetime64[Y]").astype(int) + 1970)


def _jan1(year: np.ndarray | int) -> np.ndarray:
    return (np.asarray(year, dtype=np.int64) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)


def _add_years(days: np.ndarray, n: int) -> np.ndarray:
    """ClickHouse ``addYears`` on day numbers (February 29 -> February 28), as the loader counts (RC7)."""
    out = np.empty(len(days), dtype=np.int64)
    for i, d in enumerate(np.asarray(days, dtype=np.int64)):
        x = EPOCH + dt.timedelta(days=int(d))
        try:
            y = x.replace(year=x.year + n)
        except ValueError:
            y = x.replace(year=x.year + n, day=28)
        out[i] = (y - EPOCH).days
    return out


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    s = pc.utf8_lpad(pa.array(numbers.astype(np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), s, "")


class _Index:
    """Per-person sorted day numbers, for 'is there one in [a, b]' and 'first one after a'."""

    def __init__(self, person: np.ndarray, days: np.ndarray):
        self.keys = np.sort(person.astype(np.int64) * (1 << 32) + days.astype(np.int64))

    def count(self, person: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        base = person.astype(np.int64) * (1 << 32)
        return (np.searchsorted(self.keys, base + hi, side="right") - np.searchsorted(self.keys, base + lo, side="left"))

    def first_after(self, person: np.ndarray, after: np.ndarray) -> np.ndarray:
        base = person.astype(np.int64) * (1 << 32)
        i = np.searchsorted(self.keys, base + after, side="right")
        k = self.keys[np.minimum(i, len(self.keys) - 1)] if len(self.keys) else np.zeros(len(person), np.int64)
        ok = (i < len(self.keys)) & ((k >> 32) == person)
        return np.where(ok, k & 0xFFFFFFFF, NO_DATE)


def add_release_outcomes(tables: dict[str, pa.Table], *, seed: Any, years: list[int], end: int,
                         offsets: dict[str, int]) -> dict[str, pa.Table]:
    """``tables`` plus later custody placements and charges and a ``court_charges`` table."""
    cal = yaml.safe_load(CALIBRATION.read_text())
    rng = np.random.default_rng([*(seed if isinstance(seed, list) else [seed]), 19])
    people, eps = tables["people"], tables["custody_episodes"]
    pid_dict = {p: i for i, p in enumerate(people.column("person_id").to_pylist())}
    dob = _days(people.column("date_of_birth"))
    person = np.array([pid_dict[p] for p in eps.column("person_id").to_pylist()], dtype=np.int64)
    agency = np.array(eps.column("agency").to_pylist(), dtype=object)
    status = np.array(eps.column("custody_status").to_pylist(), dtype=object)
    atype = np.array(eps.column("admission_type").to_pylist(), dtype=object)
    adm, rel = _days(eps.column("admission_date")), _days(eps.column("release_date"))
    progs = tables["program_enrollments"]
    prog_idx = _Index(np.array([pid_dict[p] for p in progs.column("person_id").to_pylist()], dtype=np.int64),
                      _days(progs.column("start_date")))
    first = int(_jan1(min(years)))
    snaps = set(int(x) for x in _jan1(np.array(years + [max(years) + 1])))

    new_eps: list[dict[str, np.ndarray]] = []
    court: list[dict[str, np.ndarray]] = []
    releases: list[dict[str, np.ndarray]] = []
    stats = {"passes": []}
    # candidates of the first pass: every generated placement; later passes: the ones just added
    cand = np.arange(len(adm))
    all_person, all_adm, all_status, all_type = person, adm, status, atype
    all_rel = rel
    for npass in range(PASSES):
        adm_idx = _Index(all_person, all_adm)
        q = (all_status == "SENTENCED") & np.isin(all_type, ("NEW", "STATUS_CHANGE", "PAROLE_VIOLATION"))
        reinc_idx = _Index(all_person[q], all_adm[q])
        c_person, c_adm, c_rel = all_person[cand], all_adm[cand], all_rel[cand]
        c_agency, c_status = np.array(list(agency) + [x for e in new_eps for x in e["agency"]], dtype=object)[cand], \
            all_status[cand]
        # RC1-RC3: sentenced, released in a cohort year, not a transfer, adult on the release date
        is_rel = (c_status == "SENTENCED") & (c_rel < NO_DATE) & (c_rel >= first) & (c_rel <= end)
        self_in = (c_adm >= c_rel) & (c_adm <= c_rel + 1)
        is_rel &= adm_idx.count(c_person, c_rel, c_rel + 1) - self_in.astype(int) == 0
        age = (c_rel - dob[c_person]) / 365.2425
        is_rel &= age >= 18
        r_i = np.nonzero(is_rel)[0]
        if not len(r_i):
            break
        rp, radm, rrel, rag = c_person[r_i], c_adm[r_i], c_rel[r_i], c_agency[r_i]
        rage = age[r_i]
        band = np.digitize(rage, [25, 30, 40, 50, 60])
        doc = rag == "DOC"
        prog = prog_idx.count(rp, radm, rrel) > 0
        rr = cal["relative_risk"]
        mult = np.array([rr["age_group"][b] for b in AGE_BANDS])[band] * np.where(prog, rr["program_any"]["Y"],
                                                                                   rr["program_any"]["N"])
        three = cal["three_year"]
        horizon = _add_years(rrel, 3)  # RC7: within three years = before the third anniversary
        nxt_any = adm_idx.first_after(rp, rrel + 1)
        natural = reinc_idx.first_after(rp, rrel)
        has_nat = natural < horizon
        p = {}
        for ev in EVENTS:
            base = np.where(doc, three["DOC"][ev], three["SHERIFF"][ev])
            m = np.empty(len(r_i))
            for grp in (doc, ~doc):
                if grp.any():
                    m[grp] = mult[grp] / mult[grp].mean()
            p[ev] = np.clip(base * m, 0, 0.97)
        shares = np.array(cal["timing"]["year_shares"], dtype=float)

        def offsets_in_window(n: int, lo: int = 1) -> np.ndarray:
            # the year after release (by the calibrated shares), then a uniform day in that year
            yr = rng.choice(3, size=n, p=shares / shares.sum())
            d = np.floor((yr + rng.random(n)) * 365.25).astype(np.int64)
            return np.maximum(d, lo)

        # --- reincarceration (RC4) -----------------------------------------------------------
        q_draw = np.zeros(len(r_i))
        for grp in (doc, ~doc):  # each agency type keeps its own rate
            need = p["reincarceration"][grp].sum() - has_nat[grp].sum()
            w = p["reincarceration"][grp] * ~has_nat[grp]
            q_draw[grp] = np.clip(w * (max(need, 0) / max(w.sum(), 1e-9)), 0, 0.97)
        draw = rng.random(len(r_i)) < q_draw
        d = offsets_in_window(len(r_i), lo=2)
        at = rrel + d
        at = np.where(np.isin(at, list(snaps)), at + 1, at)  # never admitted on a snapshot day (R1)
        at = np.minimum(at, horizon - 1)
        yend = _jan1(_year_of(at) + 1) - 1
        stay = np.maximum(np.round(rng.lognormal(np.log(cal["reincarceration"]["stay_days"]["median"]),
                                                 cal["reincarceration"]["stay_days"]["sigma"], len(r_i))), 1)
        new_rel = np.minimum.reduce([at + stay.astype(np.int64), yend, nxt_any - 2, np.full(len(at), end)])
        ok = draw & (at <= end) & (at < nxt_any - 1) & (new_rel >= at)
        k = np.nonzero(ok)[0]
        pv_share = np.where(doc[k], cal["reincarceration"]["doc_parole_violation_share"],
                            cal["reincarceration"]["sheriff_parole_violation_share"])
        pv = rng.random(len(k)) < pv_share
        ep = {"person": rp[k], "agency": rag[k], "adm": at[k],
              "rel": np.where(new_rel[k] >= end, NO_DATE, new_rel[k]),
              "type": np.where(pv, "PAROLE_VIOLATION", "NEW").astype(object)}
        new_eps.append(ep)
        reinc_at = np.where(has_nat, natural, NO_DATE)
        reinc_at[k] = at[k]
        # a new commitment comes with its conviction: arraigned after the release, disposed at admission
        newc = k[~pv]
        lag = np.minimum(rng.integers(7, 90, len(newc)), at[newc] - rrel[newc] - 1)
        court.append({"person": rp[newc], "arr": at[newc] - np.maximum(lag, 0), "disp": at[newc],
                      "status": np.full(len(newc), "CONVICTED", dtype=object), "felony": doc[newc]})
        # the person is in the community from the release to the next admission: court events of
        # this release fall there, so they are in no later release's window
        nxt = np.where(ok, at, adm_idx.first_after(rp, rrel))
        releases.append({"person": rp, "adm": radm, "rel": rrel, "doc": doc, "horizon": horizon, "next": nxt,
                         "pa": p["rearraignment"], "pc": p["reconviction"]})
        stats["passes"].append({"releases": int(len(r_i)), "added_placements": int(len(k))})
        # the placements just added are the next pass's candidates
        base_n = len(all_adm)
        all_person = np.concatenate([all_person, ep["person"]])
        all_adm = np.concatenate([all_adm, ep["adm"]])
        all_rel = np.concatenate([all_rel, ep["rel"]])
        all_status = np.concatenate([all_status, np.full(len(k), "SENTENCED", dtype=object)])
        all_type = np.concatenate([all_type, ep["type"]])
        cand = np.arange(base_n, len(all_adm))

    _court_events(cal, rng, releases, court, end)
    return _tables(tables, new_eps, court, people, offsets, rng)


def _court_events(cal: dict, rng: np.random.Generator, releases: list[dict], court: list[dict], end: int) -> None:
    """Rearraignments and reconvictions (RC5, RC6) drawn to the calibrated three-year rates.

    A court event counts for every release of the person whose window it falls in, so releases
    are handled from each person's last release backwards: a release's draw tops up what the
    events already placed (its own new commitments', and its later releases') give it."""
    if not releases:
        return
    r = {k: np.concatenate([x[k] for x in releases]) for k in releases[0]}
    n = len(r["rel"])
    order = np.lexsort((-r["rel"], r["person"]))
    rank = np.empty(n, dtype=np.int64)  # 0 = the person's last release, 1 = the one before, ...
    first_of = np.r_[True, r["person"][order][1:] != r["person"][order][:-1]]
    starts = np.maximum.accumulate(np.where(first_of, np.arange(n), 0))
    rank[order] = np.arange(n) - starts
    base = list(court)
    # A release's events may also fall in an earlier release's window, which the draws of the
    # earlier release cannot undo: draw, measure the three-year rates the loader will see, scale
    # the targets by target / measured, and draw again (a few rounds reach the calibrated rates).
    scale = {(d, ev): 1.0 for d in (True, False) for ev in ("a", "c")}
    observed = r["horizon"] - 1 <= end
    target = {(d, ev): cal["three_year"]["DOC" if d else "SHERIFF"][name] for d in (True, False)
              for ev, name in (("a", "rearraignment"), ("c", "reconviction"))}
    best: tuple[float, list[dict]] = (float("inf"), list(base))
    for round_ in range(8):
        court[:] = base
        _draw_court(cal, rng, r, rank, court, end, scale)
        arr_idx, conv_idx = _placed(court)
        have_a = arr_idx.count(r["person"], r["rel"] + 1, r["horizon"] - 1) > 0
        have_c = conv_idx.count(r["person"], r["rel"] + 1, r["horizon"] - 1) > 0
        worst = 0.0
        for d in (True, False):
            g = observed & (r["doc"] == d)
            if g.sum():
                for ev, have in (("a", have_a), ("c", have_c)):
                    got = max(have[g].mean(), 1e-6)
                    worst = max(worst, abs(got - target[(d, ev)]))
                    # squared at first (the realised rate moves less than the scale: events already
                    # placed stay), then plain, so the draw noise is not amplified
                    scale[(d, ev)] *= (target[(d, ev)] / got) ** (2 if round_ < 2 else 1)
        if worst < best[0]:  # keep the draw closest to the calibration
            best = (worst, list(court))
    court[:] = best[1]
    _old_charges(cal, rng, r, court, end)


class _Convictions:
    """RC6 as the loader counts it: the first disposition date of a conviction on a charge
    arraigned after a given day (a suffix minimum over each person's charges in arraignment order)."""

    def __init__(self, person: np.ndarray, arr: np.ndarray, disp: np.ndarray):
        o = np.lexsort((arr, person))
        self.keys = person[o].astype(np.int64) * (1 << 32) + arr[o]
        # person in the high bits: a later person's value is never below this person's
        self.sufmin = np.minimum.accumulate((person[o].astype(np.int64) * (1 << 32) + disp[o])[::-1])[::-1] \
            if len(o) else np.zeros(0, np.int64)

    def count(self, person: np.ndarray, after: np.ndarray, upto: np.ndarray) -> np.ndarray:
        """1 where a conviction arraigned on or after ``after`` was disposed on or before ``upto``."""
        if not len(self.keys):
            return np.zeros(len(person), dtype=np.int64)
        base = person.astype(np.int64) * (1 << 32)
        i = np.searchsorted(self.keys, base + after, side="left")
        v = self.sufmin[np.minimum(i, len(self.keys) - 1)]
        ok = (i < len(self.keys)) & ((v >> 32) == person) & ((v & 0xFFFFFFFF) <= upto)
        return ok.astype(np.int64)


def _placed(court: list[dict]) -> tuple["_Index", "_Convictions"]:
    c = {k: np.concatenate([x[k] for x in court]) for k in ("person", "arr", "disp", "status")} if court else None
    if c is None or not len(c["arr"]):
        empty = np.zeros(0, np.int64)
        return _Index(empty, empty), _Convictions(empty, empty, empty)
    conv = (c["status"] == "CONVICTED") & (c["disp"] < NO_DATE)
    return _Index(c["person"], c["arr"]), _Convictions(c["person"][conv], c["arr"][conv], c["disp"][conv])


def _draw_court(cal: dict, rng: np.random.Generator, r: dict, rank: np.ndarray, court: list[dict], end: int,
                scale: dict) -> None:
    shares = np.array(cal["timing"]["year_shares"], dtype=float)
    dd = cal["timing"]["disposition_days"]
    placed = lambda: _placed(court)  # noqa: E731
    for rk in range(int(rank.max()) + 1):
        m = np.nonzero(rank == rk)[0]
        arr_idx, conv_idx = placed()
        rp, rrel, horizon = r["person"][m], r["rel"][m], r["horizon"][m]
        # RC5: any arraignment after the release day within the window; RC6: a conviction on such a charge
        have_a = arr_idx.count(rp, rrel + 1, horizon - 1) > 0
        have_c = conv_idx.count(rp, rrel + 1, horizon - 1) > 0
        for grp in (r["doc"][m], ~r["doc"][m]):
            g = np.nonzero(grp)[0]
            if not len(g):
                continue
            d = bool(r["doc"][m][g][0])
            pa_ = np.clip(r["pa"][m][g] * scale[(d, "a")], 0, 0.97)
            pc_ = np.clip(r["pc"][m][g] * scale[(d, "c")], 0, 0.97)
            w = pa_ * ~have_a[g]
            need = pa_.sum() - have_a[g].sum()
            q = np.clip(w * (max(need, 0) / max(w.sum(), 1e-9)), 0, 0.97)
            draw = (rng.random(len(g)) < q) & ~have_a[g]
            yr = rng.choice(3, size=len(g), p=shares / shares.sum())
            off = np.maximum(np.floor((yr + rng.random(len(g))) * 365.25).astype(np.int64), 1)
            room = np.minimum(horizon[g], r["next"][m][g]) - rrel[g] - 1  # last day in the community, in the window
            off = np.where(off <= room, off, 1 + np.floor(rng.random(len(g)) * np.maximum(room, 1)).astype(np.int64))
            draw &= room >= 1
            arr = rrel[g] + off
            disp = arr + np.round(rng.lognormal(np.log(dd["median"]), dd["sigma"], len(g))).astype(np.int64)
            elig = draw & (disp < horizon[g]) & ~have_c[g]
            need_c = pc_.sum() - have_c[g].sum()
            conv = elig & (rng.random(len(g)) < np.clip(max(need_c, 0) / max(elig.sum(), 1), 0, 1))
            # RC7: a few events exactly on the last day of a window
            if rk == 0:
                for j, i in enumerate(np.nonzero(draw & ~conv)[0][:int(cal["edge_cases"]["event_on_last_window_day"])]):
                    arr[i] = _add_years(rrel[g][i:i + 1], 1 + j % 3)[0] - 1
                    disp[i] = arr[i] + 30
            status = np.where(conv, "CONVICTED", rng.choice(["DISMISSED", "NOT_GUILTY", "NOLLE_PROSEQUI"], len(g),
                                                           p=[0.6, 0.1, 0.3])).astype(object)
            pending = disp > end  # dispositions after the extract date are not known yet
            status[pending] = "PENDING"
            keep = draw & (arr <= end)
            court.append({"person": rp[g][keep], "arr": arr[keep], "disp": np.where(pending, NO_DATE, disp)[keep],
                          "status": status[keep], "felony": r["doc"][m][g][keep]})


def _old_charges(cal: dict, rng: np.random.Generator, r: dict, court: list[dict], end: int) -> None:
    # RC6: some old charges, arraigned before a release and convicted after it (not reconvictions)
    n = len(r["rel"])
    # (only before a person's first release, so the old charge is in no earlier release's window)
    first_rel = np.zeros(n, dtype=bool)
    o2 = np.lexsort((r["rel"], r["person"]))
    first_rel[o2] = np.r_[True, r["person"][o2][1:] != r["person"][o2][:-1]]
    old = (rng.random(n) < cal["edge_cases"]["arraigned_before_disposed_after"]) & (r["adm"] < r["rel"]) & first_rel
    old_disp = r["rel"] + rng.integers(10, 120, n)
    old &= old_disp <= end
    court.append({"person": r["person"][old], "arr": np.maximum(r["adm"][old], r["rel"][old] - 200),
                  "disp": old_disp[old], "status": np.full(int(old.sum()), "CONVICTED", dtype=object),
                  "felony": r["doc"][old]})


def _tables(tables: dict[str, pa.Table], new_eps: list[dict], court: list[dict], people: pa.Table,
            offsets: dict[str, int], rng: np.random.Generator) -> dict[str, pa.Table]:
    pids = people.column("person_id")
    out = dict(tables)
    if new_eps:
        e = {k: np.concatenate([x[k] for x in new_eps]) for k in new_eps[0]}
        n = len(e["adm"])
        # ids of the form E<8 digits> = 1 mod 3: the generator's own ids are 0 mod 3
        start = offsets.get("reinc", 0)
        offsets["reinc"] = start + n
        eid = _ids("E", 5_000_002 + 3 * (start + np.arange(n)), 8)
        doc = e["agency"] == "DOC"
        county = {"BAR": "Barnstable", "BER": "Berkshire", "BRI": "Bristol", "DUK": "Dukes", "ESS": "Essex",
                  "FRA": "Franklin", "HMD": "Hampden", "HMP": "Hampshire", "MID": "Middlesex", "NOR": "Norfolk",
                  "PLY": "Plymouth", "SUF": "Suffolk", "WOR": "Worcester"}
        fac = np.where(doc, "MCI-Concord", [f"{county.get(a, 'Suffolk')} County House of Correction"
                                             for a in e["agency"]])
        eps = pa.table({
            "episode_id": eid, "person_id": pids.take(pa.array(e["person"])),
            "source_system": pa.array(np.where(doc, "IMS", "OMS").tolist(), pa.string()),
            "agency": pa.array(e["agency"].tolist(), pa.string()),
            "facility": pa.array(fac.tolist(), pa.string()),
            "facility_type": pa.array(np.where(doc, "PRISON", "HOC").tolist(), pa.string()),
            "security_level": pa.array(np.where(doc, "MEDIUM", "").tolist(), pa.string()),
            "custody_status": pa.array(["SENTENCED"] * n, pa.string()),
            "admission_type": pa.array(e["type"].tolist(), pa.string()),
            "admission_date": _date_array(e["adm"]), "release_date": _date_array(e["rel"]),
        })
        out["custody_episodes"] = pa.concat_tables([tables["custody_episodes"], eps.cast(tables["custody_episodes"].schema)])
        # each new placement is held under one charge sentenced to incarceration (R9 has something to pick)
        ch = tables["charges"]
        pick = rng.integers(0, ch.num_rows, n)
        filing = e["adm"] - rng.integers(1, 60, n)
        charges = pa.table({
            "person_id": pids.take(pa.array(e["person"])), "episode_id": eid,
            "docket_number": _ids("RC", start + np.arange(n), 10),
            "filing_date": _date_array(filing), "charge_number": pa.array(["1"] * n, pa.string()),
            "statute": ch.column("statute").take(pa.array(pick)), "severity": ch.column("severity").take(pa.array(pick)),
            "disposition": pa.array(["CONVICTED"] * n, pa.string()),
            "sentence": pa.array(["INCARCERATION"] * n, pa.string()),
            "governing": pa.array(np.where(doc, "Y", "").tolist(), pa.string()),
        })
        out["charges"] = pa.concat_tables([tables["charges"], charges.cast(tables["charges"].schema)])
    c = {k: np.concatenate([x[k] for x in court]) for k in court[0]} if court else None
    if c is not None and len(c["arr"]):
        n = len(c["arr"])
        start = offsets.get("dockets", 0)
        offsets["dockets"] = start + n
        yy = (_year_of(c["arr"]) % 100).astype(np.int64)
        seq = start + np.arange(n)
        docket = pc.binary_join_element_wise(
            pc.utf8_lpad(pa.array(yy).cast(pa.string()), 2, "0"),
            pa.array(rng.choice(["01", "09", "17", "43", "81", "84"], n).tolist(), pa.string()),
            pa.scalar("CR"), pc.utf8_lpad(pa.array(seq).cast(pa.string()), 7, "0"), "")
        ch = tables["charges"]
        pick = rng.integers(0, ch.num_rows, n)
        out["court_charges"] = pa.table({
            "person_id": pids.take(pa.array(c["person"])), "docket_number": docket,
            "arraignment_date": _date_array(c["arr"]), "charge_number": pa.array(["1"] * n, pa.string()),
            "statute": ch.column("statute").take(pa.array(pick)), "severity": ch.column("severity").take(pa.array(pick)),
            "disposition": pa.array(c["status"].tolist(), pa.string()),
            "disposition_date": _date_array(c["disp"]),
        })
    else:
        out["court_charges"] = pa.table({k: pa.array([], pa.string()) for k in (
            "person_id", "docket_number", "arraignment_date", "charge_number", "statute", "severity", "disposition",
            "disposition_date")})
    return out

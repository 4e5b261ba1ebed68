"""One calibrated population as raw extract tables: people, placements and their chains (R1-R6
edge cases), then charges and programs (loaders/generate_records.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from crosstrack.loaders.generate_draws import (COUNTIES, DOC_FACILITIES, GENDER_LABELS, NO_RELEASE, by_year, choice, date_array, draw_days, id_strings, jan1_day, range_share)
from crosstrack.loaders.generate_population import Population
from crosstrack.loaders.generate_records import draw_charges, draw_programs


def build_population(g: Population, rng: np.random.Generator, offsets: dict[str, int] | None = None) -> dict[str, pa.Table]:
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
    combo[is_doc] = choice(rng, cal["doc"]["race_ethnicity_combined"], int(is_doc.sum()))
    base_sh = dict(cal["sheriffs"]["race_ethnicity_combined"])
    hints = cal["sheriffs"]["hispanic_share_by_county_hint"]
    for code, county in COUNTIES.items():
        m = agency == code
        shares = dict(base_sh)
        if county in hints:
            h = hints[county]
            f = (1 - h) / (1 - shares["hispanic"])
            shares = {k: (h if k == "hispanic" else v * f) for k, v in shares.items()}
        combo[m] = choice(rng, shares, int(m.sum()))
    race = np.empty(n, dtype=object)
    eth = np.empty(n, dtype=object)
    hisp = combo == "hispanic"
    eth[hisp] = "H"
    nh = ~hisp
    eth[nh] = np.where(rng.random(int(nh.sum())) < 0.9, "N", "U")
    eth[nh & (rng.random(n) < 0.03)] = ""
    hrace = choice(rng, cal["doc"]["hispanic_race_assignment"], int(hisp.sum()))
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
    sec[is_doc] = [s.upper() for s in choice(rng, sec_share, int(is_doc.sum()))]
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
    doc_share_y = [range_share(cal["doc"]["legal_status_share"], y) for y in g.years]
    for yi, (y, S) in enumerate(zip(g.years, g.snaps)):
        basis = by_year(cal["doc"]["custody_crosstracking_basis"], y) * g.scale
        sh = doc_share_y[yi]
        sheriff_total = sum(by_year(cal["sheriffs"]["by_county"][c], y) for c in COUNTIES.values()) * g.scale

        def add(count: float, ag: Any, st: str, spec: dict, ft: str, fac: str, sec_: str, age_lo=18, age_hi=70):
            k = int(round(count))
            if k <= 0:
                return
            ages = rng.integers(age_lo, age_hi + 1, size=k)
            e = np.minimum(draw_days(rng, spec, k), np.maximum(1, (ages - 17) * 365))  # not admitted before birth
            r_ = draw_days(rng, spec, k)
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
    x_rel[juvx] = np.minimum(x_rel[juvx], np.array([jan1_day(y + 1) - 1 for y in x_year[juvx]], dtype=np.int64))
    x_dob = np.array([jan1_day(int(y - a)) for y, a in zip(x_year, x_age)], dtype=np.int64) - rng.integers(1, 364, size=len(x_age))
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
    pid = id_strings("SID", person_num, 9)
    ex_sex = np.where(rng.random(nx) < 0.1, "F", "M").astype(object)
    ex_race = np.array(["W", "B", "H", "AS", "O", "U", ""], dtype=object)[rng.integers(0, 7, size=nx)]
    ex_eth = np.array(["H", "N", "U", ""], dtype=object)[rng.integers(0, 4, size=nx)]
    people = pa.table({
        "person_id": pid,
        "date_of_birth": date_array(np.concatenate([dob, x_dob])),
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
    eid = id_strings("E", epi_num, 8)
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
        "admission_date": date_array(e_adm),
        "release_date": date_array(e_rel),
    })

    charges = draw_charges(g, rng, n, agency, status, yidx, adm, ci, c_type, p_status, p_adm, p_system,
                       eid, e_person, pid)
    programs = draw_programs(g, rng, n, agency, status, adm, e_rel[:n], yidx, pid)
    # rows in no particular order, so no rule can lean on file order
    episodes = episodes.take(pa.array(rng.permutation(episodes.num_rows)))
    return {"people": people, "custody_episodes": episodes, "charges": charges,
            "program_enrollments": programs}


"""Charges and program enrollments of the synthetic generator's placements (R8-R12 inputs)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from crosstrack.loaders.generate_draws import EPOCH, NO_RELEASE, PROGRAMS, choice, date_array, interp
from crosstrack.loaders.generate_population import Population

# R12: share of the non-designated charges that cite a statute the reference table does not know
# (the designated governing/leading charge always cites a known one). The rest are drawn only from
# the table's rows (as written, bare sections included). The unknown ones: sections the table does
# not list, sections whose subsections differ in sub-type (90/24, 265/13A), CMR and municipal codes.
UNKNOWN_STATUTE_SHARE = 0.01
UNKNOWN_STATUTES = ("266/126A", "265/99Z", "94C/99", "90/24", "265/13A", "269/99", "272/99",
                    "CMR/501-18.00", "MUNI/BOS-16-12")


def statute_pools(g: Population) -> dict[tuple[str, str], np.ndarray]:
    pools: dict[tuple[str, str], list[str]] = {}
    for st in g.statutes.values():
        if st.statute.endswith("/*"):
            continue
        pools.setdefault((st.offense_subtype, st.severity), []).append(st.statute)
        pools.setdefault((st.offense_subtype, "*"), []).append(st.statute)
    return {k: np.array(v, dtype=object) for k, v in pools.items()}


def subtype_mix(cal: dict, group: str, year: int) -> dict[str, float]:
    """Sub-type shares of the governing (or leading) offense of one population group."""
    om = cal["offense_mix"]
    if group == "DOC":
        top = interp({2017: om["doc_2017"], 2024: om["doc_2024"]}, year)
        person = om["doc_person_detail"]
    elif group == "HOC":
        top = interp({2017: om["hoc_2017"], 2024: om["hoc_2024"]}, year)
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


def draw_charges(g: Population, rng: np.random.Generator, n: int, agency, status, yidx, adm, ci, c_type, p_status,
             p_adm, p_system, eid: pa.Array, e_person, pid: pa.Array) -> pa.Table:
    cal = g.cal
    pools = statute_pools(g)
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
                desig[m] = choice(rng, subtype_mix(cal, grp, y), int(m.sum()))
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
        "filing_date": date_array(np.concatenate([filing, p_filing])),
        "charge_number": pa.array(np.concatenate([charge_no, np.ones(cp, dtype=np.int64)]).astype(np.int32)),
        "statute": pa.array(np.concatenate([statute, d_stat[p_owner]]).tolist(), pa.string()),
        "severity": pa.array(np.concatenate([sev, d_sev[p_owner]]).tolist(), pa.string()),
        "disposition": pa.array(np.concatenate([disp, p_disp]).tolist(), pa.string()),
        "sentence": pa.array(np.concatenate([sentence, p_sentence]).tolist(), pa.string()),
        "governing": pa.array(np.concatenate([governing, p_gov]).tolist(), pa.string()),
    })
    return table.take(pa.array(rng.permutation(table.num_rows)))


def draw_programs(g: Population, rng: np.random.Generator, n: int, agency, status, adm, rel, yidx,
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
        "start_date": date_array(start),
        "end_date": date_array(end),
        "status": pa.array(st.tolist(), pa.string()),
    })
    # the key above can still leave two identical rows (one program twice on a day): keep the first
    idx = table.append_column("_i", pa.array(np.arange(table.num_rows))).group_by(
        table.column_names, use_threads=False).aggregate([("_i", "min")]).column("_i_min").to_numpy()
    if len(idx) < table.num_rows:
        table = table.take(pa.array(np.sort(idx)))
    return table


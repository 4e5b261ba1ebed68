"""Issue 17: each R-step of the fact build (loaders/rules/*.sql) on its own, on chDB.

Every test writes tiny staging tables by hand (or from a seeded random draw), runs one step
exactly as ``build_facts`` does (``facts.run_step`` / ``facts.fact_insert``), and compares the
result with the answer the test derives from the rule's words in DESIGN.md / the FAQ, computed
in Python here, not copied from an earlier output.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot

from crosstrack.engine import Engine
from crosstrack.loaders import charge_order, facts, rules, schema
from crosstrack.loaders.statutes import classify
from tests.fixtures_loaders import memory_settings

YEARS = [2021, 2022, 2023]
SNAPS = [dt.date(y, 1, 1) for y in YEARS]
OPEN = dt.date(2299, 12, 31)

S, D, U64, U32, U16, U8, LS = (pa.string(), pa.date32(), pa.uint64(), pa.uint32(), pa.uint16(), pa.uint8(),
                               pa.string())
CH = {pa.string(): "String", pa.date32(): "Date32", pa.uint64(): "UInt64", pa.uint32(): "UInt32",
      pa.uint16(): "UInt16", pa.uint8(): "UInt8", pa.int32(): "Int32"}
EPISODES = {"eid": U64, "pid": U64, "episode_id": S, "person_id": S, "source_system": S, "agency5": S,
            "facility_type": S, "security": S, "status": S, "admission_type": S, "adm": D, "rel": D}
PEOPLE = {"pid": U64, "person_id": S, "dob": D, "sex": S, "gi": S, "race5": S, "eth3": S}
KEYS = {"pid": U64, "person_key": U64, "record_key": U32}
CHARGES = {"eid": U64, "docket": S, "filing": D, "charge_no": U32, "statute": S, "severity": S,
           "disposition": S, "sentence": S, "governing": S}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return memory_settings(tmp_path_factory.mktemp("steps"), years=YEARS)


@pytest.fixture()
def stage(settings):
    engine = Engine.from_settings(settings)
    name = f"steps_{uuid.uuid4().hex[:10]}"
    engine.command(f"CREATE DATABASE `{name}`")
    yield engine, name
    engine.command(f"DROP DATABASE `{name}` SYNC")


def put(engine: Engine, db: str, table: str, schema_: dict[str, pa.DataType], rows: list[dict],
        nullable: tuple[str, ...] = ()) -> None:
    cols = ", ".join(f"`{c}` {'Nullable(' + CH[t] + ')' if c in nullable else CH[t]}" for c, t in schema_.items())
    engine.command(f"CREATE TABLE `{db}`.`{table}` ({cols}) ENGINE = Memory")
    if rows:
        engine.insert_arrow(table, pa.table({c: pa.array([r[c] for r in rows], t) for c, t in schema_.items()}),
                            database=db)


def read(engine: Engine, db: str, table: str) -> list[dict]:
    return engine.query(f"SELECT * FROM `{db}`.`{table}`").dicts()


def episode(eid: int, pid: int, adm: dt.date, rel: dt.date | None, adm_type: str = "NEW", status: str = "SENTENCED",
            agency: str = "SUF") -> dict:
    return dict(eid=eid, pid=pid, episode_id=f"E{eid:04d}", person_id=f"P{pid}", source_system="OMS", agency5=agency,
                facility_type="HOC", security="NOT_APPLICABLE", status=status, admission_type=adm_type, adm=adm, rel=rel)


def random_episodes(rng: random.Random, people: int) -> list[dict]:
    eps, eid = [], 1
    for pid in range(1, people + 1):
        for _ in range(rng.randint(1, 4)):
            adm = dt.date(2020, 6, 1) + dt.timedelta(days=rng.randint(0, 1000))
            if rng.random() < 0.2:  # admissions and releases on a snapshot date itself
                adm = rng.choice(SNAPS)
            rel = None if rng.random() < 0.3 else adm + dt.timedelta(days=rng.choice([0, 1, rng.randint(0, 600)]))
            eps.append(episode(eid, pid, adm, rel, rng.choice(["NEW", "NEW", "TRANSFER", "STATUS_CHANGE",
                                                               "PAROLE_VIOLATION"])))
            eid += 1
    return eps


# --- R1: the placement that counts on each snapshot -----------------------------------------
def r1_oracle(eps: list[dict]) -> dict[tuple[dt.date, int], int]:
    """In custody on S: admitted on or before S, not released before S. The latest admission
    counts; same day: a replacing admission (not NEW) over NEW, then the later release (open
    last), then the higher episode id."""
    out = {}
    for snap in SNAPS:
        for pid, group in itertools.groupby(sorted(eps, key=lambda e: e["pid"]), key=lambda e: e["pid"]):
            held = [e for e in group if e["adm"] <= snap and (e["rel"] is None or e["rel"] >= snap)]
            if held:
                best = max(held, key=lambda e: (e["adm"], e["admission_type"] != "NEW", e["rel"] or OPEN,
                                                e["episode_id"]))
                out[(snap, pid)] = best["eid"]
    return out


def test_r01_snapshot_placement(stage, settings):
    engine, db = stage
    eps = random_episodes(random.Random(17), 40)
    put(engine, db, "t_episodes", EPISODES, eps, nullable=("rel",))
    facts.run_step(engine, "r01_snapshot_placement", db, settings)
    got = {(r["snap"], r["pid"]): r["eid"] for r in read(engine, db, "sel")}
    want = r1_oracle(eps)
    assert got == want and len(want) > 30


# --- R2-R5: exclusions and demographics of the chosen placement ----------------------------
def age_on(snap: dt.date, dob: dt.date) -> int:
    return snap.year - dob.year - ((snap.month, snap.day) < (dob.month, dob.day))


def group_of(age: int) -> str:
    for code in schema.AGE_GROUPS:
        lo, _, hi = code.rstrip("+").partition("-")
        if int(lo) <= age and (not hi or age <= int(hi)):
            return code
    return "18-24"  # under 18: excluded (R2); the group is never published


def test_r02_r05_custody_rows(stage, settings):
    engine, db = stage
    snap = SNAPS[-1]
    dobs = [dt.date(2005, 1, 1), dt.date(2005, 1, 2), dt.date(1998, 1, 1), dt.date(1998, 1, 2), dt.date(1963, 1, 1),
            dt.date(1963, 1, 2), dt.date(1990, 7, 4), dt.date(1983, 12, 31), dt.date(1975, 3, 3)]
    statuses = list(schema.CUSTODY_STATUSES)
    people, eps, keys, sel = [], [], [], []
    for i, (dob, status) in enumerate(zip(dobs * 2, statuses * 3), start=1):
        people.append(dict(pid=i, person_id=f"P{i}", dob=dob, sex="M", gi="MALE", race5="W", eth3="N"))
        eps.append(episode(i, i, dt.date(2022, 5, 1), None, status=status, agency="NWT"))
        keys.append(dict(pid=i, person_key=1000 + i, record_key=i))
        sel.append(dict(snap=snap, pid=i, eid=i))
    put(engine, db, "t_people", PEOPLE, people)
    put(engine, db, "t_episodes", EPISODES, eps, nullable=("rel",))
    put(engine, db, "keys", KEYS, keys)
    put(engine, db, "sel", {"snap": D, "pid": U64, "eid": U64}, sel)
    facts.run_step(engine, "r02_r05_custody_rows", db, settings)
    got = {r["pid"]: (r["age"], r["age_group"], r["excluded"], r["person_key"], r["agency"])
           for r in read(engine, db, "cust")}
    want = {}
    for p, e in zip(people, eps):
        age = age_on(snap, p["dob"])
        why = e["status"] if e["status"] not in schema.OFFENDER_STATUSES else ("JUVENILE" if age < 18 else "")
        want[p["pid"]] = (age, group_of(age), why, 1000 + p["pid"], "NWT")
    assert got == want
    assert {w[2] for w in want.values()} >= {"", "JUVENILE", "CIVIL", "SAFE_KEEP", "FEDERAL"}


# --- R8: enrollments since the placement's admission ----------------------------------------
def cust_rows(rows: list[tuple[int, int, dt.date, dt.date, str]]) -> list[dict]:
    """(pid, eid, adm, snap, excluded) -> stage.cust rows with the columns later steps read."""
    return [dict(snapshot_year=snap.year, snap=snap, person_key=1000 + pid, record_key=pid, pid=pid, eid=eid,
                 agency="SUF", facility_type="HOC", security_level="NOT_APPLICABLE",
                 offender_status="SENTENCED" if eid % 3 else "PRETRIAL", adm=adm, assigned_sex="M",
                 gender_identity="MALE", race="W", ethnicity="N", age=40, age_group="40-49", excluded=excl)
            for pid, eid, adm, snap, excl in rows]


CUST = {"snapshot_year": U16, "snap": D, "person_key": U64, "record_key": U32, "pid": U64, "eid": U64, "agency": S,
        "facility_type": S, "security_level": S, "offender_status": S, "adm": D, "assigned_sex": S,
        "gender_identity": S, "race": S, "ethnicity": S, "age": pa.int32(), "age_group": S, "excluded": S}
CH[pa.int32()] = "Int32"


def test_r08_enrollments(stage, settings):
    engine, db = stage
    rng = random.Random(8)
    cust = cust_rows([(pid, pid, dt.date(2021, 1, 1) + dt.timedelta(days=rng.randint(-300, 600)), snap,
                       "" if pid % 5 else "CIVIL") for pid in range(1, 16) for snap in SNAPS[1:]])
    cust = [c for c in cust if c["adm"] <= c["snap"]]
    programs = [dict(pid=rng.randint(1, 15), psi=rng.choice(list(schema.PSI_AREAS)), program=f"prog{i}",
                     start=dt.date(2020, 6, 1) + dt.timedelta(days=rng.randint(0, 1000))) for i in range(120)]
    programs += [dict(pid=c["pid"], psi="EDU", program="on the day", start=d) for c in cust for d in (c["adm"], c["snap"])]
    put(engine, db, "cust", CUST, cust)
    put(engine, db, "t_programs", {"pid": U64, "psi": S, "program": S, "start": D}, programs)
    facts.run_step(engine, "r08_enrollments", db, settings)
    got = {(r["snapshot_year"], r["pid"]): (r["total"], *(r[a.lower()] for a in schema.PSI_AREAS))
           for r in read(engine, db, "enr")}
    want = {}
    for c in cust:
        if c["excluded"]:
            continue
        mine = [p for p in programs if p["pid"] == c["pid"] and c["adm"] <= p["start"] <= c["snap"]]
        if mine:  # people with none get zeros from the fact insert's LEFT JOIN
            want[(c["snapshot_year"], c["pid"])] = (len(mine), *(sum(p["psi"] == a for p in mine)
                                                                   for a in schema.PSI_AREAS))
    assert got == want and len(want) > 10


# --- R11/R12: offense types of statutes; R9/R10: governing and leading charge --------------
STATUTES = ["265/1", "266/30A", "266/30", "269/10(a)", "90/24(1)(a)(1)", "94C/32A(a)", "265/13A", "265/13A(a)",
            "267/1", "272/53", "209A/7", "CMR/501-18.00", "MUNI/BOS-1", "266/126A", "94C/99", "112/65"]


def charges_stage(engine: Engine, db: str, settings, charges: list[dict], cust: list[dict]) -> None:
    put(engine, db, "t_charges", CHARGES, charges)
    put(engine, db, "cust", CUST, cust)
    facts.load_statute_table(engine, db)
    facts.run_step(engine, "r12_statute_types", db, settings)
    facts.run_step(engine, "r11_r12_charges", db, settings)


def random_charges(rng: random.Random, eids: range) -> list[dict]:
    out = []
    for eid in eids:
        for no in range(1, rng.randint(1, 6) + 1):
            sentence = rng.choice(["INCARCERATION", "PROBATION", ""])
            out.append(dict(eid=eid, docket=f"22{rng.randint(1, 3):02d}CR0000{rng.randint(1, 3)}",
                            filing=dt.date(2022, 1, rng.randint(1, 3)), charge_no=no, statute=rng.choice(STATUTES),
                            severity=rng.choice("FM"), disposition="CONVICTED" if sentence else "PENDING",
                            sentence=sentence, governing=rng.choice(["", "", "N", "Y"]) if eid % 2 else ""))
    # (eid, docket, charge_no) is unique in a validated extract
    seen, unique = set(), []
    for c in out:
        if (c["eid"], c["docket"], c["charge_no"]) not in seen:
            seen.add((c["eid"], c["docket"], c["charge_no"]))
            unique.append(c)
    return unique


def test_r12_statute_types_and_r11_r12_charges(stage, settings):
    engine, db = stage
    charges = random_charges(random.Random(12), range(1, 30))
    cust = cust_rows([(eid, eid, dt.date(2022, 1, 1), SNAPS[-1], "" if eid % 4 else "FEDERAL") for eid in range(1, 30)])
    charges_stage(engine, db, settings, charges, cust)
    types = {r["statute"]: (r["otype"], r["osub"], bool(r["known"])) for r in read(engine, db, "statute_types")}
    assert types == {s: classify(s) for s in {c["statute"] for c in charges}}
    got = sorted((r["eid"], r["docket"], r["charge_no"], r["severity"], r["otype"], r["osub"])
                 for r in read(engine, db, "ch"))
    counted = {c["eid"] for c in cust if not c["excluded"]}
    want = sorted((c["eid"], c["docket"], c["charge_no"], c["severity"], *classify(c["statute"])[:2])
                  for c in charges if c["eid"] in counted)
    assert got == want


def test_r09_r10_governing_and_leading(stage, settings):
    engine, db = stage
    charges = random_charges(random.Random(9), range(1, 60))
    cust = cust_rows([(eid, eid, dt.date(2022, 1, 1), SNAPS[-1], "") for eid in range(1, 60)])
    charges_stage(engine, db, settings, charges, cust)
    facts.run_step(engine, "r09_r10_governing_leading", db, settings)
    got = {r["eid"]: (r["n_all"], r["n_gov"], tuple(r["gov"]) if r["n_gov"] else None, tuple(r["lead"]))
           for r in read(engine, db, "gl")}
    want = {}
    for eid, mine in itertools.groupby(sorted(charges, key=lambda c: c["eid"]), key=lambda c: c["eid"]):
        # dockets by earliest filing date then lowest docket number; charges by lowest number
        mine = sorted(mine, key=lambda c: (c["filing"], c["docket"], c["charge_no"]))
        flagged = [c for c in mine if c["governing"] == "Y"]
        incarcerated = [c for c in mine if c["sentence"] == "INCARCERATION"]
        # R9: the IMS flag where present, else the first charge sentenced to incarceration
        gov = (flagged or incarcerated or [None])[0]
        # R10: the first felony; if none, the first misdemeanour
        lead = ([c for c in mine if c["severity"] == "F"] or mine)[0]
        n_gov = len({id(c) for c in flagged + incarcerated})
        typed = lambda c: (*classify(c["statute"])[:2], c["severity"])  # noqa: E731
        want[eid] = (len(mine), n_gov, typed(gov) if gov else None, typed(lead))
    assert got == want


def test_r09_r10_charge_key_orders_charges_as_the_rules_tuple(stage):
    """R9/R10 pick the smallest charge_key (loaders/charge_order.py): the smallest key must be the
    smallest (first, filing, docket, charge number) tuple, with dockets that are prefixes of others,
    hold NUL bytes or non-ASCII text, and filing dates from 1900 to 2299; tc and felony read back."""
    engine, db = stage
    rng = random.Random(910)
    pieces = ["", "\x00", "\x00\x01", "\x01", "A", "AB", "A\x00B", "Z", "é", "\uffff", "22CR0001", "22CR00010"]
    rows = []
    for group in range(1, 400):
        tied = group % 2  # half the groups tie on (first, filing): the docket and charge number decide
        for no in range(rng.randint(2, 8)):
            rows.append(dict(g=group, first=0 if tied else rng.randint(0, 1),
                             day=0 if tied else rng.choice([-25567, -1, 0, 1, 19000, 120_000]),
                             docket="".join(rng.choice(pieces) for _ in range(rng.randint(1, 3))),
                             charge_no=rng.choice([0, 1, 255, 256, 2**32 - 1]), tc=rng.randint(0, 2**32 - 1),
                             felony=rng.randint(0, 1)))
    put(engine, db, "k", {"g": U32, "first": U8, "day": pa.int32(), "docket": S, "charge_no": U32, "tc": U32,
                          "felony": U8}, rows)
    cols = [sqlglot.exp.column(c) for c in ("first", "filing", "docket", "charge_no", "tc", "felony")]
    key = charge_order.charge_key(*cols).sql("clickhouse")
    g = sqlglot.exp.column("m")
    got = {r["g"]: (r["tc"], r["felony"]) for r in engine.query(
        f"SELECT g, {charge_order.charge_key_tc(g).sql('clickhouse')} AS tc, "
        f"{charge_order.charge_key_felony(g).sql('clickhouse')} AS felony FROM (SELECT g, min({key}) AS m "
        f"FROM (SELECT *, addDays(toDate32('1970-01-01'), day) AS filing FROM `{db}`.k) GROUP BY g)").dicts()}
    want = {}
    for r in sorted(rows, key=lambda r: (r["first"], r["day"], r["docket"].encode(), r["charge_no"], r["tc"], r["felony"])):
        want.setdefault(r["g"], (r["tc"], r["felony"]))
    assert got == want
    # no charge (minIf over none): the empty key reads as statute row 0, not a felony
    empty = sqlglot.exp.Literal.string("")
    assert engine.query(f"SELECT {charge_order.charge_key_tc(empty).sql('clickhouse')}, "
                        f"{charge_order.charge_key_felony(empty).sql('clickhouse')}").rows == [(0, 0)]


@pytest.mark.parametrize("secret", [b"k", b"x" * 64, "s\u00e9cret-longer-than-one-block-".encode() * 4])
def test_person_keys_in_the_engine_are_hmac_sha256_of_the_id(stage, tmp_path, secret):
    """P3/P4: stage.keys holds, per valid person, the first 8 bytes of HMAC-SHA256(secret, id) as
    person_key and the next 4 as record_key (big-endian), exactly as the standard library's hmac
    computes them, for keys shorter than, equal to and longer than SHA-256's block; the key's pads
    are gone from the staging database afterwards."""
    import hashlib
    import hmac

    from crosstrack.config import load_settings
    engine, db = stage
    ids = ["P1", "p1", "", "A" * 1000, "\u00e9\u4e2d\U0001f600", "P 2", "0" * 64]
    put(engine, db, "t_people", {"pid": U64, "person_id": S}, [dict(pid=i + 1, person_id=v) for i, v in enumerate(ids)])
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=tmp_path, person_key_secret=secret.decode())
    facts.write_person_keys(engine, settings, db)
    got = {r["pid"]: (r["person_key"], r["record_key"]) for r in read(engine, db, "keys")}
    want = {}
    for i, v in enumerate(ids):
        d = hmac.new(settings.secret_bytes(), v.encode(), hashlib.sha256).digest()
        want[i + 1] = (int.from_bytes(d[:8], "big"), int.from_bytes(d[8:12], "big"))
    assert got == want
    assert engine.scalar(f"SELECT count() FROM system.tables WHERE database = '{db}' AND name = 'hmac_pads'") == 0


# --- R6, R9/R10 applicability and R2's sentenced-only charge view: the fact inserts --------
def test_r06_custody_facts_and_r02_charge_facts(stage, settings):
    engine, db = stage
    rng = random.Random(6)
    cust = cust_rows([(pid, pid, SNAPS[-1] - dt.timedelta(days=rng.randint(0, 900)), SNAPS[-1],
                       "" if pid % 7 else "COMPACT_IN") for pid in range(1, 25)])
    charges = random_charges(rng, range(1, 25))
    charges_stage(engine, db, settings, charges, cust)
    facts.run_step(engine, "r09_r10_governing_leading", db, settings)
    put(engine, db, "enr", {"snapshot_year": U16, "pid": U64, "total": pa.uint64(), "ekey": U32,
                            **{a.lower(): pa.uint64() for a in schema.PSI_AREAS}},
        [dict(snapshot_year=SNAPS[-1].year, pid=3, total=2, ekey=5, beh=1, edu=1, sup=0, work=0, reinv=0, relig=0)])
    target = db  # the fact tables may live anywhere; here beside the staging tables
    for table in ("custody_facts", "charge_facts"):
        engine.command(facts.fact_ddl(target, table))
        engine.command(facts.fact_insert(table, db, target))
    rows = {r["person_key"]: r for r in read(engine, db, "custody_facts")}
    counted = [c for c in cust if not c["excluded"]]
    assert set(rows) == {c["person_key"] for c in counted}
    gl = {r["eid"]: r for r in read(engine, db, "gl")}
    for c in counted:
        r = rows[c["person_key"]]
        # R6: both ends counted
        assert r["incarceration_days"] == (c["snap"] - c["adm"]).days + 1
        g = gl.get(c["eid"])
        gov_ok = c["offender_status"] == "SENTENCED" and g is not None and g["n_gov"] > 0
        lead_ok = c["offender_status"] == "PRETRIAL" and g is not None and g["n_all"] > 0
        assert (r["governing_offense_type"], r["governing_offense_subtype"], r["governing_offense_severity"]) == \
            (tuple(g["gov"]) if gov_ok else ("NOT_APPLICABLE",) * 3)
        assert (r["leading_charge_type"], r["leading_charge_subtype"], r["leading_charge_severity"]) == \
            (tuple(g["lead"]) if lead_ok else ("NOT_APPLICABLE",) * 3)
        assert r["enrollments_total"] == (2 if c["pid"] == 3 else 0)
    # R2: charges of sentenced counted people only, one row per charge
    sentenced = {c["eid"] for c in counted if c["offender_status"] == "SENTENCED"}
    got = sorted((r["person_key"], r["offense_type"], r["severity"], r["convicted"])
                 for r in read(engine, db, "charge_facts"))
    want = sorted((1000 + c["eid"], classify(c["statute"])[0], c["severity"], int(c["disposition"] == "CONVICTED"))
                  for c in charges if c["eid"] in sentenced)
    assert got == want and want


# --- R4/R5 typed staging tables (loaders/validate.py) ---------------------------------------
def test_r04_r05_typed_people_and_episodes(stage):
    engine, db = stage
    raw_people = {"person_id": S, "date_of_birth": S, "assigned_sex": S, "gender_identity": S, "race": S,
                  "ethnicity": S, "_row": U64}
    races = list(schema.SOURCE_RACES) + [""]
    people = [dict(person_id=f"P{i}", date_of_birth="1980-01-01", assigned_sex="M",
                   gender_identity=["", "Two-Spirit", "Male"][i % 3], race=r, ethnicity=["H", "N", "U", ""][i % 4],
                   _row=i + 1) for i, r in enumerate(races)]
    put(engine, db, "raw_people", raw_people, people)
    engine.command(f"CREATE TABLE `{db}`.rejects (`table` String, `row` UInt64, `column` String, `rule` String, "
                   f"`message` String) ENGINE = Memory")
    engine.command(f"INSERT INTO `{db}`.rejects VALUES ('people', 2, 'race', 'code', 'x')")  # row 2 was rejected
    from crosstrack.loaders.validate import id_hash_tree
    engine.command(rules.create_table(db, "t_people", rules.rule("r04_typed_people", db, {
        "person_hash": lambda c: id_hash_tree(c, 0)})))
    got = {r["person_id"]: (r["race5"], r["eth3"], r["gi"]) for r in read(engine, db, "t_people")}
    labels = {lab: code for code, lab in schema.GENDER_IDENTITIES.items()}
    want = {p["person_id"]: (schema.SOURCE_RACES.get(p["race"], "OU"), p["ethnicity"] or "U",
                             labels.get(p["gender_identity"], "UNKNOWN")) for p in people if p["_row"] != 2}
    assert got == want
    raw_eps = {c: S for c in ("episode_id", "person_id", "source_system", "agency", "facility", "facility_type",
                              "security_level", "custody_status", "admission_type", "admission_date", "release_date")}
    eps = [dict(episode_id=f"E{i}", person_id="P0", source_system="OMS", agency=a, facility="f", facility_type="HOC",
                security_level="MEDIUM" if a == "DOC" and i % 2 else "", custody_status="SENTENCED",
                admission_type="NEW", admission_date="2022-01-01", release_date="", _row=i + 1)
           for i, a in enumerate(list(schema.SOURCE_AGENCIES) + ["DOC"])]
    put(engine, db, "raw_custody_episodes", {**raw_eps, "_row": U64}, eps)
    engine.command(rules.create_table(db, "t_episodes", rules.rule("r05_typed_episodes", db, {
        "person_hash": lambda c: id_hash_tree(c, 0), "episode_hash": lambda c: id_hash_tree(c, 0)})))
    got = {r["episode_id"]: (r["agency5"], r["security"]) for r in read(engine, db, "t_episodes")}
    want = {e["episode_id"]: (schema.SOURCE_AGENCIES[e["agency"]],
                              "NOT_APPLICABLE" if e["agency"] != "DOC" else (e["security_level"] or "UNKNOWN"))
            for e in eps}
    assert got == want


def test_every_rule_file_has_a_step_and_reads_only_the_staging_database():
    used = set(facts.STEPS) | {"r06_custody_facts", "r02_charge_facts", "r04_typed_people", "r05_typed_episodes"}
    assert set(rules.rule_names()) == used
    bound = rules.rule("r01_snapshot_placement", "x`y", facts.step_values(memory_settings(Path("."))))
    assert '"x`y".t_episodes' in bound.sql("clickhouse")  # the name is an identifier, not SQL text


def test_a_rule_file_may_not_read_outside_the_staging_database():
    for sql in ("SELECT * FROM system.tables", "SELECT * FROM t_people", "SELECT 1 FROM stage.a JOIN other.b ON 1"):
        with pytest.raises(rules.RuleError):
            rules.bind("bad", sqlglot.parse_one(sql, read="clickhouse"), "stage_x", {})

"""Rollups answer from final values where they can, and always with the facts' rows.

A rollup stores, besides its -State columns, each measure's final value for every grouping
(subset of its dimensions that keeps ``meta.rollup_subsets.required``). These tests check, on real
chDB, that every stored grouping gives exactly the rows of the facts — people counts (P1), cell
keys (P4), R7 medians — that queries read final values only when each output row is one stored
row, merge only small states otherwise (else the facts answer), and that a rollup table the model
cannot read is never used.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest

from crosstrack import cube
from crosstrack.engine import Engine
from crosstrack.cube.compiler import GROUPING_COL, Compiler
from crosstrack.cube.query import QueryEngine
from crosstrack.cube.rollups import build_rollups
from cube_data import build_synthetic, create_tables, insert

ROOT = Path(__file__).resolve().parent.parent
DB, TINY_DB, OLD_DB, KEYS_DB = "cube_tr_facts", "cube_tr_tiny", "cube_tr_old", "cube_tr_keys"
# view used to query each cube's members (every rollup dimension and measure is in it)
VIEW = {"custody_snapshot": "incarceration_time", "charge_snapshot": "charges"}
# rollups with a dimension that view lacks (R13's governing offense) are read through another
ROLLUP_VIEW = {"by_governing_offense": "population"}
PROGRAM_MEASURES = ["record_count", "total_enrollments", "enrollments_beh", "enrollments_relig", "cell_key"]


@pytest.fixture(scope="module")
def qe(engine, model) -> QueryEngine:
    build_synthetic(engine, DB, n_people=260, seed=23)
    build_rollups(engine, model, DB)
    return QueryEngine(model, engine)


def _both(qe: QueryEngine, query: dict, db: str = DB):
    with_r = qe.load(query, database=db, internal=True)
    without = qe.load(query, database=db, internal=True, rollups=False)
    assert without.used_rollup is None
    return with_r, without


def _declared(model) -> int:
    """How many rollups the model declares."""
    return sum(len(c.pre_aggregations) for c in model.cubes.values())


def _groupings(model):
    comp = Compiler(model)
    for c in model.cubes.values():
        for pa in c.pre_aggregations.values():
            for dims in [tuple(pa.dimensions)] + comp.rollup_groupings(pa):
                yield pa, dims


def test_P1_P4_R7_every_stored_grouping_gives_the_facts_rows(qe, model):
    """Each stored grouping of each rollup (and its base rows), read as final values: people (P1),
    cell keys (P4), means and R7 medians, enrollment sums equal the facts' rows exactly."""
    seen = 0
    for pa, dims in _groupings(model):
        view = ROLLUP_VIEW.get(pa.name, VIEW[pa.cube])
        measures = [m for m in pa.measures if model.resolve(f"{view}.{m}") is not None]
        queries = [measures]
        if pa.cube == "custody_snapshot" and "record_count" in pa.measures:  # the rollups that hold programs
            queries.append([m for m in PROGRAM_MEASURES if model.resolve(f"programs.{m}") is not None])
        for i, ms in enumerate(queries):
            v = view if i == 0 else "programs"
            q = {"measures": [f"{v}.{m}" for m in ms], "dimensions": [f"{v}.{d}" for d in dims]}
            with_r, without = _both(qe, q)
            assert with_r.used_rollup is not None, (pa.table, dims)
            assert "Merge(" not in with_r.sql, f"{pa.table} {dims}: should read final values"
            assert with_r.data == without.data, (pa.table, dims, ms)
            assert with_r.data, "the comparison must compare something"
            seen += 1
    assert seen >= 40


def test_P1_pinned_filters_read_final_values(qe):
    """A dimension pinned to one value joins the grouping: still one stored row per output row."""
    y = {"member": "charges.snapshot_year", "operator": "equals", "values": ["2020"]}
    sev = {"member": "charges.severity", "operator": "equals", "values": ["F"]}
    for q in ({"measures": ["charges.people", "charges.charges", "charges.cell_key"],
               "dimensions": ["charges.offense_type"], "filters": [y, sev]},
              {"measures": ["charges.people", "charges.convictions"], "dimensions": ["charges.offense_subtype"],
               "filters": [{"and": [y]}], "order": {"charges.people": "desc"}, "limit": 5, "offset": 2}):
        with_r, without = _both(qe, q)
        assert with_r.used_rollup == "charge_snapshot__by_offense"
        assert "Merge(" not in with_r.sql and with_r.data == without.data


def test_P1_measure_filters_and_totals_on_final_values(qe):
    q = {"measures": ["incarceration_time.people", "incarceration_time.median_days"],
         "dimensions": ["incarceration_time.race", "incarceration_time.age_group"],
         "filters": [{"member": "incarceration_time.snapshot_year", "operator": "equals", "values": [2021]},
                     {"member": "incarceration_time.people", "operator": "gte", "values": ["6"]}],
         "total": True}
    with_r, without = _both(qe, q)
    assert "Merge(" not in with_r.sql and GROUPING_COL in with_r.sql
    assert with_r.data == without.data and with_r.total == without.total
    assert all(r["incarceration_time.people"] >= 6 for r in with_r.data)


@pytest.mark.parametrize("name,query", [
    ("two values of a dimension that is not grouped",
     {"measures": ["population.people", "population.cell_key"], "dimensions": ["population.age_group"],
      "filters": [{"member": "population.race", "operator": "equals", "values": ["B", "W"]},
                  {"member": "population.snapshot_year", "operator": "equals", "values": ["2020"]}]}),
    ("no dimensions (one row even over no facts)",
     {"measures": ["incarceration_time.people", "incarceration_time.mean_days", "incarceration_time.cell_key"],
      "filters": [{"member": "incarceration_time.snapshot_year", "operator": "equals", "values": ["2020"]}]}),
    ("no dimensions, nothing matches",
     {"measures": ["incarceration_time.people", "incarceration_time.mean_days", "incarceration_time.cell_key"],
      "filters": [{"member": "incarceration_time.snapshot_year", "operator": "equals", "values": ["1999"]}]}),
    ("or across grouped and other dimensions",
     {"measures": ["population.people"], "dimensions": ["population.snapshot_year", "population.race"],
      "filters": [{"or": [{"member": "population.race", "operator": "equals", "values": ["W"]},
                          {"member": "population.ethnicity", "operator": "equals", "values": ["H"]}]}]}),
    ("notEquals on a dimension that is not grouped",
     {"measures": ["programs.record_count", "programs.total_enrollments", "programs.cell_key"],
      "dimensions": ["programs.snapshot_year"],
      "filters": [{"member": "programs.race", "operator": "notEquals", "values": ["W"]}]}),
])
def test_P1_P4_other_queries_merge_small_states_with_identical_rows(qe, name, query):
    """When output rows are not single stored rows, the rollup's base rows merge small states
    (sums, means, and within one year the plain count/sum of a distinct measure minus its repeated
    values): same rows as the facts."""
    with_r, without = _both(qe, query)
    assert with_r.used_rollup is not None, name
    assert "Merge(" in with_r.sql and "uniqExactMerge" not in with_r.sql and "sumDistinctMerge" not in with_r.sql
    assert with_r.data == without.data, name


@pytest.mark.parametrize("name,query", [
    ("median, not one stored row per output row",
     {"measures": ["incarceration_time.median_days", "incarceration_time.people"],
      "dimensions": ["incarceration_time.snapshot_year"],
      "filters": [{"member": "incarceration_time.race", "operator": "notEquals", "values": ["W"]}]}),
    ("median, no dimensions",
     {"measures": ["incarceration_time.median_days"],
      "filters": [{"member": "incarceration_time.snapshot_year", "operator": "equals", "values": ["2020"]}]}),
    ("distinct people across years (a grouping without the snapshot year is not stored)",
     {"measures": ["programs.distinct_people", "programs.total_enrollments"], "dimensions": ["programs.race"]}),
    ("people of all years, no dimensions", {"measures": ["population.people", "population.cell_key"]}),
])
def test_P1_queries_that_would_merge_whole_value_sets_read_the_facts(qe, model, name, query):
    """Merging exact distinct or quantile states costs as much as scanning the facts, so such
    queries read the facts; a rollup that fits is not forced on them."""
    with_r, without = _both(qe, query)
    assert with_r.used_rollup is None, (name, with_r.sql)
    assert with_r.data == without.data
    # the rollups do cover these members: it is a choice, not a miss
    comp = Compiler(model)
    tables = {pa.table for c in model.cubes.values() for pa in c.pre_aggregations.values()}
    assert comp.compile(query, database=DB, internal=True, rollups=tables).rollup is None


def _tiny(engine, db: str, people: list[dict]) -> None:
    create_tables(engine, db)
    base = {c: 0 for c in ("record_key", "enrollments_total", "enrollments_beh", "enrollments_edu", "enrollments_sup",
                           "enrollments_work", "enrollments_reinv", "enrollments_relig")}
    text = dict(facility_type="PRISON", security_level="MEDIUM", offender_status="SENTENCED", age_group="30-39",
                assigned_sex="M", gender_identity="MALE", race="W", ethnicity="N", governing_offense_type="DRUG",
                governing_offense_subtype="OTHER_DRUG", governing_offense_severity="F",
                leading_charge_type="NOT_APPLICABLE", leading_charge_subtype="NOT_APPLICABLE",
                leading_charge_severity="NOT_APPLICABLE", snapshot_year=2020, agency="DOC", incarceration_days=1)
    insert(engine, db, "custody_facts", [{**base, **text, **p} for p in people])


def test_R7_median_from_final_values_even_and_odd_counts(engine, model):
    """R7 on stored final values: even count -> mean of the two middle values, odd -> the middle."""
    _tiny(engine, TINY_DB, [dict(person_key=i + 1, record_key=7 * i, agency=agency, incarceration_days=days)
                            for i, (agency, days) in enumerate([("DOC", 1), ("DOC", 2), ("DOC", 3), ("DOC", 10),
                                                                ("BER", 1), ("BER", 2), ("BER", 30)])])
    build_rollups(engine, model, TINY_DB)
    q = {"measures": ["incarceration_time.median_days", "incarceration_time.mean_days", "incarceration_time.people"],
         "dimensions": ["incarceration_time.agency"],
         "filters": [{"member": "incarceration_time.snapshot_year", "operator": "equals", "values": ["2020"]}]}
    qe = QueryEngine(model, engine)
    res = qe.load(q, database=TINY_DB)
    assert res.used_rollup == "custody_snapshot__by_agency" and "Merge(" not in res.sql
    got = {r["incarceration_time.agency"]: r for r in res.data}
    assert got["DOC"]["incarceration_time.median_days"] == 2.5
    assert got["BER"]["incarceration_time.median_days"] == 2.0
    assert got["DOC"]["incarceration_time.people"] == 4
    assert res.data == qe.load(q, database=TINY_DB, rollups=False).data


def test_P1_P4_distinct_within_a_year_is_cheap_and_exact_with_repeated_keys(engine, model):
    """distinct_people and cell_key (meta.distinct_within: [snapshot_year]) within one year come from plain
    counts/sums minus the repeated values: exact even when two people share a record key, or a
    person (against the loader's check) has two rows in one snapshot; across years, states merge."""
    rows = []
    for i in range(12):
        rows.append(dict(person_key=1000 + i, record_key=500 + i, race="B" if i % 2 else "W",
                         age_group="30-39" if i < 6 else "40-49", ethnicity="N" if i % 3 else "H"))
    rows[1]["record_key"] = rows[0]["record_key"] = 77  # two people, one record key
    rows[7]["record_key"] = rows[8]["record_key"] = rows[9]["record_key"] = 91
    rows.append(dict(rows[4]))  # one person twice in 2020
    rows += [dict(r, snapshot_year=2021) for r in rows[:8]]  # the same people a year later
    _tiny(engine, KEYS_DB, rows)
    build_rollups(engine, model, KEYS_DB)
    qe = QueryEngine(model, engine)
    two_races = {"member": "population.race", "operator": "equals", "values": ["B", "W"]}
    year = {"member": "population.snapshot_year", "operator": "equals", "values": ["2020"]}
    for filters, cheap in (([two_races, year], True), ([year], True), ([two_races], False)):
        for dims in (["population.age_group"], [], ["population.snapshot_year"]):
            q = {"measures": ["population.distinct_people", "population.cell_key"], "dimensions": dims,
                 "filters": filters}
            with_r, without = _both(qe, q, KEYS_DB)
            assert with_r.data == without.data, (filters, dims, with_r.sql)
            assert with_r.data
            within_a_year = cheap or dims == ["population.snapshot_year"]
            # within a year: a rollup (final values or cheap merge); across years: the facts
            assert (with_r.used_rollup is not None) == within_a_year, (filters, dims)
            assert "uniqExactMerge(" not in with_r.sql and "sumDistinctMerge(" not in with_r.sql
            if "Merge(" in with_r.sql:
                assert "countMerge(" in with_r.sql and "groupArrayArrayMerge(" in with_r.sql
    total = qe.load({"measures": ["population.distinct_people", "population.people", "population.cell_key"],
                     "filters": [year]}, database=KEYS_DB, internal=True).data[0]
    assert total["population.distinct_people"] == 12
    assert total["population.people"] == 13  # records: the person with two rows counts twice
    assert total["population.cell_key"] == sum({r["record_key"] for r in rows if r.get("snapshot_year", 2020) == 2020})


def test_P4_rollup_tables_the_model_cannot_read_are_never_used(engine, model):
    """A rollup built by an older engine or model (columns missing, other groupings or definitions:
    its COMMENT fingerprint differs) is ignored: the facts answer."""
    custody, _ = build_synthetic(engine, OLD_DB, n_people=40, seed=3)
    engine.command(f"CREATE TABLE `{OLD_DB}`.`custody_snapshot__by_agency` ENGINE = AggregatingMergeTree "
                   f"ORDER BY (snapshot_year) AS SELECT snapshot_year, uniqExactState(person_key) AS people__0 "
                   f"FROM `{OLD_DB}`.custody_facts GROUP BY snapshot_year")
    qe = QueryEngine(model, engine)
    assert qe.rollup_tables(OLD_DB) == set()
    res = qe.load({"measures": ["population.people"], "dimensions": ["population.snapshot_year"]}, database=OLD_DB)
    assert res.used_rollup is None
    assert {r["population.snapshot_year"]: r["population.people"] for r in res.data} == \
        {y: len({r["person_key"] for r in custody if r["snapshot_year"] == y}) for y in {r["snapshot_year"] for r in custody}}
    build_rollups(engine, model, OLD_DB)
    qe.forget(OLD_DB)
    assert len(qe.rollup_tables(OLD_DB)) == _declared(model)
    # the same tables under a model whose rollups store other groupings are not this model's
    other = cube.load_model(ROOT / "models")
    other.cubes["custody_snapshot"].meta = {}
    assert QueryEngine(other, engine).rollup_tables(OLD_DB) == {"charge_snapshot__by_offense",
                                                               "custody_snapshot__by_agency"}


def test_rollup_groupings_keep_required_dimensions(model):
    comp = Compiler(model)
    pa = model.cubes["custody_snapshot"].pre_aggregations["by_demographics"]
    sets = comp.rollup_groupings(pa)
    assert all("snapshot_year" in s for s in sets)
    assert len(sets) == 2 ** (len(pa.dimensions) - 1) - 1  # every proper subset that keeps the year
    assert ("snapshot_year",) in sets and tuple(pa.dimensions) not in sets
    assert len(set(sets)) == len(sets)
    assert all(len(a) >= len(b) for a, b in itertools.pairwise(sets))
    for c, name in (("charge_snapshot", "by_offense"), ("custody_snapshot", "by_agency")):  # nothing required
        other = model.cubes[c].pre_aggregations[name]
        assert len(comp.rollup_groupings(other)) == 2 ** len(other.dimensions) - 2


def test_rollup_meta_is_validated_with_its_location(tmp_path):
    """meta.rollup_subsets.required and a measure's meta.distinct_within must name dimensions of
    the cube; each error points at the member's file and names the near miss."""
    for f in (ROOT / "models").glob("*.yml"):
        shutil.copy(f, tmp_path / f.name)
    path = tmp_path / "custody.yml"
    text = path.read_text()
    assert "      - snapshot_year\n  dimensions:" in text
    text = text.replace("      - snapshot_year\n  dimensions:", "      - snapshot_yaer\n  dimensions:", 1)
    text = text.replace("      by_demographics:\n", "      by_demographic:\n        required: []\n      by_demographics:\n", 1)
    assert "      distinct_within:\n      - snapshot_year\n  - name: mean_days" in text
    text = text.replace("      distinct_within:\n      - snapshot_year\n  - name: mean_days",
                        "      distinct_within:\n      - snapshot_yr\n  - name: mean_days", 1)
    path.write_text(text)
    with pytest.raises(cube.ModelError) as err:
        cube.load_model(tmp_path)
    diags = [str(d) for d in err.value.diagnostics]
    assert any("custody.yml" in d and "rollup_subsets" in d and "snapshot_yaer" in d and "snapshot_year" in d
               for d in diags), diags
    assert any("custody.yml" in d and "measures[distinct_people]" in d and "distinct_within" in d and "snapshot_yr" in d
               for d in diags), diags
    assert any("'by_demographic' is not a rollup" in d and "by_demographics" in d for d in diags), diags


# --- loaded data: the loaders' own facts, rollups built before publish as `crosstrack load` does ----
@pytest.fixture(scope="module")
def loaded(tmp_path_factory, engine, model):
    """Synthetic extracts (seed 3, scale 0.15) loaded by the real loaders with the rollup hook."""
    from fixtures_loaders import load, memory_settings
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.publish import current_version

    base = tmp_path_factory.mktemp("cube_rollups_loaded")
    settings = memory_settings(base / "data", years=[2021, 2022, 2023, 2024])
    generate_extracts(base / "extract", seed=3, scale=0.15, fmt="csv", years=settings.snapshot_years, console=None)
    assert load(settings, base / "extract", max_rejects=1000,
                before_publish=[lambda eng, db: build_rollups(eng, model, db)]) == 0
    version = current_version(Engine.from_settings(settings), settings)
    qe = QueryEngine(model, engine)
    assert len(qe.rollup_tables(version.database)) == _declared(model)
    return qe, version.database


def _api_shaped_queries(model) -> list[dict]:
    """What the URL API asks: every public measure plus people and the hidden cell key, by one or two
    dimensions, with the snapshot year and other dimensions filtered by one or several codes."""
    out = []
    for view in ("population", "custody", "incarceration_time", "charges", "programs"):
        meta = next(c for c in model.meta(internal=True)["cubes"] if c["name"] == view)
        measures = [m["name"] for m in meta["measures"]]
        dims = [d["name"] for d in meta["dimensions"] if not (d.get("meta") or {}).get("requires")]
        codes = {d["name"]: [c["code"] for c in (d.get("meta") or {}).get("codes", [])] for d in meta["dimensions"]}
        year = {"member": f"{view}.snapshot_year", "operator": "equals", "values": ["2023"]}
        rest = [d for d in dims if not d.endswith(".snapshot_year")]
        for i, d in enumerate(rest):
            pair = [d, rest[(i + 3) % len(rest)]]
            other = rest[(i + 1) % len(rest)]
            some = codes.get(other) or []
            out += [{"measures": measures, "dimensions": [f"{view}.snapshot_year", d]},
                    {"measures": measures, "dimensions": [d], "filters": [year]},
                    {"measures": measures, "dimensions": pair, "filters": [year]},
                    {"measures": measures, "dimensions": [d]}]
            if some:
                out += [{"measures": measures, "dimensions": [d], "filters": [
                    year, {"member": other, "operator": "equals", "values": some[:1]}]},
                    {"measures": measures, "dimensions": [d], "filters": [
                        year, {"member": other, "operator": "equals", "values": some[:2]}]}]
    return out


def test_P1_P4_R7_api_shaped_queries_identical_on_loaded_data(loaded, model):
    """On the loaders' own facts (real person and record keys), every API-shaped question gives
    the same rows — people (P1), cell keys (P4), R7 medians, R8 counts — with and without rollups."""
    qe, db = loaded
    used = 0
    queries = _api_shaped_queries(model)
    assert len(queries) > 150
    for q in queries:
        with_r, without = _both(qe, q, db)
        assert with_r.data == without.data, (q, with_r.sql)
        used += with_r.used_rollup is not None
    assert used > len(queries) // 3, used


@pytest.mark.parametrize("view,dims,filters,table", [
    ("custody", ["agency", "security_level", "gender_identity"], {"snapshot_year": ["2021"]},
     "custody_snapshot__by_security"),
    ("population", ["offender_status", "governing_offense_type"],
     {"offender_status": ["SENTENCED"], "snapshot_year": ["2021"]}, "custody_snapshot__by_governing_offense"),
])
def test_P1_P4_R13_dashboard_questions_read_their_rollup_with_the_facts_rows(qe, view, dims, filters, table):
    """The dashboard's security level x gender identity and R13 governing-offense questions (as the
    API asks them: people, distinct people and both cell keys) come from a rollup's final values,
    row for row equal to the facts."""
    q = {"measures": [f"{view}.{m}" for m in ("people", "distinct_people", "cell_key", "records_key")],
         "dimensions": [f"{view}.{d}" for d in dims],
         "filters": [{"member": f"{view}.{d}", "operator": "equals", "values": v} for d, v in filters.items()]}
    with_r, without = _both(qe, q)
    assert with_r.used_rollup == table and "Merge(" not in with_r.sql
    assert with_r.data == without.data and len(with_r.data) > 3

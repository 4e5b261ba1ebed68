"""Conformance with Cube itself: same model and query -> same rows as Cube would return.

Cube's own compiler (the cube-oracle tool, which scripts/test.sh installs into .cache/cube-oracle
with its npm packages; CUBE_ORACLE_DIR overrides) turns each query below into the ClickHouse SQL
Cube would send; that SQL is recorded in tests/golden/oracle/. Each test runs Cube's SQL and
crosstrack's engine on the same chDB data and compares rows; the live test compiles every query
again with Cube and checks the recordings (CUBE_ORACLE_RECORD=1 rewrites them). The live test
is never skipped: without the oracle it fails, naming the command that installs it.

Cube reads the model files as they are, meta included (codes are written as a mapping, which
Cube's YAML reader accepts). For the row comparison the copy given to Cube leaves out
``pre_aggregations`` only, so Cube's SQL reads the facts rather than Cube's own rollup tables
(which exist only in a Cube deployment); test_cube_compiles_the_model_files_unchanged gives Cube
the untouched files and checks that it picks the same rollup crosstrack does.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from crosstrack import cube
from crosstrack.config import load_settings
from crosstrack.engine import Engine
from crosstrack.cube.query import Compiler, QueryEngine, _value
from crosstrack.cube.rollups import build_rollups
from cube_data import build_shop, build_stays, build_synthetic

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
RECORDED = GOLDEN / "oracle"
ORACLE = Path(os.environ.get("CUBE_ORACLE_DIR") or ROOT / ".cache" / "cube-oracle")
INSTALL_HINT = "bash scripts/test.sh installs node's oracle packages into .cache/cube-oracle (or set CUBE_ORACLE_DIR)"
DB = {"models": "cube_or_facts", "shop": "cube_or_shop", "stays": "cube_or_stays"}
MODEL_DIR = {"models": ROOT / "models", "shop": GOLDEN / "models", "stays": GOLDEN / "models_stays"}
TABLES = ("custody_facts", "charge_facts", "shop_orders", "shop_users", "shop_line_items", "stay_agencies",
          "stay_placements")

QUERIES: dict[str, tuple[str, dict]] = {
    "population_by_race": ("models", {"measures": ["population.people"], "dimensions": ["population.race"],
                                      "filters": [{"member": "population.agency", "operator": "equals",
                                                   "values": ["DOC", "BRI"]}]}),
    "population_year_status": ("models", {"measures": ["population.people"],
                                          "dimensions": ["population.snapshot_year", "population.offender_status"]}),
    "median_mean_days": ("models", {"measures": ["incarceration_time.people", "incarceration_time.mean_days",
                                                 "incarceration_time.median_days"],
                                    "dimensions": ["incarceration_time.snapshot_year", "incarceration_time.agency"]}),
    "days_not_white_having": ("models", {"measures": ["incarceration_time.median_days", "incarceration_time.people"],
                                         "dimensions": ["incarceration_time.age_group"],
                                         "filters": [{"member": "incarceration_time.race", "operator": "notEquals",
                                                      "values": ["W"]},
                                                     {"member": "incarceration_time.people", "operator": "gt",
                                                      "values": ["20"]}]}),
    "programs": ("models", {"measures": ["programs.record_count", "programs.total_enrollments",
                                         "programs.enrollments_edu", "programs.enrollments_work"],
                            "dimensions": ["programs.offender_status"]}),
    "charges_convictions": ("models", {"measures": ["charges.charges", "charges.convictions", "charges.people"],
                                       "dimensions": ["charges.offense_type", "charges.severity"],
                                       "filters": [{"member": "charges.snapshot_year", "operator": "equals",
                                                    "values": ["2020"]}]}),
    "custody_case_dim": ("models", {"measures": ["custody.people"],
                                    "dimensions": ["custody.agency_type", "custody.facility_type"]}),
    "nested_or_segment": ("models", {"measures": ["population.people"], "dimensions": ["population.agency"],
                                     "segments": ["population.pretrial"],
                                     "filters": [{"or": [{"member": "population.race", "operator": "equals",
                                                          "values": ["B"]},
                                                         {"member": "population.age_group", "operator": "equals",
                                                          "values": ["18-24"]}]}]}),
    "ordered_paged": ("models", {"measures": ["population.people"],
                                 "dimensions": ["population.agency", "population.race"],
                                 "order": [["population.agency", "asc"], ["population.race", "desc"]],
                                 "limit": 7, "offset": 4}),
    "shop_fan_out": ("shop", {"measures": ["sales.total_amount", "sales.count", "sales.units"],
                              "dimensions": ["sales.users_city"]}),
    "shop_fan_out_many_side_dim": ("shop", {"measures": ["orders.total_amount", "orders.avg_amount",
                                                         "line_items.quantity"], "dimensions": ["line_items.product"]}),
    "shop_many_to_one": ("shop", {"measures": ["orders.buyers", "orders.count", "users.count"],
                                  "dimensions": ["users.city"]}),
    "shop_string_ops": ("shop", {"dimensions": ["orders.id"],
                                 "filters": [{"member": "orders.size", "operator": "contains", "values": ["a"]},
                                             {"member": "orders.size", "operator": "notStartsWith", "values": ["l"]},
                                             {"member": "orders.status", "operator": "notEquals", "values": ["open"]}]}),
    "shop_number_ops": ("shop", {"measures": ["orders.paid_share", "orders.count", "orders.max_amount",
                                              "orders.min_amount"], "dimensions": ["orders.size", "orders.is_gift"],
                                 "filters": [{"member": "orders.amount", "operator": "gte", "values": ["5"]},
                                             {"member": "orders.amount", "operator": "lt", "values": ["300"]}]}),
    "shop_time_month": ("shop", {"measures": ["sales.count", "sales.total_amount"],
                                 "timeDimensions": [{"dimension": "sales.created_at", "granularity": "month",
                                                     "dateRange": ["2021-01-01", "2021-03-31"]}]}),
    "shop_date_filters": ("shop", {"measures": ["orders.count"], "dimensions": ["orders.status"],
                                   "filters": [{"member": "orders.created_at", "operator": "beforeDate",
                                                "values": ["2022-01-01"]}],
                                   "segments": ["orders.paid"]}),
    "shop_measure_filter": ("shop", {"measures": ["orders.total_amount"], "dimensions": ["orders.status"],
                                     "filters": [{"member": "orders.total_amount", "operator": "gt", "values": ["50"]}]}),
    # crosstrack's models, more shapes: several snapshots (records vs distinct people), case
    # dimensions, segments, measure filters, ordering
    "people_records_vs_distinct": ("models", {"measures": ["population.people", "population.distinct_people"],
                                              "dimensions": ["population.agency"]}),
    "people_all_years_total": ("models", {"measures": ["population.people", "population.distinct_people"]}),
    "custody_sheriff_by_year": ("models", {"measures": ["custody.people"], "dimensions": ["custody.snapshot_year"],
                                           "filters": [{"member": "custody.agency_type", "operator": "equals",
                                                        "values": ["SHERIFF"]}]}),
    "charges_records_by_severity": ("models", {"measures": ["charges.people", "charges.distinct_people",
                                                            "charges.charges"], "dimensions": ["charges.severity"]}),
    "charges_convictions_not_other": ("models", {"measures": ["charges.convictions"],
                                                 "dimensions": ["charges.disposition"],
                                                 "filters": [{"member": "charges.offense_type", "operator": "notEquals",
                                                              "values": ["OTHER"]}]}),
    "sentenced_segment_sex": ("models", {"measures": ["population.people"], "dimensions": ["population.assigned_sex"],
                                         "segments": ["population.sentenced"]}),
    "programs_having_records": ("models", {"measures": ["programs.record_count", "programs.enrollments_beh"],
                                           "dimensions": ["programs.agency"],
                                           "filters": [{"member": "programs.record_count", "operator": "gte",
                                                        "values": ["10"]}]}),
    "gender_two_races_two_years": ("models", {"measures": ["population.people"],
                                              "dimensions": ["population.gender_identity"],
                                              "filters": [{"member": "population.race", "operator": "equals",
                                                           "values": ["B", "W"]},
                                                          {"member": "population.snapshot_year", "operator": "equals",
                                                           "values": ["2019", "2020"]}]}),
    "top_agencies_by_people": ("models", {"measures": ["population.people"], "dimensions": ["population.agency"],
                                          "order": [["population.people", "desc"], ["population.agency", "asc"]],
                                          "limit": 5}),
    "charges_rollup_shape": ("models", {"measures": ["charges.charges", "charges.convictions", "charges.people"],
                                        "dimensions": ["charges.snapshot_year", "charges.offense_type",
                                                       "charges.offense_subtype", "charges.severity"]}),
    # the fan-out count on the shop model: order 6 has no line items
    "shop_line_item_count_by_status": ("shop", {"measures": ["line_items.count", "orders.count"],
                                                "dimensions": ["orders.status"]}),
    "shop_line_item_count_by_size": ("shop", {"measures": ["line_items.count", "line_items.quantity"],
                                              "dimensions": ["orders.size"]}),
    "shop_time_year": ("shop", {"measures": ["sales.count", "sales.units"],
                                "timeDimensions": [{"dimension": "sales.created_at", "granularity": "year"}]}),
    "shop_in_date_range": ("shop", {"measures": ["orders.count", "orders.total_amount"],
                                    "dimensions": ["orders.size"],
                                    "timeDimensions": [{"dimension": "orders.created_at",
                                                        "dateRange": ["2021-01-01", "2021-12-31"]}]}),
    "shop_or_measure_filter": ("shop", {"measures": ["orders.count", "orders.total_amount"],
                                        "dimensions": ["orders.status"],
                                        "filters": [{"or": [{"member": "orders.count", "operator": "gt", "values": ["2"]},
                                                            {"member": "orders.total_amount", "operator": "lt",
                                                             "values": ["50"]}]}]}),
    # agencies -> placements (one_to_many) with a time dimension: tests/golden/models_stays
    "stays_fan_out_count": ("stays", {"measures": ["placements.count", "agencies.count"],
                                      "dimensions": ["agencies.region"]}),
    "stays_count_by_code": ("stays", {"measures": ["placements.count"], "dimensions": ["agencies.code"]}),
    "stays_month": ("stays", {"measures": ["placements.count", "placements.total_days"],
                              "timeDimensions": [{"dimension": "placements.admitted_at", "granularity": "month",
                                                  "dateRange": ["2021-01-01", "2021-06-30"]}]}),
    "stays_year_region": ("stays", {"measures": ["placements.count", "agencies.count"],
                                    "dimensions": ["agencies.region"],
                                    "timeDimensions": [{"dimension": "placements.admitted_at", "granularity": "year"}]}),
    "stays_long_by_code": ("stays", {"measures": ["placements.long_stays", "placements.count"],
                                     "dimensions": ["agencies.code"]}),
    "stays_sentenced_segment": ("stays", {"measures": ["placements.count"], "dimensions": ["agencies.region"],
                                          "segments": ["placements.sentenced"]}),
    "stays_having_count": ("stays", {"measures": ["placements.count"], "dimensions": ["agencies.code"],
                                     "filters": [{"member": "placements.count", "operator": "gt", "values": ["20"]}]}),
    "stays_people_mean": ("stays", {"measures": ["placements.people", "placements.mean_days"],
                                    "dimensions": ["agencies.region"]}),
    "stays_agencies_by_status": ("stays", {"measures": ["agencies.count", "placements.count"],
                                           "dimensions": ["placements.status"]}),
    "stays_view": ("stays", {"measures": ["stays.agencies_count", "stays.count", "stays.long_stays"],
                             "dimensions": ["stays.agencies_region"]}),
    "stays_view_quarter": ("stays", {"measures": ["stays.count"],
                                     "timeDimensions": [{"dimension": "stays.admitted_at", "granularity": "quarter",
                                                         "dateRange": ["2020-01-01", "2020-12-31"]}]}),
    "stays_date_filter": ("stays", {"measures": ["placements.count"], "dimensions": ["agencies.code"],
                                    "filters": [{"member": "placements.admitted_at", "operator": "inDateRange",
                                                 "values": ["2021-01-01", "2021-12-31"]}]}),
    "stays_number_measure": ("stays", {"measures": ["placements.days_per_stay"], "dimensions": ["agencies.region"]}),
    "stays_week": ("stays", {"measures": ["placements.count"],
                             "timeDimensions": [{"dimension": "placements.admitted_at", "granularity": "week",
                                                 "dateRange": ["2022-01-01", "2022-03-31"]}]}),
    "stays_day_ordered": ("stays", {"measures": ["placements.count"], "dimensions": ["agencies.code"],
                                    "timeDimensions": [{"dimension": "placements.admitted_at", "granularity": "day",
                                                        "dateRange": ["2020-03-01", "2020-04-30"]}],
                                    "order": [["placements.admitted_at", "asc"], ["agencies.code", "asc"]]}),
    "stays_segment_and_time": ("stays", {"measures": ["stays.count", "stays.total_days"],
                                         "dimensions": ["stays.status"], "segments": ["stays.sentenced"],
                                         "timeDimensions": [{"dimension": "stays.admitted_at", "granularity": "year",
                                                             "dateRange": ["2021-01-01", "2022-12-31"]}]}),
}


def _sanitized_models(kind: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k != "pre_aggregations"}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    for f in sorted(MODEL_DIR[kind].glob("*.yml")):
        (out / f.name).write_text(yaml.safe_dump(strip(yaml.safe_load(f.read_text())), sort_keys=False))
    return out


def _oracle_available() -> bool:
    return shutil.which("node") is not None and (ORACLE / "node_modules").is_dir()


def _compile_with_cube(kind: str, names: list[str], tmp: Path) -> dict[str, dict]:
    model_dir = _sanitized_models(kind, tmp / kind)
    stdin = "".join(json.dumps(QUERIES[n][1]) + "\n" for n in names)
    proc = subprocess.run(["node", str(ORACLE / "cube_sql.js"), str(model_dir), "--jsonl"], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ORACLE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    out = {}
    for n, res in zip(names, lines):
        assert "error" not in res, (n, res)
        out[n] = {"model": kind, "query": QUERIES[n][1], "sql": res["inlined"],
                  "aliasNameToMember": res["aliasNameToMember"]}
    return out


@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))
    build_synthetic(e, DB["models"], n_people=250, seed=5)
    build_rollups(e, cube.load_model(MODEL_DIR["models"]), DB["models"])
    build_shop(e, DB["shop"])
    build_stays(e, DB["stays"])
    return e


@pytest.fixture(scope="module")
def engines(engine) -> dict[str, QueryEngine]:
    return {k: QueryEngine(cube.load_model(d), engine) for k, d in MODEL_DIR.items()}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, dict]:
    if os.environ.get("CUBE_ORACLE_RECORD"):
        assert _oracle_available(), f"CUBE_ORACLE_RECORD needs node and the oracle: {INSTALL_HINT}"
        tmp = tmp_path_factory.mktemp("oracle")
        RECORDED.mkdir(parents=True, exist_ok=True)
        for kind in MODEL_DIR:
            names = [n for n, (k, _) in QUERIES.items() if k == kind]
            for n, rec in _compile_with_cube(kind, names, tmp).items():
                (RECORDED / f"{n}.json").write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    return {p.stem: json.loads(p.read_text()) for p in RECORDED.glob("*.json")}


def _norm(v):
    v = _value(v)
    if isinstance(v, float):
        if v.is_integer():
            return int(v)
        return float(f"{v:.9g}") if math.isfinite(v) else None
    return v


def _cube_rows(engine: Engine, rec: dict) -> list[tuple]:
    db = DB[rec["model"]]
    tree = sqlglot.parse_one(rec["sql"], read="clickhouse")
    for t in tree.find_all(exp.Table):
        if not t.args.get("db") and t.name in TABLES:
            t.set("db", exp.to_identifier(db))
    rows = engine.query(tree, settings={"join_use_nulls": 1})
    members = [rec["aliasNameToMember"].get(c, c) for c in rows.columns]
    return members, [tuple(_norm(v) for v in r) for r in rows.rows]


def _our_rows(qe: QueryEngine, rec: dict, members: list[str], rollups: bool) -> list[tuple]:
    res = qe.load(rec["query"], database=DB[rec["model"]], internal=True, rollups=rollups)
    key = {}
    for m in members:  # Cube names a time column by the dimension; we also give .granularity
        key[m] = m if not res.data or m in res.data[0] else next(k for k in res.data[0] if k.startswith(m + "."))
    return [tuple(_norm(r[key[m]]) for m in members) for r in res.data]


def test_every_query_has_a_recording(recorded):
    assert set(QUERIES) <= set(recorded), sorted(set(QUERIES) - set(recorded))


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_same_rows_as_cube(name, engine, engines, recorded):
    """Cube's recorded SQL and crosstrack's engine (with and without rollups) return the same rows."""
    rec = recorded[name]
    assert rec["query"] == QUERIES[name][1], "recording is stale: rerun with CUBE_ORACLE_RECORD=1"
    members, cube_rows = _cube_rows(engine, rec)
    assert cube_rows, "the comparison must compare something"
    qe = engines[rec["model"]]
    for rollups in (False, True):
        ours = _our_rows(qe, rec, members, rollups)
        if "order" in rec["query"] or "limit" in rec["query"]:
            assert ours == cube_rows
        else:
            assert Counter(ours) == Counter(cube_rows)


def test_recordings_match_live_cube(tmp_path, recorded):
    """Cube compiles every query again, now: the recordings are what Cube sends today."""
    assert _oracle_available(), f"the live conformance check needs node and the Cube oracle: {INSTALL_HINT}"
    assert len(QUERIES) >= 40
    for kind in MODEL_DIR:
        names = [n for n, (k, _) in QUERIES.items() if k == kind]
        for n, live in _compile_with_cube(kind, names, tmp_path).items():
            assert live["sql"] == recorded[n]["sql"], f"{n}: Cube's SQL changed; rerun with CUBE_ORACLE_RECORD=1"


def test_cube_compiles_the_model_files_unchanged():
    """Stock Cube accepts models/ as it is (meta and pre-aggregations included), and resolves every
    pre-aggregation member to the cube's own member: a query a rollup answers exactly reads that
    rollup in Cube and in crosstrack."""
    assert _oracle_available(), f"the live conformance check needs node and the Cube oracle: {INSTALL_HINT}"
    queries = [
        ({"measures": ["charges.charges", "charges.convictions", "charges.people"],
          "dimensions": ["charges.snapshot_year", "charges.offense_type", "charges.offense_subtype",
                         "charges.severity"]}, "charge_snapshot_by_offense", "charge_snapshot__by_offense"),
        ({"measures": ["population.people"], "dimensions": ["population.snapshot_year", "population.agency",
                                                            "population.offender_status", "population.facility_type"]},
         "custody_snapshot_by_agency", "custody_snapshot__by_agency"),
    ]
    stdin = "".join(json.dumps(q) + "\n" for q, _, _ in queries)
    proc = subprocess.run(["node", str(ORACLE / "cube_sql.js"), str(ROOT / "models"), "--jsonl"], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ORACLE)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    assert len(results) == len(queries)
    model = cube.load_model(ROOT / "models")
    tables = {pa.table for c in model.cubes.values() for pa in c.pre_aggregations.values()}
    for (query, cube_table, ours), res in zip(queries, results):
        assert "error" not in res, res
        assert f"stb_pre_aggregations.{cube_table} " in res["inlined"], res["inlined"][:400]
        assert Compiler(model).compile(query, database="x", internal=True, rollups=tables).rollup == ours

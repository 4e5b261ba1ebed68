"""Disclosure control units (P1, P2, K1, K3, K5) on cell keys computed by real chDB queries."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from crosstrack.api.disclosure import (KEY_MODULUS, NOISE_MAX, MEAN_TOTAL_SHARE, MEDIAN_SMALL_CELL, MEDIAN_SMALL_MIN_DAYS, MEDIAN_SMALL_STEP, DatasetRules, Disclosure, MeasureRule,
                            PerturbationTable, key_stream)
from crosstrack.config import load_settings
from crosstrack.engine import Engine

DB = "api_unit_disclosure"
RULES = DatasetRules(
    people_members=("v.people",), cell_key_member="v.cell_key",
    measures=(MeasureRule("people", "v.people", "people", "v.people"),
              MeasureRule("mean_days", "v.mean_days", "mean", "v.people"),
              MeasureRule("median_days", "v.median_days", "median", "v.people"),
              MeasureRule("enrollments", "v.enrollments", "count", "v.people")))


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))
    eng.command(f"CREATE DATABASE IF NOT EXISTS {DB}")
    eng.command(f"DROP TABLE IF EXISTS {DB}.facts")
    eng.command(f"CREATE TABLE {DB}.facts (person UInt64, record_key UInt32, a String, b String, days UInt32, "
                "enr UInt16) ENGINE = MergeTree ORDER BY person")
    rng = random.Random(11)
    rows = []
    for p in range(3000):
        a = rng.choice("ABCDEFGH")
        b = rng.choices(["x", "y", "z", "rare"], weights=[50, 30, 19, 1])[0]
        rows.append(f"({p}, {rng.getrandbits(32)}, '{a}', '{b}', {rng.randint(1, 4000)}, {rng.randint(0, 5)})")
    eng.command(f"INSERT INTO {DB}.facts VALUES " + ",".join(rows))
    return eng


def _cells(engine: Engine, group: list[str], where: str = "1") -> list[dict]:
    cols = ", ".join(group)
    sel = (cols + ", " if cols else "")
    sql = (f"SELECT {sel} uniqExact(person) AS `v.people`, sumDistinct(record_key) % 4294967296 AS `v.cell_key`, "
           f"avg(days) AS `v.mean_days`, quantileExactInclusive(0.5)(days) AS `v.median_days`, "
           f"sum(enr) AS `v.enrollments` FROM {DB}.facts WHERE {where}" + (f" GROUP BY {cols}" if cols else ""))
    return engine.query(sql).dicts()


def test_k1_small_cells_suppressed_every_measure_withheld(engine):
    """K1/P1: fewer than k people -> every measure None and suppressed; never 0."""
    d = Disclosure(5)
    cells = _cells(engine, ["a", "b"])
    small = [c for c in cells if c["v.people"] < 5]
    assert small, "fixture must contain small cells"
    for c in cells:
        p = d.protect(c, RULES)
        if c["v.people"] < 5:
            assert p.suppressed and all(v is None for v in p.values.values())
        else:
            assert not p.suppressed
            assert p.values["people"] >= 5 and abs(p.values["people"] - c["v.people"]) <= NOISE_MAX
            assert p.values["mean_days"] is not None and p.values["median_days"] is not None


def test_k1_zero_stays_zero_and_is_not_suppressed():
    """K1: a real zero is published as 0, never flagged suppressed."""
    d = Disclosure(5)
    p = d.protect({"v.people": 0, "v.cell_key": 0, "v.mean_days": None, "v.median_days": None,
                   "v.enrollments": 0}, RULES)
    assert not p.suppressed and p.values["people"] == 0 and p.values["enrollments"] == 0
    assert p.values["mean_days"] is None


def test_k_can_only_be_raised():
    """K1: k below the FAQ's 5 is refused; a raised k suppresses more."""
    with pytest.raises(ValueError):
        Disclosure(4)
    d = Disclosure(10)
    assert d.protect({"v.people": 7, "v.cell_key": 1}, RULES).suppressed


def test_k3_same_people_same_answer_through_different_groupings(engine):
    """K3: a cell reached by a different query shape (filter vs group) gets identical values."""
    d = Disclosure(5)
    by_a = {c["a"]: d.protect(c, RULES).values for c in _cells(engine, ["a"])}
    for a in "ABC":
        (single,) = _cells(engine, [], f"a = '{a}'")
        assert d.protect(single, RULES).values == by_a[a]
        (via_all_b,) = _cells(engine, [], f"a = '{a}' AND b IN ('x','y','z','rare')")
        assert d.protect(via_all_b, RULES).values == by_a[a]


def test_noise_bounded_and_not_always_zero(engine):
    """K4: counts move by at most NOISE_MAX (3) and are actually perturbed (not the identity)."""
    d = Disclosure(5)
    diffs = []
    for c in _cells(engine, ["a", "b"]) + _cells(engine, ["a"]) + _cells(engine, ["b"]):
        p = d.protect(c, RULES)
        if not p.suppressed:
            diffs.append(p.values["people"] - c["v.people"])
    assert max(abs(x) for x in diffs) <= NOISE_MAX
    assert sum(1 for x in diffs if x != 0) >= len(diffs) // 3


def test_perturbation_table_rows_are_distributions():
    t = PerturbationTable()
    for row in t.describe("k"):
        assert abs(sum(row["noise_probabilities"].values()) - 1) < 1e-3
    # the base row is unbiased
    base = t.describe("k")[-1]["noise_probabilities"]
    assert abs(sum(int(k) * v for k, v in base.items())) < 1e-9


@hsettings(max_examples=300, deadline=None)
@given(n=st.integers(min_value=5, max_value=100_000), key=st.integers(min_value=0, max_value=KEY_MODULUS - 1),
       mean=st.floats(min_value=1, max_value=5000), median=st.integers(min_value=1, max_value=5000))
def test_k5_bounds_property(n, key, mean, median):
    """K1/K5: published people >= k, |noise| <= NOISE_MAX; mean moves at most share/n of itself (+rounding)."""
    d = Disclosure(5)
    p = d.protect({"v.people": n, "v.cell_key": key, "v.mean_days": mean, "v.median_days": median,
                   "v.enrollments": n}, RULES).values
    assert p["people"] >= 5 and abs(p["people"] - n) <= NOISE_MAX
    assert abs(p["mean_days"] - mean) <= MEAN_TOTAL_SHARE * mean / n + 0.05 + 1e-9
    if p["people"] < MEDIAN_SMALL_CELL:  # K8: small cells move further and show whole tens of days
        assert abs(p["median_days"] - median) <= max(MEDIAN_SMALL_MIN_DAYS, 0.1 * median * (5 / n) ** 0.5) + 5
        assert p["median_days"] % MEDIAN_SMALL_STEP == 0
    else:
        assert abs(p["median_days"] - median) <= max(2, 0.1 * median * (5 / n) ** 0.5) + 0.5


def test_streams_independent_per_measure():
    """K4: two measures of one cell do not share a draw (differences would cancel the noise)."""
    same = sum(key_stream(k, "people") == key_stream(k, "count:enrollments") for k in range(2000))
    assert same == 0

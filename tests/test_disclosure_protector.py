"""K3/K4/K5 and P1: the per-rules protector (Disclosure.protect's fast path) publishes exactly
what the single-value rules give — the same key streams, perturbation table and arithmetic —
for any counts, cell keys, means and medians, including suppressed rows and subgroup counts."""

from __future__ import annotations

from hypothesis import given, settings as hsettings, strategies as st

from crosstrack.api.disclosure import DatasetRules, Disclosure, MeasureRule

RULES = DatasetRules(
    people_members=("v.people", "v.other_people"), cell_key_member="v.cell_key",
    measures=(MeasureRule("people", "v.people", "people", "v.people"),
              MeasureRule("women", "v.women", "people", "v.people"),
              MeasureRule("mean_days", "v.mean_days", "mean", "v.people"),
              MeasureRule("median_days", "v.median_days", "median", "v.people"),
              MeasureRule("enrollments", "v.enrollments", "count", "v.people", "v.enrollments_key"),
              MeasureRule("other_mean", "v.other_mean", "mean", "v.missing_people"),
              MeasureRule("odd", "v.odd", "maximum", "v.people")))


def expected(d: Disclosure, raw: dict) -> tuple[dict, bool]:
    """The rules written out one value at a time with the public single-value methods."""
    people, other = int(raw["v.people"]), int(raw["v.other_people"])
    # K9: a subgroup's people count obeys k on its own value
    if 0 < people < d.k or 0 < other < d.k or 0 < int(raw["v.women"]) < d.k:
        return {r.name: None for r in RULES.measures}, True
    key = int(raw["v.cell_key"])
    mean, median = raw["v.mean_days"], raw["v.median_days"]
    return {
        "people": d.perturb_count(people, key, "people", d.k),
        "women": d.perturb_count(int(raw["v.women"]), key, "people:women", d.k),
        "mean_days": None if people <= 0 or mean is None else d.perturb_mean(float(mean), people, key, "mean:mean_days"),
        "median_days": (None if people <= 0 or median is None
                        else d.perturb_median(float(median), people, key, "median:median_days",
                                             d.perturb_count(people, key, "people", d.k))),
        # K7: a record count draws from its records' key, not the people's
        "enrollments": d.perturb_count(int(raw["v.enrollments"]), int(raw["v.enrollments_key"]), "count:enrollments", 1),
        "other_mean": None,  # governed by a count the row does not carry: never published
        "odd": None,  # not one of the four kinds: never published (P2)
    }, False


@hsettings(max_examples=400, deadline=None)
@given(enr_key=st.integers(0, 2**32 - 1), people=st.integers(0, 5000), other=st.integers(0, 50), women=st.integers(0, 5000),
       key=st.integers(0, 2**32 - 1), enrollments=st.integers(0, 10**6),
       mean=st.none() | st.floats(0, 1e5, allow_nan=False), median=st.none() | st.floats(0, 1e5, allow_nan=False),
       k=st.sampled_from([5, 7, 11]))
def test_k5_protector_equals_single_value_rules(enr_key, people, other, women, key, enrollments, mean, median, k):
    d = Disclosure(k)
    raw = {"v.people": people, "v.other_people": other, "v.women": women, "v.cell_key": key,
           "v.enrollments": enrollments, "v.enrollments_key": enr_key, "v.mean_days": mean, "v.median_days": median,
           "v.other_mean": 3.0, "v.odd": 9}
    values, withheld = expected(d, raw)
    p = d.protect(raw, RULES)
    assert (p.values, p.suppressed) == (values, withheld)
    assert list(p.values) == [r.name for r in RULES.measures]
    assert d.protector(RULES)(raw) == (values, withheld)

"""Several snapshots at once, as the FAQ counts (issue 14, finding 2): an offender in custody on
several January 1sts "will be in the sample more than once", so People counts records (a person
once per selected snapshot), while the k threshold stays on distinct people — a cell of five
records from one person is still withheld (never weaker than the FAQ's five or more records)."""

from __future__ import annotations

import pytest

from crosstrack.api.cache import ResultCache
from crosstrack.api.compose import build_service
from tests.fixtures_loaders import charge, episode, load, memory_settings, person, write_extract

YEARS = [2019, 2020, 2021, 2022, 2023]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    base = tmp_path_factory.mktemp("records")
    settings = memory_settings(base / "data", years=YEARS)
    people = [person("LONE")] + [person(f"B{i}") for i in range(5)] + [person(f"W{i}") for i in range(8)]
    episodes = [episode("E-LONE", "LONE", "2018-03-01", agency="SUF")]  # one person on five January 1sts
    episodes += [episode(f"E-B{i}", f"B{i}", "2018-03-01", agency="BER") for i in range(5)]  # five, each five times
    # Worcester: eight people, each on one or two snapshots (stays shorter than a year or so)
    for i in range(8):
        y = YEARS[i % 4]
        episodes.append(episode(f"E-W{i}", f"W{i}", f"{y - 1}-12-01", f"{y + (i % 2)}-02-01", agency="WOR"))
    charges = [charge(f"B{i}", f"E-B{i}", no=n) for i in range(5) for n in (1, 2)]  # two charges each
    folder = write_extract(base / "x", people=people, episodes=episodes, charges=charges)
    assert load(settings, folder) == 0
    return build_service(settings, cache=ResultCache(0))


def _truth(service, query):
    v = service.version()
    return service.query_engine.load(query, database=v.database, internal=True).data


def test_people_over_several_snapshots_counts_a_person_once_per_snapshot(service):
    rows = {r["population.agency"]: r for r in _truth(service, {
        "measures": ["population.people", "population.distinct_people"], "dimensions": ["population.agency"]})}
    assert (rows["BER"]["population.people"], rows["BER"]["population.distinct_people"]) == (25, 5)
    assert (rows["SUF"]["population.people"], rows["SUF"]["population.distinct_people"]) == (5, 1)
    assert (rows["WOR"]["population.people"], rows["WOR"]["population.distinct_people"]) == (12, 8)
    per_year = _truth(service, {"measures": ["population.people"], "dimensions": ["population.snapshot_year"]})
    total = _truth(service, {"measures": ["population.people"]})[0]["population.people"]
    assert total == sum(r["population.people"] for r in per_year) == 42
    ch = _truth(service, {"measures": ["charges.people", "charges.distinct_people", "charges.charges"],
                          "dimensions": ["charges.agency"]})
    assert [(r["charges.agency"], r["charges.people"], r["charges.distinct_people"], r["charges.charges"])
            for r in ch] == [("BER", 25, 5, 50)]


def test_five_records_of_one_person_are_withheld(service):
    res = service.answer("population", [("dimensions", "agency"), ("measures", "people,distinct_people")])
    got = {r["agency"]: r for r in res.rows}
    assert got["SUF"]["suppressed"] is True and got["SUF"]["people"] is None  # 5 records, 1 person
    assert got["BER"]["suppressed"] is False
    assert 23 <= got["BER"]["people"] <= 27 and 5 <= got["BER"]["distinct_people"] <= 7
    assert got["WOR"]["suppressed"] is False and got["WOR"]["people"] >= 5


def test_default_measure_and_metadata_say_which_is_which(service):
    ds = service.dataset("population")
    assert ds.people_measure == "people"
    assert "more than once" in ds.measures["people"].description
    assert "distinct" in ds.measures["distinct_people"].description.lower()
    assert service.dataset("programs").people_measure == "record_count"
    assert service.dataset("charges").people_measure == "people"
    from crosstrack.api.app import describe_dataset
    meta = describe_dataset(service, ds, service.version(), {})
    assert meta["default_measures"] == ["people"]
    assert (meta["counting"]["records"], meta["counting"]["distinct_people"]) == ("people", "distinct_people")
    prog = describe_dataset(service, service.dataset("programs"), service.version(), {})
    assert (prog["counting"]["records"], prog["counting"]["distinct_people"]) == ("record_count", "distinct_people")

"""Staging joins on UInt64 hashes of person and episode ids (never stored in facts). A hash that
is not one-to-one on the ids must never merge two people or two placements (R1: each person
counted once per snapshot, with their own placement) nor hide a broken reference: the loader
detects the collision and rehashes with another salt. Forced here with a hash that collides
for every id of the same length."""

from __future__ import annotations

import csv

import crosstrack.loaders.validate as validate
from tests.fixtures_loaders import charge, episode, facts, load, memory_settings, person, program, write_extract


def _extract(tmp_path, name, *, bad_ref: bool = False):
    people = [person(f"P{i}", dob="1980-06-15", sex="M" if i % 2 else "F",
                     gi="Male" if i % 2 else "Female") for i in range(1, 7)]
    episodes = [episode(f"E{i}", f"P{i}", "2022-06-01", status="SENTENCED" if i % 2 else "PRETRIAL",
                        agency="SUF") for i in range(1, 7)]
    charges = [charge(f"P{i}", f"E{i}", docket=f"2201CR00000{i}") for i in range(1, 7) if i % 2]
    charges += [charge(f"P{i}", f"E{i}", docket=f"2201CR00000{i}", disp="PENDING", sentence="")
                for i in range(1, 7) if not i % 2]
    programs = [program(f"P{i}", "2022-07-01") for i in range(1, 4)]
    if bad_ref:
        programs.append(program("P9", "2022-07-01"))  # P9 is not in people.csv: same length as P1..P6
    return write_extract(tmp_path / name, people=people, episodes=episodes, charges=charges, programs=programs)


def _colliding(col: str, salt: int) -> str:
    if salt == 0:  # every id of one length gets the same "hash"
        return f"toUInt64(length({col}))"
    return f"cityHash64({col}, {int(salt)})"


def test_id_hash_collisions_are_detected_and_facts_are_unchanged_r1(tmp_path, monkeypatch):
    """R1: with a colliding id hash the loader rehashes; the published facts equal a normal load's."""
    normal = memory_settings(tmp_path / "n", years=[2023])
    assert load(normal, _extract(tmp_path, "a")) == 0
    expected = facts(normal), facts(normal, "charge_facts")
    monkeypatch.setattr(validate, "id_hash", _colliding)
    forced = memory_settings(tmp_path / "f", years=[2023])
    assert load(forced, _extract(tmp_path, "b")) == 0
    assert (facts(forced), facts(forced, "charge_facts")) == expected
    assert len(expected[0]) == 6 and len({r["person_key"] for r in expected[0]}) == 6


def test_a_missing_reference_is_rejected_even_when_hashes_collide(tmp_path, monkeypatch):
    """A programme row whose person is not in people.csv is rejected (reference.person) although its
    id hashes like a real person's under the colliding hash."""
    monkeypatch.setattr(validate, "id_hash", _colliding)
    settings = memory_settings(tmp_path / "d", years=[2023])
    report = tmp_path / "rejects.csv"
    assert load(settings, _extract(tmp_path, "c", bad_ref=True), rejects_report=report) == 1
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert [(r["file"], r["row"], r["column"], r["code"]) for r in rows] == \
        [("program_enrollments.csv", "4", "person_id", "extract.reference_person")]

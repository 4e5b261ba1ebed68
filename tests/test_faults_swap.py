"""Faults: queries running while a load publishes new versions return rows consistent with the
version they report (contracts: "Readers resolve the current version once per query and read only
that database, so they see the old data or the new, never a mix").

One process, one chDB engine (server mode needs a server): reader threads ask questions through
``api.service.Service.answer`` while a loader thread publishes extract B, then extract A again,
into the same engine. Afterwards every answer is compared with the answer for the version it
reported: the same extract always builds the same facts, so the reference rows of a version are
those of its extract.
"""

from __future__ import annotations

import threading
import time

import pytest
from rich.console import Console

from crosstrack.config import load_settings

YEARS = [2023, 2024]
QUESTIONS = [
    ("population", [("dimensions", "race,offender_status")]),
    ("custody", [("dimensions", "agency")]),
    ("incarceration_time", [("dimensions", "age_group"), ("measures", "mean_days,median_days")]),
    ("charges", [("dimensions", "offense_type")]),
    ("population", [("dimensions", "snapshot_year,assigned_sex")]),
]


@pytest.mark.slow
def test_answers_during_swaps_match_their_reported_version(tmp_path):
    """Faults/atomic publish: every answer given during two publishes matches, row for row, the
    answer of the version it reports; both old and new versions were seen while loading."""
    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.pipeline import run_load
    from crosstrack.loaders.publish import published_versions

    settings = load_settings(clickhouse_url="chdb://memory", data_dir=tmp_path, database="hf_swap",
                             person_key_secret="swap-secret", snapshot_years=YEARS)
    a, b = tmp_path / "a", tmp_path / "b"
    generate_extracts(a, seed=31, scale=0.03, years=YEARS)
    generate_extracts(b, seed=32, scale=0.03, years=YEARS)
    quiet = Console(stderr=True, quiet=True)
    assert run_load(settings, a, console=quiet) == 0
    service = build_service(settings, cache=ResultCache(0))  # every answer computed
    extract_of = {service.version().version_id: "a"}

    answers: list[tuple[str, int, list]] = []  # (version, question index, rows)
    errors: list[str] = []
    loading = threading.Event()
    loading.set()

    def reader(offset: int) -> None:
        i = offset
        while loading.is_set() or i < offset + len(QUESTIONS):
            qi = i % len(QUESTIONS)
            name, params = QUESTIONS[qi]
            try:
                res = service.answer(name, params + [("limit", "10000")])
                answers.append((res.version.version_id, qi, res.rows))
            except Exception as err:  # noqa: BLE001 - any failure during a swap is a finding
                errors.append(f"{type(err).__name__}: {str(err)[:200]}")
            i += 1

    def loader() -> None:
        try:
            for folder, tag in ((b, "b"), (a, "a")):
                code = run_load(settings, folder, console=quiet)
                assert code == 0
                extract_of[published_versions(service.engine, settings)[0].version_id] = tag
                time.sleep(0.2)  # let readers ask the new version before the next swap
        finally:
            loading.clear()

    readers = [threading.Thread(target=reader, args=(k,)) for k in range(3)]
    for t in readers:
        t.start()
    load_thread = threading.Thread(target=loader)
    load_thread.start()
    load_thread.join(timeout=600)
    for t in readers:
        t.join(timeout=600)
    assert not errors, errors[:5]
    assert len(extract_of) == 3, extract_of

    # references: the answer of each extract, from the newest version built from it
    versions = {v.version_id: v for v in published_versions(service.engine, settings)}
    from crosstrack.api.service import DataVersion

    reference: dict[tuple[str, int], list] = {}
    for vid, tag in extract_of.items():
        if vid not in versions or any(t == tag and k in versions and int(k[1:]) > int(vid[1:])
                                      for k, t in extract_of.items()):
            continue
        v = versions[vid]
        dv = DataVersion(v.version_id, v.database, v.loaded_at)
        for qi, (name, params) in enumerate(QUESTIONS):
            reference[(tag, qi)] = service.answer(name, params + [("limit", "10000")], version=dv).rows
    assert reference[("a", 0)] != reference[("b", 0)], "the two extracts must give different answers"

    seen = {}
    for vid, qi, rows in answers:
        assert vid in extract_of, f"an answer reported an unknown version {vid}"
        tag = extract_of[vid]
        assert rows == reference[(tag, qi)], f"answer reported {vid} but its rows are not {vid}'s"
        seen[vid] = seen.get(vid, 0) + 1
    print(f"swap: {len(answers)} answers during 2 publishes, per version {seen}")
    assert len(seen) >= 2, f"the readers never saw a swap: {seen}"

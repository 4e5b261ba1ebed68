"""Atomic publish (contracts.md "Published data"): versions, history, cleanup and publish hooks.
A load killed with SIGKILL at random moments is tests/test_faults_kill.py's subject (every
published row fingerprinted after each kill)."""

from __future__ import annotations

import pytest

from crosstrack.engine import Engine
from crosstrack.loaders.publish import current_version, published_versions
from tests.fixtures_loaders import episode, load, memory_settings, person, write_extract


def test_each_load_publishes_a_new_version_and_keeps_two(tmp_path):
    """Each load builds <db>_v<N>; load_history points at the newest; after each publish,
    retention keeps the CROSSTRACK_KEEP_VERSIONS newest (here 2; 5 by default)."""
    settings = memory_settings(tmp_path / "d").model_copy(update={"keep_versions": 2})
    folder = write_extract(tmp_path / "x", people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")])
    engine = Engine.from_settings(settings)
    for _ in range(4):
        assert load(settings, folder) == 0
    versions = published_versions(engine, settings)
    assert [v.version_id for v in versions] == ["v4", "v3", "v2", "v1"]
    cur = current_version(engine, settings)
    assert cur.database == f"{settings.database}_v4" and cur.row_counts == {"custody_facts": 1, "charge_facts": 0, "release_facts": 0}
    assert set(cur.source_checksums) == {"people.csv", "custody_episodes.csv", "charges.csv", "program_enrollments.csv"}
    dbs = {n for (n,) in engine.query("SELECT name FROM system.databases").rows if n.startswith(settings.database + "_")}
    assert dbs == {f"{settings.database}_v{i}" for i in (3, 4)}
    default = memory_settings(tmp_path / "e")
    for _ in range(3):
        assert load(default, folder) == 0
    dbs = {n for (n,) in engine.query("SELECT name FROM system.databases").rows if n.startswith(default.database + "_")}
    assert dbs == {f"{default.database}_v{i}" for i in (1, 2, 3)}, "the default keeps five"


def test_failed_check_publishes_nothing(tmp_path):
    """A snapshot with nobody in custody fails the publish check; nothing is published."""
    settings = memory_settings(tmp_path / "d", years=[2022, 2023])
    folder = write_extract(tmp_path / "x", people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")])
    assert load(settings, folder) == 3
    assert current_version(Engine.from_settings(settings), settings) is None


def test_before_publish_hooks_run_on_the_new_database_and_can_veto(tmp_path):
    settings = memory_settings(tmp_path / "d")
    folder = write_extract(tmp_path / "x", people=[person("P1")], episodes=[episode("E1", "P1", "2022-06-01")])
    seen = []
    assert load(settings, folder, before_publish=[lambda engine, db: seen.append(db)]) == 0
    assert seen == [f"{settings.database}_v1"]

    def boom(engine, db):
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError):
        load(settings, folder, before_publish=[boom])
    assert current_version(Engine.from_settings(settings), settings).version_id == "v1"

"""Atomic publish (contracts.md "Published data"): versions, history, cleanup, and a load
killed with SIGKILL at several moments leaves the published version exactly as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crosstrack.engine import Engine
from crosstrack.loaders.generate import generate_extracts
from crosstrack.loaders.publish import current_version, published_versions
from tests.fixtures_loaders import episode, load, memory_settings, person, write_extract

ROOT = Path(__file__).resolve().parent.parent


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


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CROSSTRACK_CLICKHOUSE_URL=f"chdb://{(tmp / 'chdb').as_posix()}", CROSSTRACK_DATA_DIR=str(tmp / "data"),
               CROSSTRACK_PERSON_KEY_SECRET="kill-test", CROSSTRACK_DATABASE="killdb",
               CROSSTRACK_SNAPSHOT_YEARS="2017-2024", PYTHONPATH=str(ROOT))
    return env


CHECK = ("import json; from crosstrack.config import get_settings; from crosstrack.engine import Engine; "
         "from loaders.publish import current_version; s = get_settings(); e = Engine.from_settings(s); "
         "v = current_version(e, s); "
         "print(json.dumps(None if v is None else {'version': v.version_id, 'db': v.database, 'counts': v.row_counts, "
         "'actual': {t: e.scalar(f'SELECT count() FROM `{v.database}`.`{t}`') for t in v.row_counts}}))")


def _published(tmp: Path) -> dict | None:
    out = subprocess.run([sys.executable, "-c", CHECK], env=_env(tmp), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _load_cmd(folder: Path) -> list[str]:
    return [sys.executable, "-m", "crosstrack", "load", str(folder)]


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_the_published_version_unchanged(tmp_path):
    """Atomic publish: SIGKILL a load subprocess at several points; the published version and its row counts stay."""
    small, big = tmp_path / "small", tmp_path / "big"
    generate_extracts(small, seed=3, scale=0.05, years=list(range(2017, 2025)))
    generate_extracts(big, seed=4, scale=0.2, years=list(range(2017, 2025)))
    first = subprocess.run(_load_cmd(small), env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _published(tmp_path)
    assert before["version"] == "v1" and before["counts"] == before["actual"]
    # interpreter start and engine open, staging, validation, the fact build, the publish (a load
    # of this extract takes about 2.5 s here; a kill that comes after it is checked as a publish)
    killed_mid_load = 0
    for delay in (0.3, 0.9, 1.5, 2.1, 3.0):
        proc = subprocess.Popen(_load_cmd(big), env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        now = _published(tmp_path)
        # the load beat the kill if it exited, or if its publish row landed and only the exit
        # (summary, engine shutdown) was still running: either way it must have published completely
        finished = finished or (now is not None and before is not None and now["version"] != before["version"])
        if finished:  # the load beat the kill: it must have published completely
            assert now["counts"] == now["actual"]
            before = now
            continue
        assert now == before, f"killed after {delay}s, the published version changed"
        killed_mid_load += 1
    assert killed_mid_load >= 2, "too few loads were killed before they finished: the test checked nothing"
    # the next load drops what killed loads left behind and publishes normally
    done = subprocess.run(_load_cmd(small), env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    after = _published(tmp_path)
    assert after["version"] != before["version"] and after["counts"] == after["actual"]

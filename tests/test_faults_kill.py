"""Faults: a `crosstrack load` killed with SIGKILL at random moments leaves the published data
and its version exactly as they were (contracts: "a killed load leaves an unreferenced
database; the next load drops it"; issue 10: loads killed at random points lose nothing).

Everything runs in subprocesses on one on-disk chDB path (chDB belongs to one process): a
first load publishes v1; then loads of a different extract are killed at random delays spread
over a full load's duration, and after each kill a fresh process checks the published version,
its row counts and a hash of every published row. A final load must succeed and clean up.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

KILLS = 6
SEED = 20260101  # the delays are random but reproducible; the seed is in the failure message

CHECK = r"""
import json
from crosstrack.config import get_settings
from crosstrack.engine import Engine
from crosstrack.loaders.publish import current_version, published_versions
s = get_settings()
e = Engine.from_settings(s)
v = current_version(e, s)
out = {"version": None}
if v is not None:
    fp = {}
    for t in ("custody_facts", "charge_facts", "release_facts"):  # every fact table of a version
        n, h = e.query(f"SELECT count(), groupBitXor(cityHash64(*)) FROM `{v.database}`.`{t}`").rows[0]
        fp[t] = [int(n), str(h)]
    out = {"version": v.version_id, "database": v.database, "row_counts": v.row_counts, "fingerprint": fp,
           "versions": [x.version_id for x in published_versions(e, s)],
           "databases": sorted(n for (n,) in e.query("SELECT name FROM system.databases").rows
                               if n.startswith(s.database))}
print("RESULT " + json.dumps(out))
"""


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSTRACK_")}
    env.update(CROSSTRACK_DATA_DIR=str(root), CROSSTRACK_CLICKHOUSE_URL=f"chdb://{root / 'chdb'}",
               CROSSTRACK_PERSON_KEY_SECRET="kill-test-secret", CROSSTRACK_SNAPSHOT_YEARS="2022-2024",
               CROSSTRACK_DATABASE="killtest", CROSSTRACK_KEEP_VERSIONS="2")
    return env


def _check(root: Path) -> dict:
    p = subprocess.run([sys.executable, "-c", CHECK], env=_env(root), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"checker failed after a killed load: {p.stderr[-2000:]}"
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _load_cmd(folder: Path) -> list[str]:
    return [sys.executable, "-m", "crosstrack", "load", str(folder)]


@pytest.mark.slow
def test_sigkilled_loads_lose_nothing(tmp_path):
    """Faults/atomic publish: SIGKILL at random points of a load never changes the published
    version, its row counts or any published row; the next load succeeds and drops leftovers."""
    from crosstrack.loaders.generate import generate_extracts

    root = tmp_path
    years = [2022, 2023, 2024]
    generate_extracts(root / "a", seed=21, scale=0.05, years=years)
    generate_extracts(root / "b", seed=22, scale=0.05, years=years)
    env = _env(root)

    first = subprocess.run(_load_cmd(root / "a"), env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    published = _check(root)
    assert published["version"] == "v1"
    first_fp = published["fingerprint"]
    assert published["row_counts"] == {t: n for t, (n, _) in published["fingerprint"].items()}

    # How long a full load of the second extract takes, so kills land across all of it.
    t0 = time.monotonic()
    timing = subprocess.Popen(_load_cmd(root / "b"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    timing.wait(timeout=300)
    duration = time.monotonic() - t0
    assert timing.returncode == 0
    published = _check(root)
    assert published["version"] == "v2"

    # Loading the same extract always builds the same facts, so a publish is checked whole.
    expected = {"b": published["fingerprint"], "a": first_fp}
    rng = random.Random(SEED)
    killed = completed = 0
    log = []
    for i in range(KILLS):
        # spread over the whole run: interpreter start, engine open, staging, validation, facts, publish
        delay = rng.uniform(0.05, duration) if i else duration * 0.97
        which = "a" if i % 2 else "b"
        proc = subprocess.Popen(_load_cmd(root / which), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        was_running = proc.poll() is None
        if was_running:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            killed += 1
        else:
            assert proc.returncode == 0, (SEED, log)
            completed += 1
        after = _check(root)
        log.append((round(delay, 2), "killed" if was_running else "completed", after["version"]))
        if after["version"] == published["version"]:
            # killed before its publish: the old version, every row of it, untouched
            assert was_running, (SEED, log)
            assert after["fingerprint"] == published["fingerprint"], (SEED, log)
            assert after["row_counts"] == published["row_counts"], (SEED, log)
            assert after["versions"] == published["versions"], (SEED, log)
        else:
            # published (perhaps killed after the one-row publish, while cleaning up): the new
            # version must be complete, exactly what a whole load of that extract builds
            assert after["fingerprint"] == expected[which], (SEED, log)
            assert after["row_counts"] == {t: n for t, (n, _) in after["fingerprint"].items()}, (SEED, log)
            assert after["versions"][1:] == published["versions"][:len(after["versions"]) - 1], (SEED, log)
            published = after
    assert killed >= KILLS // 2, f"too few loads were actually killed mid-run: {log}"

    final = subprocess.run(_load_cmd(root / "a"), env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    end = _check(root)
    assert end["version"] != published["version"]
    assert end["row_counts"] == {t: n for t, (n, _) in end["fingerprint"].items()}
    # killed loads' staging and unpublished databases are gone; what remains is published
    # (retention after this load keeps CROSSTRACK_KEEP_VERSIONS=2: the one it published and one before)
    assert len([d for d in end["databases"] if "_stage_" in d]) == 0, end["databases"]
    version_dbs = [d for d in end["databases"] if "_v" in d]
    published_dbs = {f"killtest_{v}" for v in end["versions"]}
    assert set(version_dbs) <= published_dbs, (version_dbs, end["versions"])
    assert len(version_dbs) <= 2, end["databases"]
    print(f"kill log (seed {SEED}, full load {duration:.2f}s): {log}")

"""Issue 16, clear operator messages, through the real ``crosstrack`` command in subprocesses:

* a taken port names the port and its variable (was a 51-line traceback naming neither);
* a load or a versions listing that finds the data directory held says a server holds it and
  how to publish through it (was ``ClickHouse at chdb (embedded) is unavailable: ProgrammingError``);
* a header-only table file warns and refuses the load unless ``--allow-empty TABLE`` (was: zero
  enrollments published without a word).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures_api import free_port


def _env(data_dir: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSTRACK_")}
    env.update(CROSSTRACK_DATA_DIR=str(data_dir), CROSSTRACK_PERSON_KEY_SECRET="ops-secret",
               CROSSTRACK_SNAPSHOT_YEARS="2023-2024", COLUMNS="200", **extra)
    return env


def _cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crosstrack", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    from crosstrack.loaders.generate import generate_extracts

    out = tmp_path_factory.mktemp("ops") / "extract"
    generate_extracts(out, seed=31, scale=0.03, fmt="csv", years=[2023, 2024])
    return out


@pytest.mark.parametrize("which", ["http", "sql"])
def test_a_taken_port_names_the_port_and_its_variable(tmp_path, which):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    ports = {"CROSSTRACK_PORT": str(taken if which == "http" else free_port()),
             "CROSSTRACK_PG_PORT": str(taken if which == "sql" else free_port())}
    try:
        run = _cli(_env(tmp_path / "data", **ports), "serve")
    finally:
        holder.close()
    variable = "CROSSTRACK_PORT" if which == "http" else "CROSSTRACK_PG_PORT"
    text = " ".join(run.stderr.split())
    assert run.returncode == 2, run.stderr[-2000:]
    assert f"port {taken} on 127.0.0.1 is already in use ({variable}={taken})" in text, text
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) <= 6, run.stderr


def test_a_held_data_dir_says_a_server_holds_it_and_how_to_publish(tmp_path, extract):
    data = tmp_path / "data"
    env = _env(data)
    # Something holds the embedded engine's directory without taking loads (an older server, a
    # load in progress): the real chDB lock, taken by another process.
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom crosstrack.engine import Engine\n"
                               f"engine = Engine('chdb://{(data / 'chdb').resolve()}')\nengine.command('CREATE DATABASE held')\n"
                               "print('held', flush=True)\n"
                               "time.sleep(120)"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for args, what in ((("load", str(extract)), "load"), (("versions",), "versions listing")):
            run = _cli(env, *args)
            text = " ".join(run.stderr.split())
            assert run.returncode == 3, run.stderr[-2000:]
            assert f"held by a running crosstrack server (pid {holder.pid})" in text, text
            assert f"this {what} cannot open it" in text and "Publish through the server" in text
            assert str((data / "control.sock").resolve()) in text
            assert "ProgrammingError" not in text
    finally:
        holder.kill()
        holder.wait()


def test_an_empty_table_file_warns_and_refuses_unless_allowed(tmp_path, extract):
    folder = tmp_path / "extract"
    folder.mkdir()
    for f in extract.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    header = (folder / "program_enrollments.csv").read_text().splitlines()[0]
    (folder / "program_enrollments.csv").write_text(header + "\n")
    env = _env(tmp_path / "data")
    run = _cli(env, "load", str(folder))
    text = " ".join(run.stderr.split())
    assert run.returncode == 2, run.stderr[-2000:]
    assert "program_enrollments.csv has a header and no rows" in text
    assert "--allow-empty program_enrollments" in text and "nothing published" in text
    assert "no data has been published yet" in " ".join(_cli(env, "versions").stdout.split())
    run = _cli(env, "load", str(folder), "--allow-empty", "program_enrollments")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "program_enrollments.csv has no rows; published as zero" in " ".join(run.stderr.split())
    bad = _cli(env, "load", str(folder), "--allow-empty", "enrolments")
    assert bad.returncode == 2 and "enrolments: not a table" in " ".join(bad.stderr.split())


def test_versions_and_rollback_without_a_server(tmp_path, extract):
    """The same commands work on the engine directly when no server holds it."""
    env = _env(tmp_path / "data")
    assert _cli(env, "load", str(extract)).returncode == 0
    assert _cli(env, "load", str(extract)).returncode == 0
    listed = " ".join(_cli(env, "versions").stdout.split())
    assert "v2" in listed and "published" in listed and "v1" in listed and "kept" in listed
    back = _cli(env, "rollback")
    assert back.returncode == 0 and "published v1 again" in " ".join(back.stderr.split()), back.stderr[-1000:]

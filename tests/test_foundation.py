"""Foundation: settings, the engine client on real chDB, the CLI and docker-compose."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crosstrack.config import SettingsError, load_settings
from crosstrack.engine import Engine, EngineUnavailable, QueryLimitExceeded, query_limits

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "crosstrack"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSTRACK_")}
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("k", 4, "CROSSTRACK_K"),
        ("snapshot_years", "2024-2017", "CROSSTRACK_SNAPSHOT_YEARS"),
        ("snapshot_years", "twenty", "CROSSTRACK_SNAPSHOT_YEARS"),
        ("clickhouse_url", "mysql://x", "CROSSTRACK_CLICKHOUSE_URL"),
        ("port", 70000, "CROSSTRACK_PORT"),
    ],
)
def test_bad_setting_names_the_variable_and_form(name, value, expected):
    with pytest.raises(SettingsError) as err:
        load_settings(**{name: value})
    assert expected in str(err.value)
    assert "allowed" in str(err.value)


def test_k_can_only_be_raised_p1():
    assert load_settings(k=7).k == 7
    with pytest.raises(SettingsError, match="never lowered"):
        load_settings(k=2)


def test_snapshot_years_default_and_forms_r1():
    assert load_settings().snapshot_years == list(range(2017, 2025))
    assert load_settings(snapshot_years="2017-2019,2024").snapshot_years == [2017, 2018, 2019, 2024]


def test_embedded_engine_refuses_several_workers():
    with pytest.raises(SettingsError, match="CROSSTRACK_WORKERS"):
        load_settings(workers=4)
    assert load_settings(workers=4, clickhouse_url="http://ch:8123").workers == 4


def test_default_engine_is_embedded_under_data_dir(tmp_path):
    s = load_settings(data_dir=tmp_path)
    assert s.engine_url == f"chdb://{tmp_path.resolve()}/chdb"
    assert s.is_embedded


def test_secret_is_generated_once_and_kept(tmp_path):
    s = load_settings(data_dir=tmp_path)
    first = s.secret_bytes()
    assert len(first) == 64 and s.secret_bytes() == first
    assert (tmp_path / "person_key.secret").stat().st_mode & 0o077 == 0


def test_engine_runs_real_queries_on_chdb():
    engine = Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))
    assert engine is Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))
    rows = engine.query("SELECT number AS n, number * 2 AS twice FROM numbers(3)")
    assert rows.columns == ("n", "twice")
    assert rows.rows == [(0, 0), (1, 2), (2, 4)]
    assert engine.query("SELECT {x:UInt32} + 1", parameters={"x": 41}).rows == [(42,)]


def test_engine_limits_raise_a_clear_error():
    s = load_settings(clickhouse_url="chdb://memory", query_timeout_s=0.2)
    engine = Engine.from_settings(s)
    with pytest.raises(QueryLimitExceeded, match="time limit"):
        engine.query("SELECT sleep(1)", settings=query_limits(s))
    s = load_settings(clickhouse_url="chdb://memory", query_max_result_rows=10)
    with pytest.raises(QueryLimitExceeded, match="rows"):
        engine.query("SELECT number FROM numbers(1000)", settings=query_limits(s))


def test_server_engine_unreachable_is_unavailable():
    from socket import socket

    with socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EngineUnavailable) as err:
        Engine(f"http://127.0.0.1:{port}").query("SELECT 1")
    assert "unavailable" in str(err.value)


def test_cli_help_lists_every_command():
    out = subprocess.run([*CLI, "--help"], capture_output=True, text=True, env=_env(COLUMNS="120"), check=True).stdout
    for command in ("generate", "load", "model", "serve", "sql", "demo"):
        assert command in out
    for command in (["generate"], ["load"], ["model", "validate"], ["serve"], ["demo"]):
        sub = subprocess.run([*CLI, *command, "--help"], capture_output=True, text=True, env=_env(COLUMNS="120"))
        assert sub.returncode == 0, sub.stderr
        assert "Usage" in sub.stdout


def test_cli_bad_setting_fails_at_start_with_the_variable():
    res = subprocess.run([*CLI, "model", "validate"], capture_output=True, text=True,
                         env=_env(CROSSTRACK_K="1", COLUMNS="200"))
    assert res.returncode == 2
    assert "CROSSTRACK_K" in res.stderr


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_api_points_at_clickhouse_service():
    compose = _compose()
    services = compose["services"]
    assert "clickhouse" in services and "healthcheck" in services["clickhouse"]
    assert any("/var/lib/clickhouse" in v for v in services["clickhouse"]["volumes"])
    api = services["api"]
    assert api["environment"]["CROSSTRACK_CLICKHOUSE_URL"] == "http://clickhouse:8123"
    assert api["depends_on"]["clickhouse"]["condition"] == "service_healthy"
    assert int(api["environment"]["CROSSTRACK_WORKERS"]) > 1  # a server lifts the one-process rule


def test_compose_file_is_accepted_by_docker_compose():
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is installed by scripts/test.sh"
    for extra in ([], ["--profile", "cluster"]):
        res = subprocess.run([tool, "-f", str(ROOT / "docker-compose.yml"), *extra, "config", "-q"],
                             capture_output=True, text=True, env=_env())
        assert res.returncode == 0, res.stderr


def test_readme_documents_every_setting():
    from crosstrack.config import Settings

    readme = (ROOT / "README.md").read_text()
    missing = [f"CROSSTRACK_{name.upper()}" for name in Settings.model_fields
               if f"| `CROSSTRACK_{name.upper()}` |" not in readme]  # a row of the configuration table
    assert not missing, f"README's configuration table lacks {missing}"

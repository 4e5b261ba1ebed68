"""One problem shape on every surface (issue 17), as datasette's error-shape test does: each case
asks a real surface — the ``crosstrack`` CLI in a subprocess, the live HTTP server (URL API and
Cube's endpoint), psycopg against the real Postgres-wire server — and checks that what it shows
is the code, loc and message of the ``crosstrack.problem.Problem`` the layer raised, rendered
the surface's way: a ``file:line: error[code] path: message`` line, the JSON envelope, Cube's
``{"error": message, code, loc}``, an ErrorResponse with a SQLSTATE, ``error[code] loc`` in
``detail`` and the parameter in ``column_name``. Cases: a bad model line, a bad extract row, a
bad query, a bad URL parameter, a bad SQL statement and an engine that is down.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest

from fixtures_loaders import charge, episode, person, program, write_extract

from crosstrack.api.errors import ApiError
from crosstrack.api.pgwire.errors import PgError, sqlstate_for
from crosstrack.config import load_settings
from crosstrack.cube.loader import collect
from crosstrack.loaders.extract import Reject
from crosstrack.problem import FAMILIES, Problem, path_text

ROOT = Path(__file__).resolve().parents[1]


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSTRACK_")}
    env.update(CROSSTRACK_DATA_DIR=str(data_dir), CROSSTRACK_PERSON_KEY_SECRET="shape-secret",
               CROSSTRACK_SNAPSHOT_YEARS="2023", COLUMNS="200")
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crosstrack", *args], env=env, capture_output=True, text=True,
                          timeout=180, cwd=ROOT)


def _triple(p: Problem) -> tuple[str, list, str]:
    return p.code, list(p.loc), p.message


def _dotted(code: str) -> None:
    family, _, reason = code.partition(".")
    assert family in FAMILIES and reason and reason.replace("_", "").isalnum(), code


def test_problem_is_code_loc_message_allowed():
    """The shape itself: a code from one dotted namespace (anything else is refused), a loc tuple,
    a message and allowed values; its JSON form and its CLI line carry exactly those."""
    p = Problem("param.unknown_value", "'Z' is not a code of race.", ("query", "race"), ["W", "B"])
    assert p.as_dict() == {"code": "param.unknown_value", "loc": ["query", "race"],
                           "message": "'Z' is not a code of race.", "allowed": ["W", "B"]}
    assert p.cli_line() == "error[param.unknown_value] query.race: 'Z' is not a code of race."
    row = Problem("extract.format_date", "not a valid date", ("people.csv", 17, "date_of_birth"))
    assert row.cli_line() == "people.csv:17: error[extract.format_date] date_of_birth: not a valid date"
    for bad in ("unknown_code", "api.unknown_code", "param."):
        with pytest.raises(ValueError):
            Problem(bad, "x")
    from crosstrack.api.errors import parameter_loc

    assert [parameter_loc(n) for n in ("race", "query.measures", "dataset", "headers", None)] == \
        [("query", "race"), ("query", "measures"), ("path", "dataset"), ("headers",), ()]


# --- the CLI -------------------------------------------------------------------------------------
def test_bad_model_line_on_the_model_cli(tmp_path):
    """``crosstrack model validate`` prints each model problem as file:line:col: error[model.x]
    path: message — the problem's loc (file, line, col, then the YAML keys, list positions as
    numbers) and message, exactly as the loader collected them."""
    bad = "tests/models_invalid/unknown_keys.yml"
    _, problems = collect(ROOT / bad)
    assert problems
    run = _cli(_env(tmp_path), "model", "validate", str(ROOT / bad))
    assert run.returncode == 1, run.stderr
    lines = run.stderr.splitlines()
    for p in problems:
        _dotted(p.code)
        file, line, col, *keys = p.loc
        assert isinstance(line, int) and isinstance(col, int) and keys, p.loc
        assert any(isinstance(k, int) for k in keys) or len(keys) == 1, p.loc  # list positions are numbers
        expected = f"{file}:{line}:{col}: error[{p.code}] {p.path}: {p.message}"
        assert expected in lines, (expected, lines)
    typo = next(p for p in problems if p.code == "model.unknown_key" and p.loc[-1] == "titel")
    assert typo.loc[3:] == ("cubes", 0, "measures", 0, "titel"), typo.loc


def test_bad_model_stops_the_load_cli_with_the_same_lines(tmp_path):
    """``crosstrack load`` checks the model first: a broken model prints the same problem lines
    (error[model.x] intact, not eaten as console markup) and loads nothing (exit 4)."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "unknown_keys.yml").write_text((ROOT / "tests/models_invalid/unknown_keys.yml").read_text())
    _, problems = collect(models)
    env = {**_env(tmp_path / "data"), "CROSSTRACK_MODELS_DIR": str(models)}
    run = _cli(env, "load", str(tmp_path / "no-extract-needed"))
    assert run.returncode == 4, run.stderr[-2000:]
    lines = run.stderr.splitlines()
    for p in problems:
        assert p.cli_line().split(": ", 1)[1] in "\n".join(lines), (p.cli_line(), lines)
        assert f"error[{p.code}]" in run.stderr


def test_bad_extract_row_on_the_load_cli(tmp_path):
    """``crosstrack load`` on an extract with one impossible birth date: the CLI line and the rejects
    report carry the same code (extract.format_date), loc (file, row, column) and message, and
    neither shows the value or the person's id."""
    folder = write_extract(
        tmp_path / "bad",
        people=[person("SID000000001", dob="1980-02-30"), person("SID000000002", dob="1975-02-02")],
        episodes=[episode("E1", "SID000000001", "2022-06-01"), episode("E2", "SID000000002", "2022-09-01")],
        charges=[charge("SID000000001", "E1", docket="2201CR123456")],
        programs=[program("SID000000001", "2022-07-01")])
    report = tmp_path / "rejects.csv"
    run = _cli(_env(tmp_path / "data"), "load", str(folder), "--rejects-report", str(report))
    assert run.returncode == 1, run.stderr[-2000:]
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    row = next(r for r in rows if r["file"] == "people.csv" and r["column"] == "date_of_birth")
    problem = Reject(row["file"], int(row["row"]), row["column"], "format.date", row["message"])
    assert row["code"] == problem.code == "extract.format_date"
    assert problem.loc == ("people.csv", 1, "date_of_birth")
    assert f"people.csv:1: error[extract.format_date] date_of_birth: {row['message']}" == problem.cli_line()
    assert problem.cli_line() in run.stderr.splitlines(), run.stderr[-2000:]
    for secret in ("1980-02-30", "SID000000001"):
        assert secret not in run.stderr and secret not in report.read_text()


# --- HTTP: the URL API and Cube's endpoint -------------------------------------------------------
def _envelope(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"status", "code", "loc", "parameter", "message", "allowed"}, err
    assert err["status"] == status
    _dotted(err["code"])
    return err


def _cube(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    body = r.json()
    assert set(body) == {"error", "code", "loc", "parameter", "allowed", "status"}, body
    assert isinstance(body["error"], str), "Cube's clients need error to be the message string"
    _dotted(body["code"])
    return body


def test_bad_url_parameter_on_the_url_api(api_live):
    """An unknown code of a dimension: param.unknown_value at ("query", "race"), the message, the
    allowed codes — the problem the service raises for the same parameters, in the envelope."""
    with pytest.raises(ApiError) as raised:
        api_live.service.answer("population", {"dimensions": "race", "race": "Z"})
    want = raised.value.problem
    assert want.code == "param.unknown_value" and want.loc == ("query", "race")
    err = _envelope(api_live.get("/api/v1/population", params={"dimensions": "race", "race": "Z"}), 400)
    assert (err["code"], err["loc"], err["message"]) == _triple(want)
    assert err["allowed"] == list(want.allowed) and err["parameter"] == "race"


def test_bad_query_on_the_cube_endpoint_and_the_url_api(api_live):
    """An unknown member: Cube's endpoint (GET and POST) shows query.unknown_member at
    ("query", "measures") with the message as its error string; the URL API's unknown measure is
    param.unknown_measure at ("query", "measures"). Each is the problem raised in-process."""
    from crosstrack.api.cube_compat import to_question

    query = {"measures": ["population.colour"]}
    with pytest.raises(ApiError) as raised:
        to_question(api_live.service, query)
    want = raised.value.problem
    assert want.code == "query.unknown_member" and want.loc == ("query", "measures")
    for r in (api_live.get("/cubejs-api/v1/load?query=" + quote(json.dumps(query))),
              api_live.client.post("/cubejs-api/v1/load", json={"query": query})):
        body = _cube(r, 400)
        assert (body["code"], body["loc"], body["error"]) == _triple(want)
        assert body["allowed"] == list(want.allowed)

    with pytest.raises(ApiError) as raised:
        api_live.service.answer("population", {"measures": "colour"})
    url_want = raised.value.problem
    err = _envelope(api_live.get("/api/v1/population", params={"measures": "colour"}), 400)
    assert (err["code"], err["loc"], err["message"]) == _triple(url_want)
    assert url_want.code == "param.unknown_measure" and url_want.loc == ("query", "measures")


# --- the SQL surface -------------------------------------------------------------------------------
def _pg_error(sql_live, sql: str) -> psycopg.Error:
    with psycopg.connect(host=sql_live.host, port=sql_live.port, dbname="crosstrack", user="shape",
                         autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(sql)
    return raised.value


def _session(sql_live):
    from crosstrack.api.pgwire.session import SqlSession, SqlSurface

    return SqlSession(SqlSurface(sql_live.api.settings, sql_live.api.service), {"user": "shape"})


@pytest.mark.parametrize("sql,code,loc", [
    ("SELECT colour, MEASURE(people) FROM population GROUP BY 1", "sql.unknown_column",
     ("sql", "population", "colour")),
    ("SELEC race FROM population", "sql.syntax_error", ("sql",)),
    ("DELETE FROM population", "sql.read_only", ("sql",)),
])
def test_bad_sql_statement_over_pgwire(sql_live, sql, code, loc):
    """psycopg sees the problem the session raised: the SQLSTATE of its code, the message as the
    primary message, ``error[code] loc`` as the detail, the column at fault as column_name."""
    with pytest.raises(PgError) as raised:
        _session(sql_live).run_simple(sql)
    want = raised.value
    assert (want.code, want.loc) == (code, loc)
    err = _pg_error(sql_live, sql)
    assert err.sqlstate == sqlstate_for(code) == want.sqlstate
    assert err.diag.message_primary == want.message
    assert err.diag.message_detail == f"error[{code}] {path_text(loc)}"
    assert err.diag.column_name == (loc[-1] if code == "sql.unknown_column" else None)


def test_api_problem_over_pgwire_url_api_and_cube(sql_live):
    """One problem, three surfaces: an unknown data version is data.unknown_version at
    ("query", "data_version") with the same message on the URL API, Cube's endpoint and the SQL
    surface (SET crosstrack.data_version), whose column_name is the parameter."""
    api = sql_live.api
    with pytest.raises(ApiError) as raised:
        api.service.version_for("v999")
    want = raised.value.problem
    assert want.code == "data.unknown_version" and want.loc == ("query", "data_version")
    err = _envelope(api.get("/api/v1/population", params={"data_version": "v999"}), 404)
    assert (err["code"], err["loc"], err["message"]) == _triple(want)
    query = quote(json.dumps({"measures": ["population.people"]}))
    body = _cube(api.get(f"/cubejs-api/v1/load?query={query}&data_version=v999"), 404)
    assert (body["code"], body["loc"], body["error"]) == _triple(want)
    pg = _pg_error(sql_live, "SET crosstrack.data_version = 'v999'")
    assert pg.sqlstate == "22023" and pg.diag.message_primary == want.message
    assert pg.diag.message_detail == "error[data.unknown_version] query.data_version"
    assert pg.diag.column_name == "data_version"
    assert pg.diag.message_hint == ("allowed: " + ", ".join(want.allowed) if want.allowed else None)


# --- the engine ------------------------------------------------------------------------------------
def test_engine_down_on_every_surface(tmp_path, serve_asgi):
    """The engine unreachable (a closed port): engine.unavailable with the same message and an empty
    loc on the URL API (503), Cube's endpoint (503) and the SQL surface (57P03) — mapped once, in
    api.errors.from_engine_error, and never naming the engine's address."""
    import crosstrack.api.service as service_mod
    from crosstrack.api.app import create_app
    from crosstrack.api.errors import from_engine_error
    from crosstrack.api.pgwire.server import start_sql_server
    from crosstrack.api.compose import build_service
    from crosstrack.engine import EngineUnavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = load_settings(clickhouse_url=f"http://127.0.0.1:{port}", data_dir=tmp_path, database="down")
    previous = service_mod._default
    service = build_service(settings)
    srv = serve_asgi(create_app(settings, service=service))
    service_mod._default = previous  # do not leave a dead service as the process default
    want = from_engine_error(EngineUnavailable("ClickHouse at 127.0.0.1 is unavailable")).problem
    assert want.code == "engine.unavailable" and want.loc == ()
    stop = start_sql_server(settings, service, host="127.0.0.1", port=0)
    try:
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            err = _envelope(c.get("/api/v1/population", params={"dimensions": "race"}), 503)
            assert (err["code"], err["loc"], err["message"]) == _triple(want)
            query = quote(json.dumps({"measures": ["population.people"]}))
            body = _cube(c.get(f"/cubejs-api/v1/load?query={query}"), 503)
            assert (body["code"], body["loc"], body["error"]) == _triple(want)
        host, pg_port = stop.address  # type: ignore[attr-defined]
        with psycopg.connect(host=host, port=pg_port, dbname="crosstrack", user="shape", autocommit=True) as conn:
            with pytest.raises(psycopg.Error) as raised:
                conn.execute("SELECT race, MEASURE(people) FROM population GROUP BY 1")
        pg = raised.value
        assert pg.sqlstate == "57P03" and pg.diag.message_primary == want.message
        assert pg.diag.message_detail == "error[engine.unavailable]"
        assert "127.0.0.1" not in want.message
    finally:
        stop()

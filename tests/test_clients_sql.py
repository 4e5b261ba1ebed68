"""The SQL clients people already use, unchanged, against the live SQL surface (issue 15).

Each test drives the real third-party client (installed by scripts/test.sh): psycopg 3,
SQLAlchemy 2 + psycopg 3, SQLAlchemy 1.4 + psycopg2 (Superset's pattern), pandas, sqlacodegen,
pgcli (through a pty, default settings) and psql. ``tests/clients/catalogue_queries.json`` holds
the statements these clients really sent while connecting, introspecting and completing; every
one is replayed over libpq and must be answered.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from crosstrack.api.catalog import build_catalog
from crosstrack.cube import load_model

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "clients" / "catalogue_queries.json"
SA14 = ROOT / ".clients" / "sa14"  # SQLAlchemy 1.4 + psycopg2, pip-installed there by scripts/test.sh
# every public dataset of the model (the SQL surface lists each as a table)
DATASETS = tuple(sorted(build_catalog(load_model(ROOT / "models").meta())))
# What an error must never show: parser, driver or SQLite internals.
INTERNALS = re.compile(r'sqlglot|<class |sqlite|Required keyword|near "[^"]*": syntax error|Traceback|EXPLODE|user-defined function',
                       re.IGNORECASE)


def _dsn(sql_live, driver: str) -> str:
    return f"postgresql+{driver}://analyst@{sql_live.host}:{sql_live.port}/crosstrack"


def _api_rows(sql_live, path: str, **params: str) -> list[dict]:
    r = httpx.get(sql_live.api.url + path, params=params, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _year(sql_live) -> int:
    return max(sql_live.api.settings.snapshot_years)


# --- the catalogue queries the clients really send ---------------------------------------------------
def test_every_recorded_client_catalogue_query_is_answered(sql_live):
    import psycopg

    entries = json.loads(FIXTURE.read_text())
    assert {e["client"] for e in entries} >= {"psql", "psycopg", "sqlalchemy2", "sqlalchemy14", "pgcli",
                                               "sqlacodegen", "pandas"}
    failures = []
    # RawCursor sends the recorded $n placeholders as they are; psycopg waits for the server without
    # holding the GIL (the server runs in a thread of this process).
    with psycopg.connect(host=sql_live.host, port=sql_live.port, user="analyst", dbname="crosstrack",
                         autocommit=True, cursor_factory=psycopg.RawCursor) as conn:
        for e in entries:
            state, message = None, ""
            try:
                with conn.cursor() as cur:
                    if e["sql"].lstrip().upper().startswith("COPY"):
                        with cur.copy(e["sql"]) as copy:
                            for _ in copy:
                                pass
                    else:
                        cur.execute(e["sql"], e["params"])
                        if cur.description:
                            cur.fetchall()
            except psycopg.Error as err:
                state, message = err.sqlstate, f"{err.diag.message_primary} {err.diag.message_hint or ''}"
            if state != e["sqlstate"] or INTERNALS.search(message):
                failures.append(f"{e['client']}: got {state} (want {e['sqlstate']}) {message[:160]!r} for "
                                f"{e['sql'][:100]!r}")
    assert not failures, "\n".join(failures)


# --- SQLAlchemy 2 + psycopg 3 ----------------------------------------------------------------------
def test_sqlalchemy2_psycopg3_connects_with_no_options_and_introspects_every_dataset(sql_live):
    import sqlalchemy as sa

    assert sa.__version__.startswith("2.")
    engine = sa.create_engine(_dsn(sql_live, "psycopg"))
    try:
        insp = sa.inspect(engine)
        assert sorted(insp.get_table_names()) == sorted(DATASETS)
        tables = sql_live.api.service.catalog
        for name in DATASETS:
            cols = insp.get_columns(name)
            ds = tables[name]
            assert [c["name"] for c in cols] == [*ds.dimensions, *ds.measures, "suppressed"]
            assert all(c["comment"] for c in cols)  # the model's descriptions reach the BI tool
            assert insp.get_pk_constraint(name)["constrained_columns"] == []
            assert insp.get_indexes(name) == []
            assert insp.get_foreign_keys(name) == [] and insp.get_unique_constraints(name) == []
            assert insp.get_table_comment(name)["text"]
        meta = sa.MetaData()
        meta.reflect(engine)
        assert sorted(meta.tables) == sorted(DATASETS)
        assert isinstance(meta.tables["population"].c.snapshot_year.type, sa.BigInteger)
    finally:
        engine.dispose()


def test_pandas_read_sql_answers_through_the_same_control_and_read_sql_table_says_what_to_write(sql_live):
    import pandas as pd
    import sqlalchemy as sa

    y = _year(sql_live)
    engine = sa.create_engine(_dsn(sql_live, "psycopg"))
    try:
        df = pd.read_sql(f"SELECT race, gender_identity, MEASURE(people) AS people, suppressed FROM population "
                         f"WHERE snapshot_year = {y} GROUP BY 1, 2", engine)
        api = _api_rows(sql_live, "/api/v1/population", dimensions="race,gender_identity", snapshot_year=str(y),
                        limit="10000")
        got = {(r.race, r.gender_identity): (None if pd.isna(r.people) else int(r.people), bool(r.suppressed))
               for r in df.itertuples()}
        assert got == {(a["race"], a["gender_identity"]): (a["people"], a["suppressed"]) for a in api}
        assert any(s for _, s in got.values()), "the fixture has withheld cells: they stay withheld"
        with pytest.raises(Exception) as info:
            pd.read_sql_table("population", engine)  # every column, ungrouped: row-level access
        assert "MEASURE(people)" in str(info.value) and not INTERNALS.search(str(info.value))
    finally:
        engine.dispose()


# --- Superset's query shapes -----------------------------------------------------------------------
def test_superset_virtual_table_sum_and_count_star_are_the_people_measure(sql_live):
    y = _year(sql_live)
    api = _api_rows(sql_live, "/api/v1/population", dimensions="race", snapshot_year=str(y), order="-people",
                    limit="100")
    want = [(a["race"], a["people"]) for a in api]
    superset = sql_live.query(
        f'SELECT race AS race, SUM(people) AS "SUM(people)" FROM (SELECT * FROM population '
        f"WHERE snapshot_year = {y}) AS virtual_table GROUP BY race ORDER BY \"SUM(people)\" DESC LIMIT 100")
    assert superset[0] == ["race", "SUM(people)"]
    assert [tuple(r) for r in superset[1]] == want
    count = sql_live.query(f"SELECT race, COUNT(*) AS count FROM population WHERE snapshot_year = {y} "
                           "GROUP BY race ORDER BY 2 DESC LIMIT 100")
    assert [tuple(r) for r in count[1]] == want
    total = sql_live.query(f"SELECT COUNT(*) AS count FROM (SELECT race, snapshot_year FROM population) AS virtual_table "
                           f"WHERE snapshot_year = {y}")
    api_total = _api_rows(sql_live, "/api/v1/population", snapshot_year=str(y))
    assert total[1][0][0] == api_total[0]["people"]


@pytest.mark.parametrize("sql,names", [
    ("SELECT race, SUM(p) FROM (SELECT race, MEASURE(people) AS p FROM population GROUP BY 1) AS virtual_table "
     "GROUP BY race", "SELECT * FROM population"),
    ("SELECT agency, SUM(mean_days) FROM incarceration_time GROUP BY agency", "MEASURE(mean_days)"),
    ("SELECT agency, MAX(people) FROM population GROUP BY agency", "MEASURE(<measure>)"),
])
def test_superset_shapes_that_would_reaggregate_are_refused_naming_what_to_write(sql_live, sql, names):
    import psycopg

    with pytest.raises(psycopg.Error) as info:
        sql_live.query(sql)
    err = info.value.diag
    text = f"{err.message_primary} {err.message_hint}"
    assert names in text, text
    assert "SELECT * (row-level access)" not in text and not INTERNALS.search(text)


# --- SQLAlchemy 1.4 + psycopg2 (Superset's stack), in its own interpreter path ----------------------------
SA14_SCRIPT = r"""
import json, sys
import sqlalchemy as sa, psycopg2
e = sa.create_engine(sys.argv[1])
insp = sa.inspect(e)
out = {"version": sa.__version__, "tables": insp.get_table_names(), "columns": {}, "pk": {}, "indexes": {},
       "comment": {}}
for n in out["tables"]:
    out["columns"][n] = [c["name"] for c in insp.get_columns(n)]
    out["pk"][n] = insp.get_pk_constraint(n)["constrained_columns"]
    out["indexes"][n] = insp.get_indexes(n)
    out["comment"][n] = insp.get_table_comment(n)["text"]
with e.connect() as c:
    rows = c.execute(sa.text('SELECT race, SUM(people) AS "SUM(people)" FROM (SELECT * FROM population) AS '
                             'virtual_table GROUP BY race ORDER BY "SUM(people)" DESC LIMIT 100')).fetchall()
out["superset"] = [list(r) for r in rows]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_sqlalchemy14_psycopg2_introspects_every_dataset_and_answers_superset(sql_live):
    assert (SA14 / "sqlalchemy").is_dir(), "scripts/test.sh installs SQLAlchemy 1.4 + psycopg2 into .clients/sa14"
    env = {**os.environ, "PYTHONPATH": str(SA14)}
    run = subprocess.run([sys.executable, "-c", SA14_SCRIPT, _dsn(sql_live, "psycopg2")], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout)
    assert out["version"].startswith("1.4.")
    assert sorted(out["tables"]) == sorted(DATASETS)
    for name in DATASETS:
        ds = sql_live.api.service.catalog[name]
        assert out["columns"][name] == [*ds.dimensions, *ds.measures, "suppressed"]
        assert out["pk"][name] == [] and out["indexes"][name] == [] and out["comment"][name]
    api = _api_rows(sql_live, "/api/v1/population", dimensions="race", order="-people", limit="100")
    assert [tuple(r) for r in out["superset"]] == [(a["race"], a["people"]) for a in api]


# --- sqlacodegen -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_sqlacodegen_generates_every_dataset_table(sql_live):
    exe = Path(sys.executable).with_name("sqlacodegen")
    assert exe.exists(), "pip install -e '.[test]' installs sqlacodegen"
    run = subprocess.run([str(exe), _dsn(sql_live, "psycopg")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    for name in DATASETS:
        assert f"t_{name} = Table(" in run.stdout
    assert "Column('suppressed', Boolean" in run.stdout
    assert "person_key" not in run.stdout and "cell_key" not in run.stdout


# --- pgcli, driven through a pty with default settings --------------------------------------------------
@pytest.mark.slow
def test_pgcli_starts_with_defaults_lists_tables_and_completes_columns(sql_live):
    import pexpect

    exe = Path(sys.executable).with_name("pgcli")
    assert exe.exists(), "pip install -e '.[test]' installs pgcli"
    home = tempfile.mkdtemp(prefix="pgcli-home-")  # no config file: pgcli writes its defaults
    env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"), "TERM": "xterm",
           "PAGER": "cat", "TZ": "Etc/UTC", "LANG": "C.UTF-8"}
    child = pexpect.spawn(str(exe), ["-h", sql_live.host, "-p", str(sql_live.port), "-U", "analyst", "crosstrack"],
                          env=env, encoding="utf-8", dimensions=(40, 160), timeout=30)
    try:
        child.expect(r"crosstrack>")
        child.sendline(r"\dt")
        child.expect(rf"SELECT {len(DATASETS)}")
        listing = child.before
        for name in DATASETS:
            assert name in listing
        child.expect(r"crosstrack>")
        # The completion refresher runs in the background after start-up: retry until columns are in.
        seen = ""
        for _ in range(20):
            child.send("SELECT MEASURE(people) FROM population WHERE ethni")
            child.send("\t")
            try:
                child.expect(r"ethnicity", timeout=1.5)
                seen = "ethnicity"
                break
            except pexpect.TIMEOUT:
                child.sendcontrol("c")
                child.expect(r"crosstrack>")
                time.sleep(0.3)
        assert seen == "ethnicity", "pgcli did not complete the column name"
        child.sendcontrol("c")
        child.sendline(r"\q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    log = Path(home, ".config", "pgcli", "log")
    text = log.read_text() if log.exists() else ""
    assert "Traceback" not in text and "ERROR" not in text, text[-2000:]


# --- psql ------------------------------------------------------------------------------------------
def _psql(sql_live, *args: str) -> subprocess.CompletedProcess:
    assert shutil.which("psql"), "scripts/test.sh installs Debian's postgresql-client"
    base = ["psql", "-h", sql_live.host, "-p", str(sql_live.port), "-U", "analyst", "-d", "crosstrack", "-X",
            "-v", "ON_ERROR_STOP=1"]
    return subprocess.run(base + list(args), capture_output=True, text=True, timeout=60)


def test_psql_l_dplus_dn_df_x_and_copy(sql_live, tmp_path):
    y = _year(sql_live)
    out = _psql(sql_live, "-c", r"\l", "-c", r"\dn", "-c", r"\df", "-c", r"\d+ population",
                "-c", r"\x", "-c", f"SELECT race, MEASURE(people) FROM population WHERE snapshot_year = {y} "
                                  "AND race = 'W' GROUP BY 1")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "List of databases" in text and "crosstrack" in text
    assert "List of schemas" in text and "public" in text
    assert "List of functions" in text
    assert 'Table "public.population"' in text and "Description" in text and "January 1st" in text
    assert "Expanded display is on." in text and "-[ RECORD 1 ]" in text
    target = tmp_path / "race.csv"
    copy = _psql(sql_live, "-c", rf"\copy (SELECT race, MEASURE(people), suppressed FROM population WHERE "
                                 rf"snapshot_year = {y} GROUP BY race ORDER BY race) TO '{target}' CSV HEADER")
    assert copy.returncode == 0, copy.stderr
    lines = target.read_text().splitlines()
    api = _api_rows(sql_live, "/api/v1/population", dimensions="race", snapshot_year=str(y), order="race")
    assert lines[0] == "race,people,suppressed"
    assert lines[1:] == [f"{a['race']},{'' if a['people'] is None else a['people']},{'t' if a['suppressed'] else 'f'}"
                         for a in api]
    refused = _psql(sql_live, "-c", rf"\copy population TO '{tmp_path / 'all.csv'}'")
    assert refused.returncode != 0 and "COPY (SELECT ...) TO STDOUT" in refused.stderr


@pytest.mark.parametrize("sql", [
    "SELECT ARRAY[1,2][",  # what made sqlglot name its Bracket class
    "SELECT proallargtypes::regtype[] FROM pg_proc WHERE (",
    "SELECT nosuchcolumn FROM pg_catalog.pg_class",
    "SELECT nosuchfunction(1) FROM pg_catalog.pg_class",
    "SELECT * FROM pg_catalog.pg_nosuchtable",
    "SELECT x FROM unnest(ARRAY[1]) WITH ORDINALITY",
    "SET TIME ZONE",
])
def test_errors_never_show_library_internals(sql_live, sql):
    import psycopg

    try:
        sql_live.query(sql)
    except psycopg.Error as err:
        text = f"{err.diag.message_primary} {err.diag.message_hint or ''}"
        assert not INTERNALS.search(text), text
        assert err.diag.sqlstate and err.diag.sqlstate != "XX000"
    with sql_live.connect() as conn:  # the server is still there for the next statement
        assert conn.execute("SELECT 1").fetchone() == (1,)

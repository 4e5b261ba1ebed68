"""The SQL surface with real clients (issue 8): psycopg over the simple and the extended
protocol, Debian's psql for \\dt, \\d and a query; the same question through SQL and through
the URL API gives the same rows and the same suppression (K2, K1, K3); refusals (K6, P2)."""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest

YEAR_SQL = "SELECT snapshot_year, MEASURE(people) FROM population GROUP BY 1 ORDER BY 1"


def _year(sql_live) -> int:
    return sql_live.api.settings.snapshot_years[-1]


def _api(sql_live, path: str, **params) -> list[dict]:
    resp = sql_live.api.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


# --- protocols ---------------------------------------------------------------------------------
def test_psycopg_simple_protocol_cube_style_query(sql_live):
    y = _year(sql_live)
    with sql_live.connect() as conn:
        cur = conn.execute(f"SELECT race, MEASURE(people) FROM population WHERE snapshot_year = {y} "
                           "GROUP BY 1 ORDER BY 2 DESC LIMIT 10", prepare=False)
        assert [d.name for d in cur.description] == ["race", "people"]
        assert cur.description[1].type_code == 20  # int8
        rows = cur.fetchall()
    assert rows and len(rows) <= 5
    values = [r[1] for r in rows if r[1] is not None]
    assert values == sorted(values, reverse=True)


def test_psycopg_extended_protocol_server_side_parameters(sql_live):
    y = _year(sql_live)
    sql = ("SELECT race, MEASURE(people) AS n FROM population WHERE snapshot_year = %s AND race <> %s "
           "GROUP BY race ORDER BY n DESC LIMIT %s")
    unprepared = sql_live.query(sql, (y, "W", 10), prepare=False)
    prepared = sql_live.query(sql, (y, "W", 10), prepare=True)
    assert unprepared == prepared
    assert unprepared[0] == ["race", "n"]
    assert {r[0] for r in unprepared[1]} <= {"AI", "API", "B", "OU"}
    with sql_live.connect() as conn:  # the same named statement executed twice, binary results
        cur = conn.cursor(binary=True)
        first = cur.execute(sql, (y, "W", 10), prepare=True).fetchall()
        again = cur.execute(sql, (y, "W", 10), prepare=True).fetchall()
        assert first == again == unprepared[1]


def test_psycopg_describe_and_server_side_cursor_paging(sql_live):
    y = _year(sql_live)
    with sql_live.connect() as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT agency, race, MEASURE(people), suppressed FROM population "
                        "WHERE snapshot_year = %s GROUP BY 1, 2", (y,))
            many = cur.fetchmany(3)
            rest = cur.fetchall()
        assert len(many) == 3 and rest
        assert isinstance(many[0][3], bool)


def test_psql_dt_d_and_a_query(sql_live):
    assert shutil.which("psql"), "scripts/test.sh installs Debian's postgresql-client"
    base = ["psql", "-h", sql_live.host, "-p", str(sql_live.port), "-U", "analyst", "-d", "crosstrack",
            "-X", "-v", "ON_ERROR_STOP=1"]

    def run(*cmd: str) -> str:
        out = subprocess.run(base + list(cmd), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    dt = run("-c", r"\dt")
    for name in ("population", "custody", "incarceration_time", "charges", "programs"):
        assert name in dt
    d = run("-c", r"\d population")
    assert 'Table "public.population"' in d
    assert "race" in d and "people" in d and "suppressed" in d and "boolean" in d
    assert "person_key" not in d and "cell_key" not in d and "record_key" not in d
    q = run("-A", "-t", "-c", f"SELECT race, MEASURE(people), suppressed FROM population "
                              f"WHERE snapshot_year = {_year(sql_live)} GROUP BY 1 ORDER BY 1")
    lines = [ln for ln in q.splitlines() if ln and "|" in ln]
    assert [ln.split("|")[0] for ln in lines] == ["AI", "API", "B", "OU", "W"]


# --- K2: the same question through SQL and the URL API --------------------------------------------
@pytest.mark.parametrize("sql,params", [
    ("SELECT agency, race, gender_identity, MEASURE(people), suppressed FROM population "
     "WHERE snapshot_year = {y} GROUP BY 1, 2, 3",
     {"dimensions": "agency,race,gender_identity", "measures": "people", "snapshot_year": "{y}"}),
    ("SELECT facility_type, age_group, MEASURE(people), MEASURE(mean_days), MEASURE(median_days), suppressed "
     "FROM incarceration_time WHERE snapshot_year IN ({y}) AND agency = 'DOC' GROUP BY 1, 2",
     {"dimensions": "facility_type,age_group", "measures": "people,mean_days,median_days",
      "snapshot_year": "{y}", "agency": "DOC"}),
])
def test_k2_sql_and_url_api_same_rows_same_suppression(sql_live, sql, params):
    y = _year(sql_live)
    dataset = sql.split(" FROM ")[1].split()[0]
    rows = sql_live.rows(sql.format(y=y))
    api = _api(sql_live, f"/api/v1/{dataset}", **{k: v.format(y=y) for k, v in params.items()},
               limit="10000")
    dims = params["dimensions"].split(",")
    measures = params["measures"].split(",")
    key = lambda r: tuple(str(r[d]) for d in dims)
    assert sorted(map(key, rows)) == sorted(map(key, api))
    by_key = {key(r): r for r in api}
    for r in rows:
        a = by_key[key(r)]
        assert r["suppressed"] is a["suppressed"]
        for m in measures:
            if a[m] is None:
                assert r[m] is None  # K1: withheld, never 0
            else:
                assert r[m] == pytest.approx(a[m])
    if "gender_identity" in dims:
        assert any(r["suppressed"] for r in rows), "fixture should have withheld cells"
        assert all(r["people"] is None for r in rows if r["suppressed"])


def test_k3_where_spellings_give_the_same_answer(sql_live):
    y = _year(sql_live)
    years = sql_live.api.settings.snapshot_years
    base = "SELECT race, MEASURE(people), suppressed FROM population WHERE {} GROUP BY 1 ORDER BY 1"
    inclusion = sql_live.query(base.format(f"snapshot_year = {y} AND race IN ('AI', 'API', 'B', 'OU')"))
    for where in (f"snapshot_year = {y} AND race <> 'W'", f"snapshot_year = {y} AND NOT race = 'W'",
                  f"snapshot_year = {y} AND race NOT IN ('W')", f"{y} = snapshot_year AND race != 'White'",
                  f"snapshot_year >= {y} AND race < 'W'", f"snapshot_year BETWEEN {y} AND {y + 5} AND "
                                                          "(race = 'AI' OR race IN ('API', 'B', 'OU'))"):
        assert sql_live.query(base.format(where)) == inclusion, where
    lo, hi = years[0], years[2]
    ranged = sql_live.query(f"SELECT snapshot_year, MEASURE(people) FROM population WHERE snapshot_year "
                            f"BETWEEN {lo} AND {hi} GROUP BY 1 ORDER BY 1")
    listed = sql_live.query(f"SELECT snapshot_year, MEASURE(people) FROM population WHERE snapshot_year "
                            f"IN ({', '.join(str(v) for v in years[:3])}) GROUP BY 1 ORDER BY 1")
    assert ranged == listed and [r[0] for r in ranged[1]] == years[:3]


def test_matching_aggregates_name_the_measure(sql_live):
    y = _year(sql_live)
    m = sql_live.query(f"SELECT agency, MEASURE(people), MEASURE(mean_days) FROM incarceration_time "
                       f"WHERE snapshot_year = {y} GROUP BY 1 ORDER BY 1")
    a = sql_live.query(f"SELECT agency, COUNT(people), AVG(mean_days) FROM incarceration_time "
                       f"WHERE snapshot_year = {y} GROUP BY 1 ORDER BY 1")
    assert m[1] == a[1]
    # people counts records (R1); distinct_people is the count_distinct measure
    d = sql_live.query(f"SELECT agency, MEASURE(distinct_people) FROM incarceration_time "
                       f"WHERE snapshot_year = {y} GROUP BY 1 ORDER BY 1")
    e = sql_live.query(f"SELECT agency, COUNT(DISTINCT distinct_people) FROM incarceration_time "
                       f"WHERE snapshot_year = {y} GROUP BY 1 ORDER BY 1")
    assert d[1] == e[1] and d[1]


def test_suppressed_filter_and_total_row(sql_live):
    y = _year(sql_live)
    sql = ("SELECT agency, race, gender_identity, MEASURE(people), suppressed FROM population "
           f"WHERE snapshot_year = {y} {{}} GROUP BY 1, 2, 3")
    everything = sql_live.rows(sql.format(""))
    shown = sql_live.rows(sql.format("AND NOT suppressed"))
    assert shown == [r for r in everything if not r["suppressed"]]
    total = sql_live.query(f"SELECT MEASURE(people) FROM population WHERE snapshot_year = {y}")
    assert len(total[1]) == 1 and total[1][0][0] > 0


# --- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("sql,state,fragment", [
    ("SELECT * FROM population", "42501", "row-level"),
    ("SELECT race, agency FROM population GROUP BY 1, 2", "42501", "at least one measure"),
    ("SELECT race FROM population", "42501", "at least one measure"),
    ("SELECT DISTINCT race FROM population WHERE agency = 'DOC'", "42501", "value list"),
    ("SELECT race, MEASURE(people) FROM population", "42803", "GROUP BY"),
    ("SELECT race, MEASURE(people) * 2 FROM population GROUP BY 1", "42501", "functions of measures"),
    ("SELECT race, ROUND(AVG(mean_days)) FROM incarceration_time GROUP BY 1", "42501", "functions of measures"),
    ("SELECT race, MAX(people) FROM population GROUP BY 1", "42501", "P2"),
    ("SELECT agency, SUM(mean_days) FROM incarceration_time GROUP BY 1", "42501", "does not match"),
    ("SELECT p.race, MEASURE(p.people) FROM population p JOIN custody c ON p.race = c.race GROUP BY 1",
     "42501", "joins"),
    ("SELECT race, SUM(p) FROM (SELECT race, MEASURE(people) AS p FROM population GROUP BY 1) x GROUP BY 1",
     "42501", "re-aggregate"),
    ("SELECT race, MEASURE(people) FROM population WHERE race IN (SELECT race FROM custody) GROUP BY 1",
     "42501", "subqueries"),
    ("SELECT race, MEASURE(people) FROM population WHERE people > 5 GROUP BY 1", "42501", "measure"),
    ("SELECT race, MEASURE(people) FROM population GROUP BY 1 HAVING MEASURE(people) > 5", "42501", "HAVING"),
    ("SELECT person_key, MEASURE(people) FROM population GROUP BY 1", "42703", "does not exist"),
    ("SELECT COUNT(*) FROM custody_facts", "42P01", "does not exist"),
    ("SELECT race, MEASURE(people) FROM population WHERE race = 'Martian' GROUP BY 1", "22023", "not a value"),
    ("INSERT INTO population (race) VALUES ('W')", "25006", "read-only"),
    ("DROP TABLE population", "25006", "read-only"),
    ("CREATE TABLE x (a int)", "25006", "read-only"),
    ("SET crosstrack.k = 1", "42501", "cannot be changed"),
    ("SET k TO 2", "42501", "cannot be changed"),
])
def test_refusals_are_postgres_errors_saying_what_is_allowed(sql_live, sql, state, fragment):
    with sql_live.connect() as conn:
        with pytest.raises(psycopg.Error) as info:
            conn.execute(sql)
        err = info.value
        assert err.sqlstate == state, (sql, err.sqlstate, err.diag.message_primary)
        assert fragment.lower() in (err.diag.message_primary or "").lower()
        text = f"{err.diag.message_primary} {err.diag.message_hint or ''}"
        assert "person_key" not in text or "person_key" in sql  # K6: never suggested
        assert "_v1" not in text  # no internal database names
        assert "custody_facts" not in text or "custody_facts" in sql
        # the connection stays usable after a refusal
        assert conn.execute("SELECT 1").fetchone() == (1,)


# --- catalogue -------------------------------------------------------------------------------------
def test_catalogue_information_schema_version_show_set(sql_live):
    with sql_live.connect() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")]
        assert tables == sorted(sql_live.api.service.catalog)
        cols = conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = %s ORDER BY ordinal_position", ("incarceration_time",)).fetchall()
        types = dict(cols)
        assert types["race"] == "text" and types["people"] == "bigint"
        assert types["mean_days"] == "double precision" and types["suppressed"] == "boolean"
        everything = conn.execute("SELECT column_name FROM information_schema.columns").fetchall()
        assert not {"person_key", "record_key", "cell_key"} & {r[0] for r in everything}  # K6
        assert conn.execute("SELECT current_database()").fetchone() == ("crosstrack",)
        assert "PostgreSQL" in conn.execute("SELECT version()").fetchone()[0]
        assert conn.execute("SHOW server_version").fetchone()[0]
        conn.execute("SET application_name = 'metabase'")
        conn.execute("SET extra_float_digits = 3")
        assert conn.execute("SHOW application_name").fetchone() == ("metabase",)
        assert conn.execute("SHOW crosstrack.k").fetchone() == (str(sql_live.api.settings.k),)
        conn.execute("BEGIN")
        conn.execute("COMMIT")


def test_distinct_dimension_values_come_from_the_published_code_list(sql_live):
    """A BI filter widget's value list is the metadata's code list, not data (K1: no cell revealed)."""
    assert sql_live.query("SELECT DISTINCT race FROM population ORDER BY 1")[1] == [
        ("AI",), ("API",), ("B",), ("OU",), ("W",)]
    assert sql_live.query("SELECT race FROM population WHERE race <> 'W' GROUP BY race")[1] == [
        ("AI",), ("API",), ("B",), ("OU",)]
    years = sql_live.query("SELECT DISTINCT snapshot_year FROM population")[1]
    assert [y for (y,) in years] == sql_live.api.settings.snapshot_years

"""Issue 18: extracts are read by chDB's own CSV / Parquet reader (``file()``), which must read
every field exactly as the extract format says (as Python's csv module reads it: no trimming, no
\\N as NULL, quotes only as RFC 4180 quotes), number rows from 1 in file order, and hand any file
it cannot read faithfully to the reader that names the broken row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crosstrack.engine import Engine
from crosstrack.loaders.extract import COLUMNS, stage_file
from tests.fixtures_loaders import memory_settings

PEOPLE = COLUMNS["people"]
TRICKY = [" SID1 ", "\\N", "'quoted'", 'say "hi"', "a,b", "two\nlines", "½ ünïcode", "", "x" * 999, "ab\"c"]


@pytest.fixture()
def staged(tmp_path):
    engine = Engine.from_settings(memory_settings(tmp_path / "d"))
    db = f"read_{uuid.uuid4().hex[:8]}"
    engine.command(f"CREATE DATABASE `{db}`")

    def read(path):
        table = "people"
        sf = stage_file(engine, db, table, path)
        rows = engine.query(f"SELECT {', '.join(f'`{c}`' for c in PEOPLE)}, _row FROM `{db}`.raw_people "
                            f"ORDER BY _row").rows
        engine.command(f"DROP TABLE `{db}`.raw_people")
        return sf, [list(r) for r in rows]
    yield read
    engine.command(f"DROP DATABASE `{db}` SYNC")


def _csv_bytes(rows: list[list[str]], *, crlf: bool = False, bom: bool = False) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n" if crlf else "\n").writerows([PEOPLE] + rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8")


@pytest.mark.parametrize("crlf,bom", [(False, False), (True, True)])
def test_csv_fields_are_read_exactly_as_written_in_file_order(staged, tmp_path, crlf, bom):
    rows = [[v, f"19{i:02d}-01-01", "M", v, "W", v] for i, v in enumerate(TRICKY)]
    path = tmp_path / "people.csv"
    path.write_bytes(_csv_bytes(rows, crlf=crlf, bom=bom))
    # the answer: what Python's csv module reads from the same bytes, numbered from 1
    want = [r + [i] for i, r in enumerate(list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"),
                                                                        newline="")))[1:], start=1)]
    sf, got = staged(path)
    assert got == want and sf.rows == len(TRICKY) and sf.parse_rejects == []


def test_a_value_that_is_not_utf8_goes_to_the_row_naming_reader(staged, tmp_path):
    rows = [[f"SID{i}", "1980-01-01", "M", "Male", "W", "N"] for i in range(1, 6)]
    data = _csv_bytes(rows).replace(b"SID3", b"SID\xe93")  # Latin-1 in row 3
    path = tmp_path / "people.csv"
    path.write_bytes(data)
    sf, got = staged(path)
    assert [(r.row, r.column, r.rule) for r in sf.parse_rejects] == [(3, "person_id", "encoding.utf8")]
    assert [r[-1] for r in got] == [1, 2, 4, 5]


@pytest.mark.parametrize("broken", ["blank", "short", "long", "open_quote"])
def test_a_row_chdb_refuses_is_named_by_the_careful_reader(staged, tmp_path, broken):
    lines = _csv_bytes([[f"SID{i}", "1980-01-01", "M", "Male", "W", "N"] for i in range(1, 6)]).split(b"\n")
    lines[2] = {"blank": b"", "short": b"SID2,1980-01-01", "long": lines[2] + b",extra",
                "open_quote": b'"SID2,1980-01-01,M,Male,W,N'}[broken]
    path = tmp_path / "people.csv"
    path.write_bytes(b"\n".join(lines))
    sf, got = staged(path)
    assert sf.parse_rejects and sf.parse_rejects[0].row == 2
    assert sf.parse_rejects[0].rule in ("format.fields", "format.csv")


def test_parquet_dates_integers_and_nulls_become_the_fields_pyarrow_wrote(staged, tmp_path):
    n = 7
    table = pa.table({
        "person_id": pa.array([f"SID{i}" for i in range(n)]),
        "date_of_birth": pa.array([dt.date(1980, 1, 1) + dt.timedelta(days=400 * i) if i % 3 else None
                                   for i in range(n)], pa.date32()),
        "assigned_sex": pa.array(["M"] * n),
        "gender_identity": pa.array([None] * n, pa.null()),
        "race": pa.array([i if i % 2 else None for i in range(n)], pa.int64()),
        "ethnicity": pa.array(["N", None, "H", "", "U", "N", "N"]),
    })
    path = tmp_path / "people.parquet"
    pq.write_table(table, path, row_group_size=2)  # several row groups: the order must hold
    want = [[c.cast(pa.string()).fill_null("")[i].as_py() if not pa.types.is_null(c.type) else ""
             for c in table.columns] + [i + 1] for i in range(n)]
    _, got = staged(path)
    assert got == want

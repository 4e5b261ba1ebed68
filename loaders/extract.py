"""Reading and validating raw extracts (spec/extracts.md): files -> staging tables + rejects.

Every file is read into a staging table of String columns plus ``_row`` (1 = the first data row
after the header). Parsing is pyarrow's CSV reader (fast, multi-threaded); a file it cannot
parse cleanly (bad UTF-8, a row with the wrong number of fields, an unterminated quote) is read
again by Python's csv module, which can say which row broke which rule. Then every check is one
ClickHouse query per table (see ``loaders/rules_sql.py``), so a large extract is never walked
row by row in Python. Messages name file, row, column and rule and never a value, so no person
id, name, birth date or docket number can reach a report or a terminal.
"""

from __future__ import annotations

import csv
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crosstrack.engine import Engine

MAX_FIELD_CHARS = 1000  # longer than any real value; a field this long is a broken file

COLUMNS: dict[str, list[str]] = {
    "people": ["person_id", "date_of_birth", "assigned_sex", "gender_identity", "race", "ethnicity"],
    "custody_episodes": ["episode_id", "person_id", "source_system", "agency", "facility", "facility_type",
                         "security_level", "custody_status", "admission_type", "admission_date", "release_date"],
    "charges": ["person_id", "episode_id", "docket_number", "filing_date", "charge_number", "statute", "severity",
                "disposition", "sentence", "governing"],
    "program_enrollments": ["person_id", "agency", "program", "psi_area", "start_date", "end_date", "status"],
    # version 2 (spec/extracts.md): Trial Court arraignments, for rearraignment and reconviction (RC5, RC6)
    "court_charges": ["person_id", "docket_number", "arraignment_date", "charge_number", "statute", "severity",
                      "disposition", "disposition_date"],
}
TABLES = tuple(COLUMNS)
# Tables a folder may leave out: a version-1 folder has no court_charges and still loads; the
# recidivism metadata then reports rearraignment and reconviction as unavailable (not zero).
OPTIONAL_TABLES = ("court_charges",)


@dataclass(frozen=True)
class Reject:
    file: str
    row: int        # 1 = first data row after the header; 0 = the file as a whole / its header
    column: str     # "*" when the whole row is affected
    rule: str       # short rule id, e.g. "format.date"
    message: str    # what is wrong, never the value itself


class ExtractError(RuntimeError):
    """The extract cannot be loaded at all (missing file, wrong header...)."""

    def __init__(self, rejects: list[Reject]):
        super().__init__("; ".join(f"{r.file}: {r.message}" for r in rejects))
        self.rejects = rejects


@dataclass
class StagedFile:
    table: str
    path: Path
    sha256: str
    rows: int
    parse_rejects: list[Reject]


def find_files(source: Path) -> dict[str, Path]:
    """One file per table, .csv or .parquet; anything else is an error naming the file."""
    source = Path(source)
    problems: list[Reject] = []
    if not source.is_dir():
        raise ExtractError([Reject(str(source), 0, "*", "files.folder", "is not a folder")])
    found: dict[str, Path] = {}
    for name in TABLES:
        cands = [p for p in (source / f"{name}.csv", source / f"{name}.parquet") if p.exists()]
        if not cands and name in OPTIONAL_TABLES:
            continue
        if not cands:
            problems.append(Reject(f"{name}.csv", 0, "*", "files.missing", "file is missing (.csv or .parquet)"))
        elif len(cands) > 1:
            problems.append(Reject(cands[0].name, 0, "*", "files.ambiguous",
                                   "both a .csv and a .parquet file for this table; deliver one"))
        else:
            found[name] = cands[0]
    if problems:
        raise ExtractError(problems)
    return found


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def raw_table_ddl(db: str, table: str) -> str:
    cols = ", ".join(f"`{c}` String" for c in COLUMNS[table])
    return f"CREATE TABLE `{db}`.`raw_{table}` ({cols}, `_row` UInt64) ENGINE = Memory"


def stage_file(engine: Engine, db: str, table: str, path: Path,
               on_rows: Callable[[int], None] | None = None) -> StagedFile:
    """Read one file into ``db.raw_<table>``; returns its checksum and the rows that could not be parsed."""
    engine.command(raw_table_ddl(db, table))
    # the checksum is computed while the file is parsed (hashlib releases the GIL on big reads)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        checksum = pool.submit(sha256_of, path)
        rejects: list[Reject] = []
        total = 0
        for batch, batch_rejects in _batches(table, path):
            if batch is RESTART:  # the fast reader gave up part-way: start again from an empty table
                engine.command(f"TRUNCATE TABLE `{db}`.`raw_{table}`")
                if on_rows and total:
                    on_rows(-total)
                total = 0
                continue
            rejects.extend(batch_rejects)
            if batch.num_rows:
                engine.insert_arrow(f"raw_{table}", batch, database=db)
                total += batch.num_rows
                if on_rows:
                    on_rows(batch.num_rows)
        return StagedFile(table, path, checksum.result(), total + len({r.row for r in rejects if r.row}), rejects)


def _batches(table: str, path: Path) -> Iterator[tuple[pa.Table, list[Reject]]]:
    if path.suffix == ".parquet":
        yield from _parquet_batches(table, path)
        return
    header = _check_header(table, path)
    try:
        yield from _fast_csv(table, path, header)
    except _NeedsPreciseRead:
        yield RESTART, []
        yield from _precise_csv(table, path, header)


class _NeedsPreciseRead(Exception):
    pass


RESTART: pa.Table = pa.table({})  # sentinel batch: discard the rows staged so far


def _check_header(table: str, path: Path) -> list[str]:
    name = path.name
    with path.open("rb") as f:
        first = f.readline(1 << 16)
    if not first.strip():
        raise ExtractError([Reject(name, 0, "*", "files.empty", "file is empty (no header row)")])
    try:
        text = first.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        raise ExtractError([Reject(name, 0, "*", "encoding.utf8", "header row is not UTF-8")]) from None
    header = next(csv.reader([text.rstrip("\r\n")]))
    expected = COLUMNS[table]
    if len(header) == 1 and any(d in header[0] for d in (";", "\t", "|")):
        raise ExtractError([Reject(name, 0, "*", "format.delimiter",
                                   "header is not comma-separated (RFC 4180 CSV uses commas)")])
    problems = []
    if len(set(header)) != len(header):
        problems.append(Reject(name, 0, "*", "columns.duplicate", "a column name appears twice in the header"))
    for c in expected:
        if c not in header:
            problems.append(Reject(name, 0, c, "columns.missing", "required column is missing from the header"))
    for i, c in enumerate(header):
        if c not in expected:
            problems.append(Reject(name, 0, f"#{i + 1}", "columns.extra", "column is not part of the extract format"))
    if problems:
        raise ExtractError(problems)
    return header


def _to_schema(table: str, t: pa.Table, offset: int) -> pa.Table:
    cols = [t.column(c) for c in COLUMNS[table]]
    rows = pa.array(np.arange(offset + 1, offset + t.num_rows + 1, dtype=np.uint64))
    return pa.Table.from_arrays(cols + [rows], names=COLUMNS[table] + ["_row"])


def _fast_csv(table: str, path: Path, header: list[str]) -> Iterator[tuple[pa.Table, list[Reject]]]:
    bad: list[object] = []

    def on_invalid(row):  # any malformed row: read the whole file again the careful way
        bad.append(row)
        return "skip"

    opts_read = pacsv.ReadOptions(block_size=1 << 24, use_threads=True)
    opts_parse = pacsv.ParseOptions(delimiter=",", quote_char='"', double_quote=True, escape_char=False,
                                    newlines_in_values=True, invalid_row_handler=on_invalid)
    opts_conv = pacsv.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False,
                                     quoted_strings_can_be_null=False, null_values=[], check_utf8=True)
    # batches are staged as they are parsed (memory stays one block, whatever the file size); a
    # later parse error makes the caller discard them (RESTART) and read the file the careful way
    offset = 0
    try:
        reader = pacsv.open_csv(path, read_options=opts_read, parse_options=opts_parse, convert_options=opts_conv)
        for b in reader:
            if bad:
                raise _NeedsPreciseRead
            t = pa.Table.from_batches([b])
            yield _to_schema(table, t, offset), []
            offset += t.num_rows
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError):
        raise _NeedsPreciseRead from None
    if bad:
        raise _NeedsPreciseRead


def _precise_csv(table: str, path: Path, header: list[str]) -> Iterator[tuple[pa.Table, list[Reject]]]:
    """Row-by-row read that can name the broken row; used only for files pyarrow refused."""
    name = path.name
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.decode("utf-8", errors="surrogateescape")  # bad bytes survive as lone surrogates
    csv.field_size_limit(1 << 30)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    ncols = len(header)
    good: list[list[str]] = []
    rows: list[int] = []
    rejects: list[Reject] = []
    row = 0
    try:
        next(reader)  # header, already checked
        for rec in reader:
            row += 1
            if rec == [] :
                rejects.append(Reject(name, row, "*", "format.fields", "blank line where a row was expected"))
                continue
            if len(rec) != ncols:
                rejects.append(Reject(name, row, "*", "format.fields",
                                      f"row has {len(rec)} fields, the header has {ncols} "
                                      "(wrong delimiter, stray quote or truncated row)"))
                continue
            bad_col = next((header[i] for i, v in enumerate(rec) if _has_surrogate(v)), None)
            if bad_col is not None:
                rejects.append(Reject(name, row, bad_col, "encoding.utf8", "value is not valid UTF-8"))
                continue
            good.append(rec)
            rows.append(row)
    except csv.Error as err:
        row += 1
        why = "unterminated quoted field (truncated file?)" if "end of data" in str(err) or "EOF" in str(err) \
            else "malformed CSV (quote or NUL byte); the rest of the file cannot be read"
        rejects.append(Reject(name, row, "*", "format.csv", why))
    cols = list(zip(*good)) if good else [[] for _ in header]
    t = pa.table({h: pa.array(list(c), pa.string()) for h, c in zip(header, cols)})
    t = pa.Table.from_arrays([t.column(c) for c in COLUMNS[table]] + [pa.array(np.array(rows, dtype=np.uint64))],
                             names=COLUMNS[table] + ["_row"])
    yield t, rejects


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _parquet_batches(table: str, path: Path) -> Iterator[tuple[pa.Table, list[Reject]]]:
    name = path.name
    try:
        pf = pq.ParquetFile(path)
    except Exception:  # noqa: BLE001 - any unreadable parquet is a broken file
        raise ExtractError([Reject(name, 0, "*", "format.parquet", "not a readable Parquet file (truncated?)")]) from None
    names = pf.schema_arrow.names
    expected = COLUMNS[table]
    problems = [Reject(name, 0, c, "columns.missing", "required column is missing") for c in expected if c not in names]
    problems += [Reject(name, 0, c, "columns.extra", "column is not part of the extract format")
                 for c in names if c not in expected]
    if problems:
        raise ExtractError(problems)
    batches = []
    try:
        for b in pf.iter_batches(batch_size=1 << 20, columns=expected):
            batches.append(b)
    except Exception:  # noqa: BLE001
        raise ExtractError([Reject(name, 0, "*", "format.parquet", "Parquet file could not be read to the end (truncated?)")]) from None
    offset = 0
    for b in batches:
        cols = []
        for c in expected:
            col = b.column(c)
            if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
                s = col
            elif pa.types.is_date(col.type) or pa.types.is_integer(col.type):
                s = col.cast(pa.string())
            elif pa.types.is_null(col.type):  # a column that is empty on every row
                s = pa.array([""] * len(col), pa.string())
            else:
                raise ExtractError([Reject(name, 0, c, "format.type",
                                           "column type must be string, date or integer")])
            cols.append(s.fill_null("").cast(pa.string()))
        t = pa.Table.from_arrays(cols, names=expected)
        yield _to_schema(table, t, offset), []
        offset += t.num_rows

"""Reading and validating raw extracts (spec/extracts.md): files -> staging tables + rejects.

Every file is read into a staging table of String columns plus ``_row`` (1 = the first data row
after the header). Parsing is chDB's own CSV / Parquet reader (``file()``, set to the format's
strict reading: see CSV_SETTINGS); a CSV file it refuses (a row with the wrong number of fields, an
unterminated quote) or that holds bytes that are not UTF-8 is read again by Python's csv module,
which can say which row broke which rule. Then every check is a ClickHouse query per table
(``loaders/validate.py``), so a large extract is never walked row by row in Python. Messages name
file, row, column and rule and never a value, so no person id, name, birth date or docket number
can reach a report or a terminal.
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
import pyarrow.parquet as pq

from sqlglot import exp

from crosstrack.engine import Engine, EngineError
from crosstrack.problem import Problem, ProblemError

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


class Reject(Problem):
    """One rejected extract row (or file): a problem with code ``extract.<rule>`` and loc
    ``(file, row, column)``. ``row`` 1 is the first data row after the header, 0 the file as a
    whole or its header; ``column`` is "*" when the whole row is affected; ``rule`` is the
    validation rule's short id (``format.date``, as the rejects table stores it); the message
    says what is wrong and never holds the value itself."""

    def __init__(self, file: str, row: int, column: str, rule: str, message: str):
        super().__init__(extract_code(rule), message, (file, row, column))
        object.__setattr__(self, "rule", rule)

    @property
    def file(self) -> str:
        return str(self.loc[0])

    @property
    def row(self) -> int:
        return int(self.loc[1])

    @property
    def column(self) -> str:
        return str(self.loc[2])


def extract_code(rule: str) -> str:
    """A validation rule id as a problem code: ``format.date`` -> ``extract.format_date``."""
    return "extract." + rule.replace(".", "_").replace("-", "_")


class ExtractError(ProblemError, RuntimeError):
    """The extract cannot be loaded at all (missing file, wrong header...)."""

    def __init__(self, rejects: list[Reject]):
        super().__init__(rejects)
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


# chDB's own readers, set to read exactly what the extract format (spec/extracts.md) says: every
# field a string as written (no trimming, no \\N as NULL, no single quotes), a row with more or
# fewer fields than the header an error, never a skipped or defaulted row. Measured against
# pyarrow staging per table (benchmarks/bench_read.py, issue 18), chDB's reader was faster for
# every table in both formats, so it is the only fast path; a file it refuses is read again by
# Python's csv module, which can name the broken row.
CSV_SETTINGS = {
    "input_format_csv_skip_first_lines": 1,  # the header, checked by _check_header
    "input_format_csv_trim_whitespaces": 0, "input_format_null_as_default": 0, "format_csv_allow_single_quotes": 0,
    "format_csv_allow_double_quotes": 1, "format_csv_delimiter": ",",
    "input_format_csv_allow_variable_number_of_columns": 0, "input_format_csv_use_default_on_bad_values": 0,
    "input_format_allow_errors_num": 0, "input_format_allow_errors_ratio": 0,
}
# Parquet: rows keep the file's order
PARQUET_SETTINGS = {"input_format_parquet_preserve_order": 1,
                    "input_format_allow_errors_num": 0, "input_format_allow_errors_ratio": 0}


def stage_file(engine: Engine, db: str, table: str, path: Path,
               on_rows: Callable[[int], None] | None = None) -> StagedFile:
    """Read one file into ``db.raw_<table>``; returns its checksum and the rows that could not be parsed."""
    engine.command(raw_table_ddl(db, table))
    # the checksum is computed while the file is parsed (hashlib releases the GIL on big reads)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        checksum = pool.submit(sha256_of, path)
        rejects: list[Reject] = []
        if path.suffix == ".parquet":
            _check_parquet(table, path)
            if not _read_native(engine, db, table, path, "Parquet", COLUMNS[table]):
                raise ExtractError([Reject(path.name, 0, "*", "format.parquet",
                                           "Parquet file could not be read to the end (truncated?)")])
        else:
            header = _check_header(table, path)
            if not _read_native(engine, db, table, path, "CSV", header):
                # chDB refused the file (or it holds bytes that are not UTF-8): start again from an
                # empty table with the reader that names each broken row
                engine.command(f"TRUNCATE TABLE `{db}`.`raw_{table}`")
                for batch, batch_rejects in _precise_csv(table, path, header):
                    rejects.extend(batch_rejects)
                    if batch.num_rows:
                        engine.insert_arrow(f"raw_{table}", batch, database=db)
        total = int(engine.scalar(f"SELECT count() FROM `{db}`.`raw_{table}`") or 0)
        if on_rows:
            on_rows(total)
        return StagedFile(table, path, checksum.result(), total + len({r.row for r in rejects if r.row}), rejects)


def _read_native(engine: Engine, db: str, table: str, path: Path, fmt: str, names: list[str]) -> bool:
    """``INSERT INTO raw_<table> SELECT ... FROM file(path)`` with chDB's reader; False (and the
    table possibly part-filled) when chDB refuses the file or, for CSV, a value is not UTF-8.
    ``names``: the file's columns in file order (checked against the format already)."""
    # names are the format's own column names. Parquet: a null (a date or value left out) reads as
    # NULL, then as the empty field pyarrow staging wrote for it
    kind = "String" if fmt == "CSV" else "Nullable(String)"
    structure = ", ".join(f"{n} {kind}" for n in names)
    source = exp.Table(this=exp.Anonymous(this="file", expressions=[
        exp.Literal.string(str(path.resolve())), exp.Literal.string(fmt), exp.Literal.string(structure)]))
    # _row: 1 = the first data row; chDB's parallel parsing keeps the file's order
    row = exp.Anonymous(this="toUInt64", expressions=[exp.Add(
        this=exp.Anonymous(this="rowNumberInAllBlocks"), expression=exp.Literal.number(1))])
    cols = [exp.column(c, quoted=True) for c in COLUMNS[table]]
    if fmt != "CSV":
        cols = [exp.alias_(exp.Anonymous(this="ifNull", expressions=[c, exp.Literal.string("")]), c.name, quoted=True)
                for c in cols]
    query = exp.select(*cols, row).from_(source)
    # the reader's settings travel in the statement (SETTINGS ...): they belong to this read only
    query.set("settings", [exp.EQ(this=exp.column(k), expression=exp.convert(v))
                           for k, v in (CSV_SETTINGS if fmt == "CSV" else PARQUET_SETTINGS).items()])
    target = exp.Schema(this=exp.table_(f"raw_{table}", db=db),
                        expressions=[exp.to_identifier(c, quoted=True) for c in COLUMNS[table] + ["_row"]])
    try:
        engine.command(exp.insert(query, target))
    except EngineError:
        return False
    if fmt == "CSV":
        valid = " AND ".join(f"isValidUTF8(`{c}`)" for c in COLUMNS[table])
        if engine.scalar(f"SELECT count() FROM `{db}`.`raw_{table}` WHERE NOT ({valid})"):
            return False
    return True


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


def _check_parquet(table: str, path: Path) -> None:
    """The file opens, has exactly the format's columns, and each is a string, date or integer."""
    name = path.name
    try:
        pf = pq.ParquetFile(path)
    except Exception:  # noqa: BLE001 - any unreadable parquet is a broken file
        raise ExtractError([Reject(name, 0, "*", "format.parquet", "not a readable Parquet file (truncated?)")]) from None
    schema = pf.schema_arrow
    expected = COLUMNS[table]
    problems = [Reject(name, 0, c, "columns.missing", "required column is missing") for c in expected
                if c not in schema.names]
    problems += [Reject(name, 0, c, "columns.extra", "column is not part of the extract format")
                 for c in schema.names if c not in expected]
    problems += [Reject(name, 0, f.name, "format.type", "column type must be string, date or integer")
                 for f in schema if f.name in expected and not (
                     pa.types.is_string(f.type) or pa.types.is_large_string(f.type) or pa.types.is_date(f.type)
                     or pa.types.is_integer(f.type) or pa.types.is_null(f.type))]
    if problems:
        raise ExtractError(problems)

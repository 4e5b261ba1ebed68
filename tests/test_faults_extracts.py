"""Faults: corrupt or partial extract files are rejected with a reason (file, row, column) and
nothing is published — the previously published version, its database and its rows stay
exactly as they were (contracts: atomic publish; extracts.md: "reject what breaks it with a
reason per row, and never guess"; P3: no identifier in any reject message).

Every case corrupts one copy of a good synthetic extract and runs the real loader into the
process's chDB engine, on a database that already holds a published version.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from crosstrack.config import load_settings
from crosstrack.engine import Engine

YEARS = [2023, 2024]
DATABASE = "hf_corrupt"
TEN_MB = 10 * 1024 * 1024


def _fingerprint(engine: Engine, database: str) -> dict[str, tuple[int, int]]:
    """(rows, xor of row hashes) of every fact table: any change to the published rows shows."""
    out = {}
    for table in ("custody_facts", "charge_facts"):
        n, h = engine.query(f"SELECT count(), groupBitXor(cityHash64(*)) FROM `{database}`.`{table}`").rows[0]
        out[table] = (int(n), int(h))
    return out


@pytest.fixture(scope="module")
def corrupt_env(tmp_path_factory):
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.pipeline import run_load
    from crosstrack.loaders.publish import current_version

    root = tmp_path_factory.mktemp("harden-corrupt")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=root, database=DATABASE,
                             person_key_secret="harden-secret", snapshot_years=YEARS)
    good = root / "good"
    generate_extracts(good, seed=11, scale=0.01, years=YEARS)
    assert run_load(settings, good, console=Console(stderr=True, quiet=True)) == 0
    engine = Engine.from_settings(settings)
    v = current_version(engine, settings)
    assert v is not None
    ids = set()
    with (good / "people.csv").open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            ids.add(r["person_id"])
            ids.add(r["date_of_birth"])
    with (good / "charges.csv").open(encoding="utf-8", newline="") as f:
        ids.update(r["docket_number"] for r in csv.DictReader(f))
    return dict(settings=settings, good=good, root=root, engine=engine, version=v,
                fingerprint=_fingerprint(engine, v.database), identifiers=ids)


def _rewrite(path: Path, fn) -> None:
    path.write_bytes(fn(path.read_bytes()))


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def _write_rows(path: Path, rows: list[list[str]], delimiter: str = ",") -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _truncate_mid_row(d: Path) -> None:
    _rewrite(d / "custody_episodes.csv", lambda b: b[: int(len(b) * 0.6)])


def _truncate_in_quote(d: Path) -> None:
    # cut right after an opening quote of a quoted field: an unterminated quoted field
    def cut(b: bytes) -> bytes:
        i = b.find(b',"', len(b) // 2)
        return b[: i + 2]
    _rewrite(d / "people.csv", cut)


def _truncate_to_nothing(d: Path) -> None:
    (d / "charges.csv").write_bytes(b"")


def _header_only(d: Path) -> None:
    # people.csv keeps only its header: every episode then refers to an unknown person
    _rewrite(d / "people.csv", lambda b: b.split(b"\n", 1)[0] + b"\n")


def _utf16(d: Path) -> None:
    p = d / "people.csv"
    p.write_bytes(p.read_text(encoding="utf-8").encode("utf-16"))


def _latin1_value(d: Path) -> None:
    rows = _rows(d / "custody_episodes.csv")
    rows[3][4] = "Maison d'arr\u00eat"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    (d / "custody_episodes.csv").write_bytes(buf.getvalue().encode("latin-1"))


def _semicolons(d: Path) -> None:
    _write_rows(d / "program_enrollments.csv", _rows(d / "program_enrollments.csv"), delimiter=";")


def _tabs(d: Path) -> None:
    _write_rows(d / "charges.csv", _rows(d / "charges.csv"), delimiter="\t")


def _extra_column(d: Path) -> None:
    rows = _rows(d / "people.csv")
    _write_rows(d / "people.csv", [r + (["name"] if i == 0 else ["Jane Doe"]) for i, r in enumerate(rows)])


def _missing_column(d: Path) -> None:
    rows = _rows(d / "people.csv")
    _write_rows(d / "people.csv", [r[:1] + r[2:] for r in rows])


def _duplicate_column(d: Path) -> None:
    rows = _rows(d / "people.csv")
    _write_rows(d / "people.csv", [r[:-1] + [r[0] if i == 0 else r[-1]] for i, r in enumerate(rows)])


def _extra_field_in_row(d: Path) -> None:
    rows = _rows(d / "charges.csv")
    rows[5] = rows[5] + ["surplus"]
    _write_rows(d / "charges.csv", rows)


def _missing_field_in_row(d: Path) -> None:
    rows = _rows(d / "charges.csv")
    rows[7] = rows[7][:-2]
    _write_rows(d / "charges.csv", rows)


def _ten_mb_field(d: Path) -> None:
    rows = _rows(d / "custody_episodes.csv")
    rows[2][4] = "x" * TEN_MB
    _write_rows(d / "custody_episodes.csv", rows)


def _ten_mb_quoted_multiline(d: Path) -> None:
    rows = _rows(d / "program_enrollments.csv")
    rows[1][2] = ("line\n" * (TEN_MB // 5))
    _write_rows(d / "program_enrollments.csv", rows)


def _nul_byte(d: Path) -> None:
    # a NUL inside a coded value (race "W" becomes "W\0")
    _rewrite(d / "people.csv", lambda b: b.replace(b',"W",', b',"W\x00",', 1))


def _missing_file(d: Path) -> None:
    (d / "program_enrollments.csv").unlink()


def _both_formats(d: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq.write_table(pacsv.read_csv(d / "people.csv"), d / "people.parquet")


def _truncated_parquet(d: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    src = d / "people.csv"
    pq.write_table(pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(
        column_types={c: "string" for c in _rows(src)[0]})), d / "people.parquet")
    src.unlink()
    _rewrite(d / "people.parquet", lambda b: b[: len(b) // 2])


def _bad_date(d: Path) -> None:
    rows = _rows(d / "people.csv")
    rows[4][1] = "1980-02-30"
    rows[6][1] = "31/12/1980"
    _write_rows(d / "people.csv", rows)


def _binary_garbage(d: Path) -> None:
    import random

    rnd = random.Random(5)
    _rewrite(d / "charges.csv", lambda b: b[:200] + bytes(rnd.getrandbits(8) for _ in range(4000)))


CASES = {
    "truncated_mid_row": (_truncate_mid_row, "custody_episodes.csv"),
    "truncated_in_quoted_field": (_truncate_in_quote, "people.csv"),
    "truncated_to_zero_bytes": (_truncate_to_nothing, "charges.csv"),
    "header_only": (_header_only, None),
    "utf16_encoding": (_utf16, "people.csv"),
    "latin1_value": (_latin1_value, "custody_episodes.csv"),
    "semicolon_delimiter": (_semicolons, "program_enrollments.csv"),
    "tab_delimiter": (_tabs, "charges.csv"),
    "extra_column": (_extra_column, "people.csv"),
    "missing_column": (_missing_column, "people.csv"),
    "duplicate_column": (_duplicate_column, "people.csv"),
    "extra_field_in_row": (_extra_field_in_row, "charges.csv"),
    "missing_field_in_row": (_missing_field_in_row, "charges.csv"),
    "ten_mb_field": (_ten_mb_field, "custody_episodes.csv"),
    "ten_mb_multiline_field": (_ten_mb_quoted_multiline, "program_enrollments.csv"),
    "nul_byte": (_nul_byte, "people.csv"),
    "missing_file": (_missing_file, "program_enrollments.csv"),
    "csv_and_parquet": (_both_formats, "people.csv"),
    "truncated_parquet": (_truncated_parquet, "people.parquet"),
    "impossible_dates": (_bad_date, "people.csv"),
    "binary_garbage": (_binary_garbage, "charges.csv"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_extract_rejected_nothing_published(corrupt_env, case, tmp_path):
    """Faults/atomic publish: a corrupt extract is rejected with a reason naming file, row and
    column; the published version and every published row are unchanged (P3: no identifier in
    the reasons)."""
    from crosstrack.loaders.pipeline import run_load
    from crosstrack.loaders.publish import current_version, published_versions

    corrupt, expect_file = CASES[case]
    folder = tmp_path / "extract"
    shutil.copytree(corrupt_env["good"], folder)
    corrupt(folder)
    settings = corrupt_env["settings"]
    report = tmp_path / "rejects.csv"
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    code = run_load(settings, folder, rejects_report=report, console=console)
    assert code != 0, f"{case}: the loader accepted a corrupt extract"

    engine = corrupt_env["engine"]
    before = corrupt_env["version"]
    after = current_version(engine, settings)
    assert after is not None and after.version_id == before.version_id and after.database == before.database
    assert [v.version_id for v in published_versions(engine, settings)] == [before.version_id]
    assert _fingerprint(engine, before.database) == corrupt_env["fingerprint"]

    assert report.exists(), f"{case}: no rejects report written"
    with report.open(encoding="utf-8", newline="") as f:
        rejects = list(csv.DictReader(f))
    assert rejects, f"{case}: the rejects report is empty"
    for r in rejects:
        assert r["file"] and r["row"] != "" and r["column"] and r["code"].startswith("extract.") and r["message"], r
        assert int(r["row"]) >= 0
    if expect_file:
        assert any(r["file"] == expect_file for r in rejects), (case, rejects[:3])
    text = report.read_text(encoding="utf-8") + out.getvalue()
    leaked = [i for i in corrupt_env["identifiers"] if i and i in text]
    assert not leaked, f"{case}: identifiers in the reject reasons: {leaked[:3]}"
    assert "x" * 1000 not in text, "a reject message echoed the oversized value"


def test_rejected_loads_leave_no_published_trace(corrupt_env):
    """Atomic publish: after every rejected load, the next good load publishes v2 cleanly and
    the history lists only real publishes (no half-published version)."""
    from crosstrack.loaders.pipeline import run_load
    from crosstrack.loaders.publish import current_version, published_versions

    settings = corrupt_env["settings"]
    engine = corrupt_env["engine"]
    code = run_load(settings, corrupt_env["good"], console=Console(stderr=True, quiet=True))
    assert code == 0
    v = current_version(engine, settings)
    assert v.version_id != corrupt_env["version"].version_id
    assert len(published_versions(engine, settings)) == 2
    assert _fingerprint(engine, v.database) == corrupt_env["fingerprint"], "same extract, same facts"
    leftovers = [n for (n,) in engine.query("SELECT name FROM system.databases").rows
                 if n.startswith(DATABASE + "_") and n not in {v.database, corrupt_env["version"].database}]
    assert not leftovers, f"rejected loads left databases behind: {leftovers}"

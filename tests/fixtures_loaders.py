"""Shared helpers and fixtures for the loader tests (import from test files).

Everything runs on the one in-process ``chdb://memory`` engine; each load gets its own
database name so tests never see each other's data.
"""

from __future__ import annotations

import csv
import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from crosstrack.config import Settings, load_settings
from crosstrack.engine import Engine
from crosstrack.loaders.extract import COLUMNS

_counter = itertools.count(1)


def memory_settings(data_dir: Path, *, years: list[int] | None = None, database: str | None = None) -> Settings:
    return load_settings(clickhouse_url="chdb://memory", data_dir=data_dir,
                         database=database or f"lt_{uuid.uuid4().hex[:10]}",
                         person_key_secret="test-secret", snapshot_years=years or [2023])


def quiet_console() -> Console:
    return Console(stderr=True, quiet=True)


def person(pid: str, dob: str = "1980-06-15", sex: str = "M", gi: str = "Male", race: str = "W",
           eth: str = "N") -> dict[str, str]:
    return dict(person_id=pid, date_of_birth=dob, assigned_sex=sex, gender_identity=gi, race=race, ethnicity=eth)


def episode(eid: str, pid: str, adm: str, rel: str = "", *, status: str = "SENTENCED", agency: str = "SUF",
            adm_type: str = "NEW", ftype: str | None = None, sec: str = "", system: str | None = None,
            facility: str = "Some facility") -> dict[str, str]:
    doc = agency == "DOC"
    return dict(episode_id=eid, person_id=pid, source_system=system or ("IMS" if doc else ("OMS" if status == "SENTENCED" else "JMS")),
                agency=agency, facility=facility,
                facility_type=ftype or ("PRISON" if doc else ("HOC" if status == "SENTENCED" else "JAIL")),
                security_level=sec, custody_status=status, admission_type=adm_type, admission_date=adm,
                release_date=rel)


def charge(pid: str, eid: str, *, docket: str = "2201CR000001", filing: str = "2022-01-10", no: int = 1,
           statute: str = "265/13A(a)", sev: str = "M", disp: str = "CONVICTED", sentence: str = "INCARCERATION",
           gov: str = "") -> dict[str, str]:
    return dict(person_id=pid, episode_id=eid, docket_number=docket, filing_date=filing, charge_number=str(no),
                statute=statute, severity=sev, disposition=disp, sentence=sentence, governing=gov)


def program(pid: str, start: str, *, psi: str = "EDU", agency: str = "SUF", end: str = "", status: str = "ENROLLED",
            name: str = "Adult Basic Education") -> dict[str, str]:
    return dict(person_id=pid, agency=agency, program=name, psi_area=psi, start_date=start, end_date=end, status=status)


def write_extract(folder: Path, *, people: list[dict], episodes: list[dict], charges: list[dict] = (),
                  programs: list[dict] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("people", people), ("custody_episodes", episodes), ("charges", charges),
                       ("program_enrollments", programs)):
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS[name])
            w.writeheader()
            for r in rows:
                w.writerow(r)
    return folder


def load(settings: Settings, folder: Path, **kw: Any) -> int:
    """Load a folder quietly. Tiny rule extracts often have no charges or programs, so every table
    may be empty here (the refusal of empty files is tested in test_operator_messages.py)."""
    from crosstrack.loaders.extract import TABLES
    from crosstrack.loaders.pipeline import run_load
    kw.setdefault("allow_empty", TABLES)
    return run_load(settings, folder, console=quiet_console(), **kw)


def facts(settings: Settings, table: str = "custody_facts") -> list[dict[str, Any]]:
    from crosstrack.loaders.publish import current_version
    engine = Engine.from_settings(settings)
    v = current_version(engine, settings)
    assert v is not None, "nothing was published"
    return engine.query(f"SELECT * FROM `{v.database}`.`{table}` ORDER BY snapshot_year, person_key").dicts()


def load_facts(tmp_path: Path, *, years: list[int] | None = None, table: str = "custody_facts",
               **tables: list[dict]) -> list[dict[str, Any]]:
    """Write a tiny extract, load it (must succeed) and return the rows of one fact table."""
    settings = memory_settings(tmp_path / f"data{next(_counter)}", years=years)
    folder = write_extract(tmp_path / f"extract{next(_counter)}", **tables)
    rc = load(settings, folder)
    assert rc == 0, f"load failed with exit code {rc}"
    return facts(settings, table)


@pytest.fixture(scope="session")
def synthetic_scale1(api_s1):
    """Scale-1 synthetic extracts loaded into chdb://memory; (settings, version, extract folder).

    The same generated and loaded data as the attack suite's ``api_s1`` (seed 5, scale 1, every
    snapshot year): the calibration claims hold for any seed at scale 1, so one scale-1 load
    serves both instead of two (tests/conftest.py keeps every test of it on one xdist worker)."""
    from crosstrack.loaders.publish import current_version
    settings = api_s1.settings
    return settings, current_version(Engine.from_settings(settings), settings), api_s1.extracts


def key_of(pid: str) -> int:
    from crosstrack.loaders.facts import person_keys
    return int(person_keys(b"test-secret", [pid])[0][0])


def by_person(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows keyed by 'P<n>' test person ids (recovered through the test secret)."""
    out = {}
    for r in rows:
        out.setdefault(r["person_key"], []).append(r)
    return out

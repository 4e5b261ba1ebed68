"""Fixtures for the hardening tests (rate limits, fuzzing, faults, identifier scans).

``serve_asgi`` runs any ASGI app on a loopback port with uvicorn in a thread, so tests talk to
it over real HTTP; every server it starts is stopped at the end of the test that asked.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from fixtures_api import ThreadServer


def _servers() -> Iterator[Callable[..., ThreadServer]]:
    started: list[ThreadServer] = []

    def _serve(app: Any, **kw: Any) -> ThreadServer:
        srv = ThreadServer(app, lifespan="on", timeout_keep_alive=30, **kw).start()
        started.append(srv)
        return srv

    yield _serve
    for srv in started:
        srv.stop()


@pytest.fixture
def serve_asgi() -> Iterator[Callable[..., ThreadServer]]:
    yield from _servers()


@pytest.fixture(scope="module")
def serve_asgi_module() -> Iterator[Callable[..., ThreadServer]]:
    """``serve_asgi`` for module-scoped apps."""
    yield from _servers()


# --- identifier capture (K6 / P3) ----------------------------------------------------------------
import csv as _csv
import logging as _logging
import re as _re
from dataclasses import dataclass as _dataclass, field as _field
from pathlib import Path as _Path

# Tokens are the runs of alphanumerics: every other byte becomes a space and bytes.split() cuts
# them, in C (twice as fast as a regex findall over a 2 MB answer).
_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TO_SPACES = bytes(b if b in _ALNUM else 32 for b in range(256))
# An exact date, 19YY-MM-DD or 20YY-MM-DD with no digit either side, is found from its "-MM-DD"
# tail: a pattern that starts with a literal is searched for fast, while one that starts with a
# look-behind is tried at every byte (50 times slower on a 2 MB answer); the year is checked after.
_DATE_TAIL = _re.compile(rb"-([01][0-9])-([0-3][0-9])(?![0-9])")
# Shapes of the synthetic extracts' identifiers, flagged even when not in the loaded set.
_SHAPES = _re.compile(rb"SID[0-9]{6,}|E[0-9]{8}|[0-9]{4}CR[0-9]{6}")  # matched on whole tokens


@_dataclass
class Capture:
    """Every byte the tests received from the app (bodies, headers, SQL rows, logs), scanned as
    it arrives for identifiers from the loaded extracts (P3/K6)."""

    identifiers: set[bytes]
    allowed_dates: set[bytes]
    responses: int = 0
    bytes_seen: int = 0
    hits: list[tuple[str, str]] = _field(default_factory=list)
    by_source: dict[str, int] = _field(default_factory=dict)

    def scan(self, source: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        self.bytes_seen += len(data)
        self.by_source[source] = self.by_source.get(source, 0) + 1
        # Distinct tokens, intersected in C: a 10,000-row answer is a million tokens. An
        # identifier shape is a whole token (alphanumerics bounded by anything else), so the
        # shapes are matched on the distinct tokens too, not in a second pass over the bytes.
        tokens = set(data.translate(_TO_SPACES).split())
        for tok in self.identifiers.intersection(tokens):
            self.hits.append((source, "identifier " + tok.decode()[:4] + "…"))
        for tok in tokens:
            if _SHAPES.fullmatch(tok):
                self.hits.append((source, "identifier-shaped " + tok.decode()[:4] + "…"))
        for date, month, day in _exact_dates(data):
            if date not in self.allowed_dates and not (month == b"01" and day == b"01"):
                self.hits.append((source, "exact date " + date.decode()))

    def response(self, source: str, status: int, headers: Any, body: bytes) -> None:
        self.responses += 1
        pairs = headers.items() if hasattr(headers, "items") else headers
        head = "\n".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in pairs)
        self.scan(source, f"{status}\n{head}\n".encode("utf-8", "surrogatepass") + (body or b""))


def _exact_dates(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(date, month, day) of every 19YY-MM-DD or 20YY-MM-DD with no digit on either side."""
    for m in _DATE_TAIL.finditer(data):
        start = m.start()
        year = data[start - 4:start]
        if start >= 4 and year.isdigit() and year[:2] in (b"19", b"20") and not data[start - 5:start - 4].isdigit():
            yield year + m.group(0), m.group(1), m.group(2)


class _CaptureHandler(_logging.Handler):
    def __init__(self, cap: Capture):
        super().__init__(level=_logging.DEBUG)
        self.cap = cap
        self.records = 0

    def emit(self, record: _logging.LogRecord) -> None:
        try:
            self.records += 1
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + _logging.Formatter().formatException(record.exc_info)
            self.cap.scan("log", text)
        except Exception:  # noqa: BLE001 - a log handler must never raise
            pass


def extract_identifiers(extracts: _Path) -> set[bytes]:
    """person ids, episode ids, dates of birth and docket numbers of the raw extracts."""
    ids: set[bytes] = set()
    cols = {"people.csv": ("person_id",), "custody_episodes.csv": ("episode_id", "person_id"),
            "charges.csv": ("docket_number", "person_id"), "program_enrollments.csv": ("person_id",)}
    for name, wanted in cols.items():
        with (extracts / name).open(encoding="utf-8", newline="") as f:
            for row in _csv.DictReader(f):
                ids.update(row[c].encode() for c in wanted if row.get(c))
    return ids


@pytest.fixture(scope="session")
def harden_capture(api_live: Any) -> Iterator[Capture]:
    """Scanner for every byte the hardening tests receive; logs of the app are captured too.

    Identifiers: the raw extracts' person ids, episode ids and docket numbers, and every
    person_key (decimal and hex) in the published facts. Exact dates: any YYYY-MM-DD except a
    January 1 snapshot and the date of the load itself (``loaded_at``, not about a person)."""
    svc = api_live.service
    version = svc.version()
    ids = extract_identifiers(api_live.extracts)
    for table in ("custody_facts", "charge_facts"):
        rows = svc.engine.query(f"SELECT DISTINCT person_key FROM `{version.database}`.`{table}`").rows
        for (pk,) in rows:
            ids.add(str(int(pk)).encode())
            ids.add(f"{int(pk):x}".encode())
            ids.add(f"{int(pk):016x}".encode())
    allowed = set()
    if version.loaded_at is not None:
        allowed.add(version.loaded_at.date().isoformat().encode())
    import datetime as _dt

    allowed.add(_dt.date.today().isoformat().encode())
    allowed.add(_dt.datetime.now(_dt.timezone.utc).date().isoformat().encode())
    cap = Capture(ids, allowed)
    handler = _CaptureHandler(cap)
    root = _logging.getLogger()
    watched = [_logging.getLogger(n) for n in ("crosstrack", "uvicorn", "uvicorn.error", "api", "cube", "loaders")]
    old_levels = [lg.level for lg in watched]
    root.addHandler(handler)
    for lg in watched:
        lg.setLevel(_logging.DEBUG)
    cap.log_handler = handler  # type: ignore[attr-defined]
    try:
        yield cap
    finally:
        root.removeHandler(handler)
        for lg, lvl in zip(watched, old_levels):
            lg.setLevel(lvl)

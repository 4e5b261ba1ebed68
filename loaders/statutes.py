"""The statute reference table (``loaders/reference/statutes.csv``) and the R12 chapter rule.

A charge's statute is looked up by its most specific entry (R12): as written (``265/15A(b)``),
then at section level with the subsection stripped (``265/15A``), then by a chapter wildcard
(``112/*``); a statute none of these knows takes its chapter's type and that type's Other
sub-type, and the loader reports it. The loader's SQL (``loaders/facts.py``) does the same
look-up with :data:`SECTION_PATTERN`, so the two cannot drift (a test runs both).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from crosstrack.loaders.schema import CHAPTER_TYPES, OFFENSE_SUBTYPES, OTHER_SUBTYPE_OF_TYPE, SEVERITIES

STATUTES_CSV = Path(__file__).resolve().parent / "reference" / "statutes.csv"
# CHAPTER/SECTION at the head of an MGL statute: the section is digits, optional capital letters
# and an optional "½" (c.265 s.13½); whatever follows ((b), (1)(a)(1), /B) is the subsection or
# variant. No capture group, so ClickHouse's extract() returns the whole match.
SECTION_PATTERN = r"^[0-9]{1,3}[A-Z]{0,2}/[0-9]+[A-Z]*(?:½)?"
_SECTION_RE = re.compile(SECTION_PATTERN)


@dataclass(frozen=True)
class Statute:
    statute: str
    offense_type: str
    offense_subtype: str
    severity: str
    citation: str
    description: str


def chapter_of(statute: str) -> str:
    return statute.split("/", 1)[0]


def section_of(statute: str) -> str | None:
    """``265/15A(b)`` -> ``265/15A``; None when the statute is not an MGL CHAPTER/SECTION (CMR,
    MUNI) or is already a bare section."""
    m = _SECTION_RE.match(statute)
    return m.group(0) if m and m.group(0) != statute else None


@lru_cache(maxsize=1)
def load_statutes(path: Path = STATUTES_CSV) -> dict[str, Statute]:
    """Read and check the table: every sub-type is a schema code and its type is the
    sub-type's type (R12), severities are F/M, and no statute is listed twice."""
    out: dict[str, Statute] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            st = Statute(row["statute"], row["offense_type"], row["offense_subtype"], row["severity"],
                         row["citation"], row["description"])
            where = f"{path.name}:{line}"
            if st.offense_subtype not in OFFENSE_SUBTYPES or st.offense_subtype == "NOT_APPLICABLE":
                raise ValueError(f"{where}: unknown offense_subtype {st.offense_subtype!r}")
            if OFFENSE_SUBTYPES[st.offense_subtype][1] != st.offense_type:
                raise ValueError(f"{where}: {st.offense_subtype} belongs to {OFFENSE_SUBTYPES[st.offense_subtype][1]} (R12)")
            if st.severity not in SEVERITIES or st.severity == "NOT_APPLICABLE":
                raise ValueError(f"{where}: severity must be F or M")
            if st.statute in out:
                raise ValueError(f"{where}: statute {st.statute!r} listed twice")
            if not st.citation.startswith(f"M.G.L. c.{chapter_of(st.statute)}"):
                raise ValueError(f"{where}: citation {st.citation!r} does not cite chapter {chapter_of(st.statute)}")
            out[st.statute] = st
    _check_sections(out, path.name)
    return out


def _check_sections(table: dict[str, Statute], name: str) -> None:
    """A section whose listed subsections all share one sub-type must be listed itself with that
    sub-type, so a charge citing the bare section (``265/15A``) gets it instead of the chapter's
    Other. Sections whose subsections differ (c.265 s.13A: assault vs. A&B) are not listed: the
    bare section says too little, and falls to the chapter (reported by the loader)."""
    by_section: dict[str, set[str]] = {}
    for st in table.values():
        sec = section_of(st.statute)
        if sec:
            by_section.setdefault(sec, set()).add(st.offense_subtype)
    for sec, subs in sorted(by_section.items()):
        row = table.get(sec)
        if len(subs) == 1 and row is None:
            raise ValueError(f"{name}: every subsection of {sec} is {next(iter(subs))}, but {sec} has no row")
        if row is not None and row.offense_subtype not in subs:
            raise ValueError(f"{name}: {sec} is {row.offense_subtype}, but its subsections are {sorted(subs)}")


def lookup(statute: str) -> Statute | None:
    """The most specific row for a statute: as written, its section, its chapter wildcard."""
    table = load_statutes()
    sec = section_of(statute)
    return table.get(statute) or (table.get(sec) if sec else None) or table.get(chapter_of(statute) + "/*")


def coverage() -> dict[str, list[str]]:
    """Sub-type -> the MGL sections (chapter/section, subsections folded) that the table files
    under it; every FAQ sub-type has at least one (a test checks)."""
    out: dict[str, set[str]] = {}
    for st in load_statutes().values():
        out.setdefault(st.offense_subtype, set()).add(section_of(st.statute) or st.statute)
    return {k: sorted(v) for k, v in out.items()}


def chapter_type(statute: str) -> str:
    """R12: the type a statute's chapter gives it (CMR, MUNI and other chapters: OTHER)."""
    return CHAPTER_TYPES.get(chapter_of(statute), "OTHER")


def classify(statute: str) -> tuple[str, str, bool]:
    """(offense_type, offense_subtype, known) for one statute, the same way the loader's SQL does."""
    hit = lookup(statute)
    if hit:
        return hit.offense_type, hit.offense_subtype, True
    t = chapter_type(statute)
    return t, OTHER_SUBTYPE_OF_TYPE[t], False

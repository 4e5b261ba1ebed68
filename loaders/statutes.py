"""The statute reference table (``loaders/reference/statutes.csv``) and the R12 chapter rule."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from loaders.schema import CHAPTER_TYPES, OFFENSE_SUBTYPES, OTHER_SUBTYPE_OF_TYPE, SEVERITIES

STATUTES_CSV = Path(__file__).resolve().parent / "reference" / "statutes.csv"


@dataclass(frozen=True)
class Statute:
    statute: str
    offense_type: str
    offense_subtype: str
    severity: str
    description: str


def chapter_of(statute: str) -> str:
    return statute.split("/", 1)[0]


@lru_cache(maxsize=1)
def load_statutes(path: Path = STATUTES_CSV) -> dict[str, Statute]:
    """Read and check the table: every sub-type is a schema code and its type is the
    sub-type's type (R12), severities are F/M, and no statute is listed twice."""
    out: dict[str, Statute] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            st = Statute(row["statute"], row["offense_type"], row["offense_subtype"], row["severity"],
                         row["description"])
            where = f"{path.name}:{line}"
            if st.offense_subtype not in OFFENSE_SUBTYPES or st.offense_subtype == "NOT_APPLICABLE":
                raise ValueError(f"{where}: unknown offense_subtype {st.offense_subtype!r}")
            if OFFENSE_SUBTYPES[st.offense_subtype][1] != st.offense_type:
                raise ValueError(f"{where}: {st.offense_subtype} belongs to {OFFENSE_SUBTYPES[st.offense_subtype][1]} (R12)")
            if st.severity not in SEVERITIES or st.severity == "NOT_APPLICABLE":
                raise ValueError(f"{where}: severity must be F or M")
            if st.statute in out:
                raise ValueError(f"{where}: statute {st.statute!r} listed twice")
            out[st.statute] = st
    return out


def chapter_type(statute: str) -> str:
    """R12: the type a statute's chapter gives it (CMR, MUNI and other chapters: OTHER)."""
    return CHAPTER_TYPES.get(chapter_of(statute), "OTHER")


def classify(statute: str) -> tuple[str, str, bool]:
    """(offense_type, offense_subtype, known) for one statute, the same way the loader's SQL does."""
    table = load_statutes()
    hit = table.get(statute) or table.get(chapter_of(statute) + "/*")
    if hit:
        return hit.offense_type, hit.offense_subtype, True
    t = chapter_type(statute)
    return t, OTHER_SUBTYPE_OF_TYPE[t], False

"""The datasets as SQL tables: one table per public view, built from the model's metadata.

A table's columns are the view's public dimensions (coded text, or integers for numeric
dimensions such as ``snapshot_year``), its public measures, and ``suppressed``. Hidden members
(cell keys) and anything that is not public never become columns, so ``person_key`` and fact
rows cannot be named through the SQL surface (K6).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crosstrack.api.pgwire.pgtypes import BOOL, FLOAT8, INT8, TEXT

SUPPRESSED = "suppressed"
# Never a column, whatever a model says (K6, P3).
FORBIDDEN = {"person_key", "person_id", "record_key", "docket_number", "date_of_birth", "dob", "name"}


@dataclass(frozen=True)
class Dimension:
    name: str
    oid: int  # TEXT for coded dimensions, INT8 for numeric ones
    title: str = ""
    description: str = ""
    codes: tuple[str, ...] = ()  # allowed values, in display order
    labels: dict[str, str] = field(default_factory=dict)  # code -> label


@dataclass(frozen=True)
class Measure:
    name: str
    agg: str  # countDistinct | count | sum | avg | number | ...
    kind: str  # disclosure kind: people | count | mean | median
    oid: int
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    description: str
    dimensions: dict[str, Dimension]
    measures: dict[str, Measure]

    @property
    def columns(self) -> list[tuple[str, int, str]]:
        """(name, type oid, description) in table order."""
        cols = [(d.name, d.oid, d.description or d.title) for d in self.dimensions.values()]
        cols += [(m.name, m.oid, m.description or m.title) for m in self.measures.values()]
        cols.append((SUPPRESSED, BOOL, "true when fewer than k people contribute to the row (P1); its measures are then NULL"))
        return cols


def tables_from_catalog(catalog: dict[str, Any], extra_codes: dict[str, dict[str, list[str]]] | None = None,
                        agg_types: dict[tuple[str, str], str] | None = None) -> dict[str, Table]:
    """Tables from the API's catalog (``api.catalog.Dataset``): the same datasets, members and
    codes the URL API offers, so both surfaces ask the same questions. ``extra_codes`` gives
    allowed values of dimensions without a code list (snapshot years), per dataset."""
    out: dict[str, Table] = {}
    for name, ds in catalog.items():
        extra = (extra_codes or {}).get(name, {})
        dims: dict[str, Dimension] = {}
        for d in ds.dimensions.values():
            if d.name in FORBIDDEN or d.name == SUPPRESSED:
                continue
            codes = tuple(c for c, _ in d.codes) if d.codes else tuple(str(c) for c in extra.get(d.name, ()))
            numeric = d.type == "number" or (bool(codes) and all(c.lstrip("-").isdigit() for c in codes)
                                             and not d.codes)
            dims[d.name] = Dimension(d.name, INT8 if numeric else TEXT, d.title, d.description, codes,
                                     dict(d.codes) if d.codes else {})
        measures: dict[str, Measure] = {}
        for m in ds.measures.values():
            if m.name in FORBIDDEN or m.name == SUPPRESSED:
                continue
            agg = (agg_types or {}).get((name, m.name)) or m.type
            oid = FLOAT8 if m.kind in ("mean", "median", "rate") else INT8  # rate: a percent (docs/recidivism.md)
            measures[m.name] = Measure(m.name, agg, m.kind, oid, m.title, m.description)
        out[name] = Table(name, ds.title, ds.description, dims, measures)
    return out


def measure_types(meta: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(view, measure) -> Cube aggregation type (``aggType``), for matching SQL aggregates."""
    out: dict[tuple[str, str], str] = {}
    for cube in meta.get("cubes", []):
        for m in cube.get("measures", []):
            short = m["name"].split(".", 1)[1] if "." in m["name"] else m["name"]
            out[(cube["name"], short)] = str(m.get("aggType") or m.get("type") or "number")
    return out

"""The public datasets, read from the semantic layer's meta (never restated by hand).

A dataset is a public view of the model (``type: view``). Its dimensions carry
``meta.codes`` (code/label lists) and, for governing/leading charge dimensions,
``meta.requires`` (R13); its measures carry ``meta.disclosure`` (kind, governed_by); the view
carries ``meta.disclosure`` (people, cell_key). Members with ``public: false`` are never
offered. A measure without a known disclosure kind is not offered either (fail safe).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from crosstrack.api.disclosure import KINDS, DatasetRules, MeasureRule

log = logging.getLogger("crosstrack.api")

SNAPSHOT_DIMENSION = "snapshot_year"
RELEASE_DIMENSION = "release_year"  # the release cohort's year (docs/recidivism.md RC1)
# measure kinds withheld on their own in a published row (docs/recidivism.md RC8, RC12)
WITHHELD_ALONE_KINDS = ("cohort", "event", "rate")


@dataclass(frozen=True)
class Dimension:
    name: str
    member: str
    title: str
    description: str
    type: str
    codes: tuple[tuple[str, str], ...] | None  # (code, label) in display order
    requires: dict[str, Any] | None = None  # R13: {"dimension": ..., "single_filter": true}

    def code_index(self) -> dict[str, int]:
        return {c: i for i, (c, _) in enumerate(self.codes or ())}

    def label(self, code: Any) -> str:
        for c, lab in self.codes or ():
            if c == str(code):
                return lab
        return "" if code is None else str(code)


@dataclass(frozen=True)
class Measure:
    name: str
    member: str
    title: str
    description: str
    type: str
    kind: str
    governed_by: str  # view member
    format: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    description: str
    dimensions: dict[str, Dimension]
    measures: dict[str, Measure]
    rules: DatasetRules
    meta: dict[str, Any] = field(default_factory=dict)
    # meta.disclosure.records: the default measure, counting records (a person once per selected
    # snapshot, R1); the threshold still counts distinct people (meta.disclosure.people)
    records_member: str | None = None

    @property
    def people_measure(self) -> str:
        """Short name of the default measure: the records count when the view names one (R1),
        else the measure counting the cell's distinct people."""
        member = self.records_member or self.rules.people_members[0]
        for m in self.measures.values():
            if m.member == member:
                return m.name
        return member.split(".", 1)[1]


def year_dimension(ds: Dataset) -> dict[str, str] | None:
    """The dataset's year dimension and how the page titles its year control: the snapshot year
    (R1) or, for the release cohort, the release year (RC1)."""
    if SNAPSHOT_DIMENSION in ds.dimensions:
        return {"name": SNAPSHOT_DIMENSION, "legend": "Snapshot years"}
    if ds.meta.get("cohort") == "release" and RELEASE_DIMENSION in ds.dimensions:
        return {"name": RELEASE_DIMENSION, "legend": "Release years (cohorts)"}
    return None


def requirement_target(dim: Dimension) -> str | None:
    """The dimension an R13-gated dimension needs (``meta.requires.dimension``), as a short name."""
    if not dim.requires:
        return None
    return _short(str(dim.requires.get("dimension", ""))) or None


def available_when(ds: Dataset, dim: Dimension,
                   extra_codes: Mapping[str, Sequence[str]]) -> list[dict[str, Any]] | None:
    """R13 as data: the questions in which ``dim`` may be grouped by or filtered on, one entry per
    alternative: ``dimensions`` that must all be grouped by and ``filters`` whose codes must be
    exactly these. None: always available. Derived from the model's ``meta.requires`` and the
    target's codes (the model's, else the published data's), the inputs the server's own check
    (api/params.py) reads, so the page offers exactly what the server accepts without knowing
    the rule."""
    target = requirement_target(dim)
    if target is None:
        return None
    if not dim.requires.get("single_filter"):
        return [{"dimensions": [target], "filters": {}}]
    tdim = ds.dimensions.get(target)
    codes = [c for c, _ in tdim.codes] if tdim and tdim.codes else [str(c) for c in extra_codes.get(target, ())]
    return [{"dimensions": [target], "filters": {target: [code]}} for code in codes]


def _short(member: str) -> str:
    return member.split(".", 1)[1] if "." in member else member


def _full(view: str, name: str) -> str:
    return name if "." in name else f"{view}.{name}"


def _codes(meta: dict[str, Any]) -> tuple[tuple[str, str], ...] | None:
    codes = meta.get("codes")
    if not codes:
        return None
    out = []
    for c in codes:
        if isinstance(c, dict):
            out.append((str(c.get("code")), str(c.get("label", c.get("code")))))
        else:
            out.append((str(c), str(c)))
    return tuple(out)


def build_catalog(meta: dict[str, Any]) -> dict[str, Dataset]:
    """Datasets keyed by name, from ``Model.meta()`` (Cube's /v1/meta shape)."""
    datasets: dict[str, Dataset] = {}
    for cube in meta.get("cubes", []):
        if cube.get("type") != "view" or cube.get("public") is False:
            continue
        view = cube["name"]
        vmeta = cube.get("meta") or {}
        disc = vmeta.get("disclosure") or {}
        if not disc.get("people") or not disc.get("cell_key"):
            log.warning("view %s has no meta.disclosure people/cell_key; not published", view)
            continue
        people = _full(view, disc["people"])
        dims: dict[str, Dimension] = {}
        for d in cube.get("dimensions", []):
            if d.get("public") is False:
                continue
            dm = d.get("meta") or {}
            name = _short(d["name"])
            dims[name] = Dimension(
                name=name, member=_full(view, d["name"]), title=d.get("shortTitle") or d.get("title") or name,
                description=d.get("description") or "", type=d.get("type") or "string",
                codes=_codes(dm), requires=dm.get("requires"))
        measures: dict[str, Measure] = {}
        rules: list[MeasureRule] = []
        for m in cube.get("measures", []):
            if m.get("public") is False:
                continue
            mm = (m.get("meta") or {}).get("disclosure") or {}
            kind = mm.get("kind")
            name = _short(m["name"])
            if kind not in KINDS:
                log.warning("measure %s has no known disclosure kind; not published", m["name"])
                continue
            governed = _full(view, mm.get("governed_by") or people)
            measures[name] = Measure(
                name=name, member=_full(view, m["name"]), title=m.get("shortTitle") or m.get("title") or name,
                description=m.get("description") or "", type=m.get("type") or "number", kind=kind,
                governed_by=governed, format=m.get("format"))
            key = mm.get("key")
            of = mm.get("of")
            rules.append(MeasureRule(name, _full(view, m["name"]), kind, governed, _full(view, key) if key else "",
                                     of=_full(view, of) if of else "", numerator=str(mm.get("numerator") or ""),
                                     denominator=str(mm.get("denominator") or ""),
                                     stream=str(mm.get("stream") or "")))
        if not any(m.member == people for m in measures.values()):
            log.warning("view %s: people member %s is not a public measure; not published", view, people)
            continue
        governing = tuple(sorted({people} | {r.governed_by for r in rules}))
        datasets[view] = Dataset(
            name=view, title=cube.get("title") or view, description=cube.get("description") or "",
            dimensions=dims, measures=measures,
            rules=DatasetRules(governing, _full(view, disc["cell_key"]), tuple(rules),
                               tuple((r.member, r.key) for r in rules if r.member in governing and r.key),
                               primary=people),
            meta=vmeta, records_member=_full(view, disc["records"]) if disc.get("records") else None)
    return datasets

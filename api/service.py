"""``answer``: the one path from a parsed question to safe, published rows.

URL API, Cube-compatible endpoint, SQL surface and web page all call
:meth:`Service.answer`; it resolves the current published data version, asks the semantic
layer (``internal=True``, so the hidden cell key and the people counts come back), applies
disclosure control to every aggregated row, orders on the *published* values (ordering on
true values would leak them) and pages. Nothing else builds rows for output.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from crosstrack.api import lattice
from crosstrack.api.cache import ResultCache
from crosstrack.api.catalog import SNAPSHOT_DIMENSION, Dataset, build_catalog
from crosstrack.api.disclosure import Disclosure
from crosstrack.api.errors import ApiError
from crosstrack.api.params import Question, parse_params
from crosstrack.api.versions import DataVersion, EngineRef, VersionClock, data_version
from crosstrack.config import Settings
from crosstrack.cube import Model
from crosstrack.cube.query import QueryEngine
from crosstrack.engine import Engine, QueryLimitExceeded, query_limits
from crosstrack.loaders.publish import version_states

log = logging.getLogger("crosstrack.api")
RELEASE_DIMENSION = "release_year"


@dataclass(frozen=True)
class FullResult:
    """Every published row of a question (protected and ordered), before paging."""

    rows: tuple[dict[str, Any], ...]
    suppressed_count: int


@dataclass
class SafeResult:
    question: Question
    dataset: Dataset
    version: DataVersion
    rows: list[dict[str, Any]]  # this page: {dim: code, dim_label: label, measure: value|None, suppressed}
    total_rows: int
    suppressed_count: int
    disclosure: dict[str, Any] = field(default_factory=dict)

    @property
    def canonical_url(self) -> str:
        return self.question.url()

    def columns(self) -> list[str]:
        cols: list[str] = []
        for d in self.question.dimensions:
            cols += [d, f"{d}_label"]
        return cols + list(self.question.measures) + ["suppressed"]


# Distinct questions counted for warming (the least asked half is forgotten beyond this).
MAX_COUNTED_QUESTIONS = 5_000
VERSION_ID = re.compile(r"^v[1-9][0-9]{0,8}$")


class QuestionCounts:
    """How often each question was asked (bounded), so a new version can be warmed with the most asked."""

    def __init__(self, limit: int = MAX_COUNTED_QUESTIONS):
        self.limit = limit
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def add(self, key: Any) -> None:
        with self._lock:
            self._counts[key] += 1
            if len(self._counts) > self.limit:
                self._counts = Counter(dict(self._counts.most_common(self.limit // 2)))

    def top(self, n: int) -> list[Any]:
        with self._lock:
            return [k for k, _ in self._counts.most_common(n)]


class Service:
    """The engine, model, catalog, disclosure policy, result cache and version clock of one
    process, each given explicitly (``api/compose.py: build_service`` assembles them)."""

    def __init__(self, settings: Settings, *, engine: EngineRef, model: Model, cache: ResultCache,
                 clock: VersionClock):
        self.settings = settings
        self._engine = engine
        self.model = model
        self._query_engine: QueryEngine | None = None
        self._query_engine_lock = threading.Lock()
        self.meta = model.meta()
        self.catalog: dict[str, Dataset] = build_catalog(self.meta)
        self.disclosure = Disclosure(settings.k)
        self.cache = cache
        self.clock = clock
        self._codes_lock = threading.Lock()
        self._extra_codes: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.asked = QuestionCounts()  # (dataset, Question) asked through answer(), for warming
        # Extra warmers (the URL API's rendered bodies): each gets (DataVersion, how many).
        self.warmers: list[Callable[[DataVersion, int], int]] = []
        self._unavailable: dict[tuple[str, str], dict[str, str]] = {}

    @property
    def engine(self) -> Engine:
        """The engine, opened on first use (raises EngineUnavailable while it is down)."""
        return self._engine.get()

    @property
    def query_engine(self) -> QueryEngine:
        engine = self.engine
        with self._query_engine_lock:
            if self._query_engine is None:
                self._query_engine = QueryEngine(self.model, engine)
            return self._query_engine

    # --- lookups ------------------------------------------------------------------------------
    def dataset(self, name: str) -> Dataset:
        ds = self.catalog.get(name)
        if ds is None:
            raise ApiError(404, "data.unknown_dataset", f"There is no dataset called {name[:60]!r}.",
                           parameter="dataset", allowed=sorted(self.catalog))
        return ds

    def version(self) -> DataVersion:
        """The published data version every query of this request reads (contracts: Published
        data): from the process's version clock, never an engine round trip per request."""
        self.engine  # EngineUnavailable -> 503 before anything else
        version = self.clock.current()
        if version is None:
            raise ApiError(503, "data.not_published", "No data has been published yet; an operator must run `crosstrack load`.",
                           headers={"Retry-After": "30"})
        return version

    def version_for(self, requested: str | None) -> DataVersion:
        """The version a request reads: the published one, or ``data_version=vN`` when that is kept.

        A removed version answers 410 naming the current one (a citation outlived retention); a
        version that never existed 404. Kept versions answer with the same disclosure control."""
        current = self.version()
        if not requested:
            return current
        requested = str(requested).strip()
        if not VERSION_ID.match(requested):
            raise ApiError(400, "param.invalid", f"data_version must look like v12; got {requested[:20]!r}.",
                           parameter="data_version", allowed=f"vN, e.g. {current.version_id}")
        if requested == current.version_id:
            return current
        states = version_states(self.engine, self.settings)
        kept = [st.version.version_id for st in states if st.kept]
        for st in states:
            if st.version.version_id != requested:
                continue
            if not st.kept:
                raise ApiError(410, "data.version_removed",
                               f"Data version {requested} is no longer kept (retention); the current version is "
                               f"{current.version_id}.", parameter="data_version", allowed=kept)
            return data_version(st.version)
        raise ApiError(404, "data.unknown_version", f"There is no data version {requested}; the current version is "
                       f"{current.version_id}.", parameter="data_version", allowed=kept)

    def warm(self, version: DataVersion, n: int) -> int:
        """Answer the ``n`` most asked questions on ``version`` (before readers switch to it), so
        the first requests after the switch find their answers cached. Returns how many were."""
        done = 0
        for ds in self.catalog.values():
            self.extra_codes(ds, version)
        for dataset, question in self.asked.top(n):
            try:
                self.answer(dataset, question, version=version, count=False)
                done += 1
            except ApiError:
                continue  # not a valid question on the new data (a snapshot year went away)
        for warmer in self.warmers:
            done += warmer(version, n)
        return done

    def extra_codes(self, ds: Dataset, version: DataVersion) -> dict[str, list[str]]:
        """Allowed values of dimensions without a code list (the snapshot years), from the data."""
        key = (version.version_id, ds.name)
        with self._codes_lock:
            if key in self._extra_codes:
                return self._extra_codes[key]
        out: dict[str, list[str]] = {}
        for dim in ds.dimensions.values():
            # the snapshot years and the release cohorts (docs/recidivism.md RC1) come from the data
            if dim.codes or dim.name not in (SNAPSHOT_DIMENSION, RELEASE_DIMENSION):
                continue
            res = self.query_engine.load({"dimensions": [dim.member], "measures": [ds.rules.people_members[0]]},
                                         database=version.database, settings=query_limits(self.settings))
            values = sorted({r.get(dim.member) for r in res.data if r.get(dim.member) is not None},
                            key=lambda v: (float(v) if _numeric(v) else float("inf"), str(v)))
            out[dim.name] = [str(v) for v in values]
        with self._codes_lock:
            self._extra_codes[key] = out
        return out

    def unavailable(self, ds: Dataset, version: DataVersion) -> dict[str, str]:
        """Measures this data version cannot answer, with why (docs/recidivism.md RC5, RC6): a
        version-1 extract has no court_charges, so rearraignment and reconviction are unavailable
        (null, never zero). Read once per version from a hidden measure of the model."""
        needs = ds.meta.get("needs_court_data") or []
        probe = ds.meta.get("availability_measure")
        if not needs or not probe:
            return {}
        key = (version.version_id, ds.name)
        with self._codes_lock:
            if key in self._unavailable:
                return dict(self._unavailable[key])
        member = f"{ds.name}.{probe}"
        res = self.query_engine.load({"measures": [member]}, database=version.database,
                                     settings=query_limits(self.settings), internal=True)
        available = bool(res.data and res.data[0].get(member))
        out = {} if available else {
            m: "the published extract has no court_charges (a version-1 extract): rearraignment and reconviction "
               "are unavailable, not zero" for m in needs if m in ds.measures}
        with self._codes_lock:
            self._unavailable[key] = out
        return out

    def known_extra_codes(self, ds: Dataset, version: DataVersion) -> dict[str, list[str]] | None:
        """:meth:`extra_codes` when already known for this version (no engine query), else None."""
        with self._codes_lock:
            return self._extra_codes.get((version.version_id, ds.name))

    def parse(self, dataset: str, items: Iterable[tuple[str, str]], *, default_format: str = "json",
              version: DataVersion | None = None) -> Question:
        ds = self.dataset(dataset)
        version = version or self.version()
        return parse_params(ds, items, self.settings, default_format=default_format,
                            extra_codes=self.extra_codes(ds, version))

    # --- the one path ---------------------------------------------------------------------------
    def answer(self, dataset: str, params: Question | Mapping[str, Any] | Sequence[tuple[str, str]],
               *, version: DataVersion | None = None, count: bool = True) -> SafeResult:
        """Published rows for a question (a Question, or URL parameters as a mapping or pairs).
        A question with ``data_version`` set is answered from that kept version."""
        ds = self.dataset(dataset)
        if isinstance(params, Question):
            question = params
            version = version or self.version_for(question.data_version)
        else:
            items = _items(params)
            pinned = [v for k, v in items if k == "data_version"]
            version = version or self.version_for(pinned[0] if pinned else None)
            question = parse_params(ds, items, self.settings, extra_codes=self.extra_codes(ds, version))
        if question.dataset != ds.name:
            raise ApiError(400, "param.invalid", "The question is for another dataset.", parameter="dataset")
        if count and question.data_version is None:
            self.asked.add((ds.name, question))
        # Single flight: concurrent identical questions compute once (api/cache.py).
        full = self.cache.get_or_compute((version.version_id, question.result_key()),
                                         lambda: self._compute(ds, question, version))
        page = list(full.rows[question.offset: question.offset + question.limit])
        return SafeResult(question, ds, version, page, len(full.rows), full.suppressed_count,
                          self.disclosure.describe())

    def _compute(self, ds: Dataset, q: Question, version: DataVersion) -> FullResult:
        cells = lattice.plan(ds, q)  # K4 splits, RC12 hidden parts (api/lattice.py)
        extra = self.known_extra_codes(ds, version)
        if extra is None and any(not ds.dimensions[d].codes for d in q.dimensions):
            extra = self.extra_codes(ds, version)
        max_rows = self.settings.query_max_result_rows
        grid = lattice.code_grid(ds, q, extra, max_rows)
        # One row more than allowed, so an over-large result is an error, never silently cut.
        result = self.query_engine.load(lattice.engine_query(ds, q, cells, max_rows + 1), database=version.database,
                                        settings=query_limits(self.settings), internal=True)
        if len(result.data) > max_rows:
            raise QueryLimitExceeded("the query result had more rows than the configured limit")
        rows, suppressed = lattice.published_rows(ds, q, cells, result.data, grid, self.disclosure)
        return FullResult(tuple(rows), suppressed)


def _numeric(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _items(params: Mapping[str, Any] | Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        items: list[tuple[str, str]] = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                items += [(k, str(x)) for x in v]
            else:
                items.append((k, str(v)))
        return items
    return [(str(k), str(v)) for k, v in params]


_default: Service | None = None


def set_default_service(service: Service) -> None:
    global _default
    _default = service


def get_service() -> Service:
    """The process's Service, as the app factory (``api/app.py``) or the SQL server set it."""
    if _default is None:
        raise RuntimeError("no Service has been built in this process: build one with "
                           "crosstrack.api.compose.build_service and set_default_service")
    return _default


def answer(dataset: str, params: Question | Mapping[str, Any] | Sequence[tuple[str, str]]) -> SafeResult:
    """The contract's entry point: the process's Service answers."""
    return get_service().answer(dataset, params)

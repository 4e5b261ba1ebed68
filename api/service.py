"""``answer``: the one path from a parsed question to safe, published rows.

URL API, Cube-compatible endpoint, SQL surface and web page all call
:meth:`Service.answer`; it resolves the current published data version, asks the semantic
layer (``internal=True``, so the hidden cell key and the people counts come back), applies
disclosure control to every aggregated row, orders on the *published* values (ordering on
true values would leak them) and pages. Nothing else builds rows for output.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

from crosstrack.api.catalog import SNAPSHOT_DIMENSION, Dataset, build_catalog
from crosstrack.api.disclosure import DatasetRules, Disclosure, MeasureRule
from crosstrack.api.errors import ApiError
from crosstrack.api.params import Question, parse_params
from crosstrack.config import Settings
from crosstrack.engine import Engine, QueryLimitExceeded, query_limits

log = logging.getLogger("crosstrack.api")
RELEASE_DIMENSION = "release_year"


@dataclass(frozen=True)
class DataVersion:
    version_id: str
    database: str
    loaded_at: datetime | None

    @property
    def loaded_at_iso(self) -> str | None:
        return self.loaded_at.isoformat() if self.loaded_at else None


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


class ResultCache(Protocol):
    """Hook for an in-process result cache keyed by (data version, canonical question)."""

    def get(self, key: tuple[str, str]) -> FullResult | None: ...

    def put(self, key: tuple[str, str], value: FullResult) -> None: ...


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


class NoCache:
    def get(self, key: tuple[str, str]) -> FullResult | None:
        return None

    def put(self, key: tuple[str, str], value: FullResult) -> None:
        return None


class Service:
    """Holds the engine, model, catalog and disclosure policy of one process."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None, model: Any = None,
                 cache: ResultCache | None = None,
                 version_provider: Callable[[], DataVersion | None] | None = None):
        from crosstrack import cube  # the semantic layer; imported here so api/ imports stay light

        self.settings = settings
        self._engine = engine
        self._query_engine: Any = None
        self._engine_lock = threading.Lock()
        self.model = model if model is not None else cube.load_model(settings.models_dir)
        self.meta = self.model.meta()
        self.catalog: dict[str, Dataset] = build_catalog(self.meta)
        self.disclosure = Disclosure(settings.k)
        self.cache: ResultCache = cache or NoCache()
        self._version_provider = version_provider
        self._codes_lock = threading.Lock()
        self._extra_codes: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.asked = QuestionCounts()  # (dataset, Question) asked through answer(), for warming
        # Set by an online publisher (api/live.py): the in-process pointer to the published version.
        self.publisher: Any = None
        # Extra warmers (the URL API's rendered bodies): each gets (DataVersion, how many).
        self.warmers: list[Callable[[DataVersion, int], int]] = []
        self._unavailable: dict[tuple[str, str], dict[str, str]] = {}

    # --- engine (opened lazily: the API starts, and answers 503, while the engine is down) -----
    @property
    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = Engine.from_settings(self.settings)  # raises EngineUnavailable
            return self._engine

    @property
    def query_engine(self) -> Any:
        from crosstrack import cube
        engine = self.engine
        with self._engine_lock:
            if self._query_engine is None:
                self._query_engine = cube.QueryEngine(self.model, engine)
            return self._query_engine

    # --- lookups ------------------------------------------------------------------------------
    def dataset(self, name: str) -> Dataset:
        ds = self.catalog.get(name)
        if ds is None:
            raise ApiError(404, "data.unknown_dataset", f"There is no dataset called {name[:60]!r}.",
                           parameter="dataset", allowed=sorted(self.catalog))
        return ds

    def version(self) -> DataVersion:
        """The published data version every query of this request reads (contracts: Published data)."""
        engine = self.engine  # EngineUnavailable -> 503 before anything else
        if self._version_provider is not None:
            pv: Any = self._version_provider()
        else:
            from crosstrack.loaders.publish import current_version

            pv = current_version(engine, self.settings)
        if pv is None:
            raise ApiError(503, "data.not_published", "No data has been published yet; an operator must run `crosstrack load`.",
                           headers={"Retry-After": "30"})
        return DataVersion(str(pv.version_id), pv.database, getattr(pv, "loaded_at", None))

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
        from crosstrack.loaders.publish import version_states

        states = version_states(self.engine, self.settings)
        kept = [st.version.version_id for st in states if st.kept]
        for st in states:
            if st.version.version_id != requested:
                continue
            if not st.kept:
                raise ApiError(410, "data.version_removed",
                               f"Data version {requested} is no longer kept (retention); the current version is "
                               f"{current.version_id}.", parameter="data_version", allowed=kept)
            return DataVersion(st.version.version_id, st.version.database, st.version.loaded_at)
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
        key = (version.version_id, question.result_key())
        full = self.cache.get(key)
        if full is None:
            full = self._compute(ds, question, version)
            self.cache.put(key, full)
        page = list(full.rows[question.offset: question.offset + question.limit])
        return SafeResult(question, ds, version, page, len(full.rows), full.suppressed_count,
                          self.disclosure.describe())

    def _grid(self, ds: Dataset, q: Question, version: DataVersion) -> dict[tuple, None]:
        """Every combination of the asked dimensions' codes (the filtered ones where filtered), in
        display order, as strings; refused when there are more than a result may hold."""
        filters = dict(q.filters)
        extra = self.known_extra_codes(ds, version)
        if extra is None and any(not ds.dimensions[d].codes for d in q.dimensions):
            extra = self.extra_codes(ds, version)
        axes: list[list[str]] = []
        for name in q.dimensions:
            dim = ds.dimensions[name]
            codes = list(filters.get(name) or [c for c, _ in dim.codes or ()] or (extra or {}).get(name, []))
            axes.append(codes)
        size = math.prod(len(a) for a in axes)
        if size > self.settings.query_max_result_rows:
            raise ApiError(400, "query.too_many_combinations",
                           f"These dimensions have {size:,} combinations of codes, more than the "
                           f"{self.settings.query_max_result_rows:,} one answer may list; filter some of "
                           "them or ask for fewer dimensions.", parameter="dimensions",
                           allowed=[f"at most {self.settings.query_max_result_rows:,} combinations"])
        return dict.fromkeys(itertools.product(*axes))

    def _compute(self, ds: Dataset, q: Question, version: DataVersion) -> FullResult:
        # K4: a published people set is always a cell of the table lattice (one code or every code
        # of each dimension). A filter on several codes of a dimension that is not asked for is
        # answered from that dimension's single-code cells, each protected on its own, and then
        # added up (Disclosure.combine): withheld when any part is withheld. So however many
        # overlapping code sets are asked for, each small cell has exactly one published value to
        # average, and a multi-code filter tells nothing that adding published rows would not.
        split = [name for name, codes in q.filters if len(codes) > 1 and name not in q.dimensions]
        requested = ds.rules.only(q.measures)
        if split:
            medians = [r.name for r in requested.measures if r.kind == "median"]
            if medians:
                dim = split[0]
                raise ApiError(
                    400, "query.median_over_codes",
                    f"A median ({medians[0]}) cannot be combined over several codes of {dim}: medians of "
                    f"parts do not add up. Add {dim} to dimensions to get one median per code, or filter "
                    f"on one code of {dim}.", parameter=dim, allowed=[f"dimensions={dim}", f"{dim}=<one code>"])
        weights: dict[str, str] = {}
        extra: list[MeasureRule] = []
        if split:
            for r in requested.measures:
                if r.kind == "mean":
                    weights[r.name] = f"\0{r.governed_by}"
                    if all(x.name != weights[r.name] for x in extra):
                        extra.append(MeasureRule(weights[r.name], r.governed_by, "people", r.governed_by,
                                                 requested.people_key(r.governed_by)))
        # RC12: a rate is computed from its published event and cohort counts; when they were not
        # asked for, hidden copies (named \0<name>, never output) are protected alongside
        asked = {r.name for r in requested.measures}
        for r in requested.measures:
            if r.kind == "rate":
                for part in (r.numerator, r.denominator):
                    base = next((x for x in ds.rules.measures if x.name == part), None)
                    if base is not None and part not in asked and all(x.name != "\0" + part for x in extra):
                        extra.append(MeasureRule("\0" + part, base.member, base.kind, base.governed_by, base.key,
                                                 of=base.of))
        rules = DatasetRules(requested.people_members, requested.cell_key_member, requested.measures + tuple(extra),
                             requested.people_keys)
        grid = self._grid(ds, q, version)
        dims = [ds.dimensions[d] for d in q.dimensions]
        inner = dims + [ds.dimensions[d] for d in split]
        needed = [r.member for r in rules.measures if r.kind != "rate"]  # rates: from published counts only
        for member in (*ds.rules.people_members, *rules.key_members, *(r.of for r in rules.measures if r.of)):
            if member not in needed:
                needed.append(member)
        query: dict[str, Any] = {
            "dimensions": [d.member for d in inner],
            "measures": needed,
            "filters": [{"member": ds.dimensions[name].member, "operator": "equals", "values": list(codes)}
                        for name, codes in q.filters],
            # One row more than allowed, so an over-large result is an error, never silently cut.
            "limit": self.settings.query_max_result_rows + 1,
        }
        result = self.query_engine.load(query, database=version.database,
                                        settings=query_limits(self.settings), internal=True)
        if len(result.data) > self.settings.query_max_result_rows:
            raise QueryLimitExceeded("the query result had more rows than the configured limit")
        # Per dimension: (member, name, label column, code -> label) looked up once, not per row.
        dim_cols = [(d.member, d.name, f"{d.name}_label", _labeller(d)) for d in dims]
        measures = q.measures
        protect = self.disclosure.protector(rules)  # Disclosure.protect, constants worked out once
        published: dict[tuple, tuple[dict[str, Any], bool]] = {}
        typed: dict[tuple, tuple] = {}  # codes as the engine types them (snapshot years are numbers)
        if split:
            # every code of the split filters must be a part: a code with no people is withheld like a
            # small one (below), so a sum missing a part is withheld too, or it would tell 0 from 1-4
            expected = math.prod(len(codes) for name, codes in q.filters if name in split)
            groups: dict[tuple, list[tuple[dict[str, Any], bool]]] = {}
            for raw in result.data:
                codes = tuple(raw.get(d.member) for d in dims)
                typed[tuple(map(str, codes))] = codes
                groups.setdefault(tuple(map(str, codes)), []).append(protect(raw))
            for key, parts in groups.items():
                published[key] = (self.disclosure.combine(parts, rules, weights) if len(parts) == expected
                                  else (dict.fromkeys(r.name for r in rules.measures), True))
        else:
            for raw in result.data:
                codes = tuple(raw.get(d.member) for d in dims)
                typed[tuple(map(str, codes))] = codes
                published[tuple(map(str, codes))] = protect(raw)
        # P1/K1 as the FAQ states it ("data samples of less than five records will be suppressed"):
        # a combination with no people is withheld exactly as one with 1-4 is, and every combination
        # of the asked codes is listed, so which rows exist tells nothing. Listing only the
        # combinations that have people let anyone count a withheld cell's people one row each by
        # breaking it down by enough dimensions (the independent attacker recovered 100%).
        withheld_values = dict.fromkeys(r.name for r in rules.measures)
        keys = list(grid) + [k for k in published if k not in grid]
        rows: list[dict[str, Any]] = []
        suppressed = 0
        for key in keys:
            values, withheld = published.get(key) or (withheld_values, True)
            codes = typed.get(key) or tuple(_typed(d, c) for d, c in zip(dims, key))
            row: dict[str, Any] = {}
            for (member, name, label_col, label), code in zip(dim_cols, codes):
                row[name] = code
                row[label_col] = label(code)
            for m in measures:
                row[m] = values.get(m)
            row["suppressed"] = withheld
            suppressed += withheld
            rows.append(row)
        _sort(rows, q, ds)
        return FullResult(tuple(rows), suppressed)


def _typed(dim: Any, code: str) -> Any:
    """A code of the grid as the engine would type it (numeric dimensions are numbers)."""
    if dim.type == "number":
        try:
            return int(code)
        except ValueError:
            return code
    return code


def _labeller(dim: Any) -> Callable[[Any], str]:
    """``dim.label`` as a dictionary look-up (the first label of a code wins, as in the scan)."""
    labels: dict[str, str] = {}
    for c, lab in dim.codes or ():
        labels.setdefault(c, lab)

    def label(code: Any) -> str:
        key = str(code)
        if key in labels:
            return labels[key]
        return "" if code is None else key

    return label


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


def _sort(rows: list[dict[str, Any]], q: Question, ds: Dataset) -> None:
    """Order on published values only; nulls (withheld) last; ties broken by dimensions."""
    for name, desc in reversed(q.order):
        dim = ds.dimensions.get(name) if name in q.dimensions else None
        index = dim.code_index() if dim is not None else {}
        # Keys: ascending (is null, value or 0); descending, reversed, (is not null, value or 0)
        # — a dimension's value is its code's position in the code list (unknown codes last).
        present, absent = (True, False) if desc else (False, True)
        null_key = (absent, 0)
        if index:
            position, unknown = index.get, len(index)

            def key(r: dict[str, Any], name: str = name) -> Any:
                v = r.get(name)
                return null_key if v is None else (present, position(str(v), unknown))
        else:
            def key(r: dict[str, Any], name: str = name) -> Any:
                v = r.get(name)
                return null_key if v is None else (present, v)

        rows.sort(key=key, reverse=desc)


_default: Service | None = None


def set_default_service(service: Service) -> None:
    global _default
    _default = service


def get_service(settings: Settings | None = None) -> Service:
    global _default
    if _default is None:
        from crosstrack.config import get_settings

        from crosstrack.api.cache import install

        _default = Service(settings or get_settings())
        install(_default)  # the process's result cache (api/cache.py), shared by every surface
    return _default


def answer(dataset: str, params: Question | Mapping[str, Any] | Sequence[tuple[str, str]]) -> SafeResult:
    """The contract's entry point: the process's Service answers."""
    return get_service().answer(dataset, params)

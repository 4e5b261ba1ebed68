"""URL parameters → a validated, canonical :class:`Question`.

The same question always becomes the same Question, whatever its spelling (K3): parameter
order, repeated vs comma-separated values, duplicate codes, code case, a filter that selects
every code of its dimension, dimensions and measures in any order. The canonical form lists
every default explicitly (measures, order, limit, offset, format), sorts parameters by name,
keeps dimensions and measures in the model's order and codes in their display order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Iterable, Mapping, Sequence
from urllib.parse import quote

from crosstrack.api.catalog import SNAPSHOT_DIMENSION, Dataset, Dimension
from crosstrack.api.errors import ApiError
from crosstrack.config import Settings

FORMATS = ("json", "csv")
RESERVED = ("dimensions", "measures", "order", "limit", "offset", "format", "data_version", "csv_context")
# csv_context=comments: the CSV opens with '#' lines stating the question, filters, data version and
# disclosure note (the page's download); plain format=csv stays header + rows for programs.
CSV_CONTEXTS = ("comments",)
DEFAULT_LIMIT = 1000


@dataclass(frozen=True)
class Question:
    dataset: str
    dimensions: tuple[str, ...]
    measures: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    order: tuple[tuple[str, bool], ...]  # (field, descending); always ends with every dimension
    limit: int
    offset: int
    format: str = "json"
    # data_version=vN: answered from that kept version, and part of the canonical URL (a citable,
    # immutable answer). None: the published version (named in the answer's meta).
    data_version: str | None = None
    csv_context: str | None = None  # "comments" (CSV only); part of the canonical URL when given

    def filter_map(self) -> dict[str, tuple[str, ...]]:
        return dict(self.filters)

    def pairs(self, *, paging: bool = True, fmt: bool = True, version: bool = True) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = [
            ("dimensions", ",".join(self.dimensions)),
            ("measures", ",".join(self.measures)),
            ("order", ",".join(("-" if d else "") + f for f, d in self.order)),
        ]
        out += [(dim, ",".join(codes)) for dim, codes in self.filters]
        if paging:
            out += [("limit", str(self.limit)), ("offset", str(self.offset))]
        if fmt:
            out.append(("format", self.format))
        if self.data_version and version:
            out.append(("data_version", self.data_version))
        if self.csv_context and fmt:
            out.append(("csv_context", self.csv_context))
        return sorted(out)

    def query_string(self, *, paging: bool = True, fmt: bool = True, version: bool = True) -> str:
        # urlencode(pairs, quote_via=quote, safe=","), with each name and value quoted once: an
        # answer's links spell the same question six ways (a tenth of a cold answer's Python)
        return "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in self.pairs(paging=paging, fmt=fmt, version=version))

    def url(self, *, prefix: str = "/api/v1") -> str:
        return f"{prefix}/{self.dataset}?{self._canonical_query}"

    @cached_property
    def _canonical_query(self) -> str:
        # one answer names its canonical URL about seven times (ETag, cache keys, meta, links)
        return self.query_string()

    def result_key(self) -> str:
        """What determines the full (unpaged) published result: paging and format excluded (the
        data version is the other half of every cache key)."""
        return f"{self.dataset}?{self.query_string(paging=False, fmt=False, version=False)}"

    def with_page(self, offset: int) -> "Question":
        return replace(self, offset=offset)

    def with_format(self, fmt: str, csv_context: str | None = None) -> "Question":
        return replace(self, format=fmt, csv_context=csv_context if fmt == "csv" else None)


@lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return quote(text, safe=",")


def _split(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return out


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def _int(name: str, raw: str, lo: int, hi: int, code: str, form: str) -> int:
    # ASCII digits only: int() would also take "٣" or "1_000", which no canonical URL spells.
    text = raw.strip()
    try:
        if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit() and text.count("-") <= int(text.startswith("-"))):
            raise ValueError
        value = int(text)
    except ValueError:
        raise ApiError(400, "param.invalid", f"{name} must be a whole number; got {raw[:40]!r}.",
                       parameter=name, allowed=form) from None
    if not lo <= value <= hi:
        status_code = code if value > hi else "param.invalid"
        raise ApiError(400, status_code, f"{name} must be between {lo} and {hi}; got {value}.",
                       parameter=name, allowed=form)
    return value


def _allowed_codes(dim: Dimension, extra_codes: Mapping[str, Sequence[str]]) -> list[str] | None:
    if dim.codes:
        return [c for c, _ in dim.codes]
    if dim.name in extra_codes:
        return [str(c) for c in extra_codes[dim.name]]
    return None


def _resolve_code(dim: Dimension, raw: str, allowed: list[str] | None) -> str:
    if allowed is None:
        return raw
    if raw in allowed:
        return raw
    folded = {a.casefold(): a for a in allowed}
    # A '+' typed into a URL arrives as a space ("60+" -> "60 "); accept it.
    for candidate in (raw, raw.replace(" ", "+"), raw.strip() + "+" if raw.endswith(" ") else raw):
        if candidate.casefold() in folded:
            return folded[candidate.casefold()]
    raise ApiError(400, "param.unknown_value", f"{raw[:40]!r} is not a code of {dim.name}.",
                   parameter=dim.name, allowed=allowed)


def build_question(ds: Dataset, settings: Settings, *, dimensions: Sequence[str] = (),
                   measures: Sequence[str] = (), filters: Mapping[str, Sequence[str]] | None = None,
                   order: Sequence[str] = (), limit: int | None = None, offset: int = 0,
                   fmt: str = "json", extra_codes: Mapping[str, Sequence[str]] | None = None,
                   data_version: str | None = None, csv_context: str | None = None) -> Question:
    """Validate one question against a dataset; every error names its parameter (R13 too)."""
    extra_codes = extra_codes or {}
    dim_order = list(ds.dimensions)
    measure_order = list(ds.measures)

    dims = _dedupe(dimensions)
    for d in dims:
        if d not in ds.dimensions:
            raise ApiError(400, "param.unknown_dimension", f"{d[:60]!r} is not a dimension of {ds.name}.",
                           parameter="dimensions", allowed=dim_order)
    if len(dims) > settings.max_dimensions:
        raise ApiError(400, "param.too_many_dimensions",
                       f"At most {settings.max_dimensions} dimensions can be combined in one request; got {len(dims)}.",
                       parameter="dimensions", allowed=f"up to {settings.max_dimensions} of: {', '.join(dim_order)}")
    dims.sort(key=dim_order.index)

    meas = _dedupe(measures) or [ds.people_measure]
    for m in meas:
        if m not in ds.measures:
            raise ApiError(400, "param.unknown_measure", f"{m[:60]!r} is not a measure of {ds.name}.",
                           parameter="measures", allowed=measure_order)
    # P2/K5: a mean or median is only ever published with the count it follows.
    for m in list(meas):
        gov = ds.measures[m].governed_by
        for other in ds.measures.values():
            if other.member == gov and other.name not in meas:
                meas.append(other.name)
    meas.sort(key=measure_order.index)

    flt: dict[str, list[str]] = {}
    total_values = 0
    for name, raw_codes in (filters or {}).items():
        if name not in ds.dimensions:
            raise ApiError(400, "param.unknown_parameter", f"{name[:60]!r} is not a parameter or dimension of {ds.name}.",
                           parameter=name, allowed=list(RESERVED) + dim_order)
        dim = ds.dimensions[name]
        allowed = _allowed_codes(dim, extra_codes)
        codes = _dedupe(_resolve_code(dim, c, allowed) for c in raw_codes)
        if not codes:
            continue
        total_values += len(codes)
        if allowed is not None:
            idx = {c: i for i, c in enumerate(allowed)}
            codes.sort(key=idx.__getitem__)
        flt[name] = codes
    if total_values > settings.max_filter_values:
        raise ApiError(400, "param.too_many_values",
                       f"At most {settings.max_filter_values} filter values can be given; got {total_values}.",
                       parameter=None, allowed=f"up to {settings.max_filter_values} codes in total")

    # R13: governing/leading charge dimensions need offender status as a dimension and exactly
    # one status selected.
    used = dims + [d for d in flt if d not in dims]
    required_targets: set[str] = set()
    for d in used:
        req = ds.dimensions[d].requires
        if not req:
            continue
        target = str(req.get("dimension", ""))
        target = target.split(".", 1)[1] if "." in target else target
        required_targets.add(target)
        tdim = ds.dimensions.get(target)
        t_allowed = (_allowed_codes(tdim, extra_codes) if tdim else None) or []
        ok = target in dims and (not req.get("single_filter") or len(flt.get(target, ())) == 1)
        if not ok:
            example = f"{target}={t_allowed[-1]}" if t_allowed else target
            raise ApiError(
                422, "param.requires_single_status",
                f"{d} is available only when {target} is one of the dimensions and exactly one "
                f"{target} is chosen (R13). First add {target} to dimensions and choose one, e.g. "
                f"dimensions=...,{target}&{example}.",
                parameter=d, allowed=t_allowed)

    # A filter that selects every code asks the same question as no filter (K3); the R13
    # target keeps its filter, because the rule is stated on it.
    for name in list(flt):
        allowed = _allowed_codes(ds.dimensions[name], extra_codes)
        if allowed is not None and name not in required_targets and set(flt[name]) == set(allowed):
            del flt[name]

    orders: list[tuple[str, bool]] = []
    for o in _dedupe(order):
        desc = o.startswith("-")
        name = o.lstrip("+-").strip()
        if name not in dims and name not in meas:
            raise ApiError(400, "param.bad_order", f"order can only name a selected dimension or measure; got {name[:60]!r}.",
                           parameter="order", allowed=[*dims, *meas, *(f"-{x}" for x in [*dims, *meas])])
        if name not in (f for f, _ in orders):
            orders.append((name, desc))
    for d in dims:  # ties always break on the dimensions, so the order is total (K3)
        if d not in (f for f, _ in orders):
            orders.append((d, False))

    page_max = settings.max_page_size
    if limit is None:
        limit = min(DEFAULT_LIMIT, page_max)
    if not 1 <= limit <= page_max:
        raise ApiError(400, "param.page_too_large" if limit > page_max else "param.invalid",
                       f"limit must be between 1 and {page_max}; got {limit}.", parameter="limit",
                       allowed=f"1..{page_max}")
    if not 0 <= offset <= settings.max_offset:
        raise ApiError(400, "param.offset_too_large" if offset > 0 else "param.invalid",
                       f"offset must be between 0 and {settings.max_offset}; got {offset}.",
                       parameter="offset", allowed=f"0..{settings.max_offset}")
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise ApiError(400, "param.bad_format", f"format must be json or csv; got {fmt[:20]!r}.", parameter="format",
                       allowed=list(FORMATS))

    if csv_context is not None and (fmt != "csv" or csv_context not in CSV_CONTEXTS):
        raise ApiError(400, "param.invalid", f"csv_context=comments works with format=csv only; got "
                       f"csv_context={csv_context[:20]!r} with format={fmt[:20]}.", parameter="csv_context", allowed=list(CSV_CONTEXTS))

    ordered_filters = tuple((d, tuple(flt[d])) for d in dim_order if d in flt)
    return Question(ds.name, tuple(dims), tuple(meas), ordered_filters, tuple(orders), limit, offset, fmt,
                    data_version or None, csv_context)


def parse_params(ds: Dataset, items: Iterable[tuple[str, str]], settings: Settings, *,
                 default_format: str = "json",
                 extra_codes: Mapping[str, Sequence[str]] | None = None) -> Question:
    """Parse URL query items (repeated keys allowed) into a canonical Question."""
    multi: dict[str, list[str]] = {}
    for key, value in items:
        multi.setdefault(key, []).append(value)
    for single in ("limit", "offset", "format", "data_version", "csv_context"):
        if len(set(multi.get(single, []))) > 1:
            raise ApiError(400, "param.repeated", f"{single} was given more than once with different values.",
                           parameter=single)
    # Codes hold no spaces; a trailing one is a '+' typed unescaped into the URL ("60+").
    filters = {k: _split(x.rstrip() + "+" if x.endswith(" ") and x.strip() else x for x in v)
               for k, v in multi.items() if k not in RESERVED}
    for k in filters:
        if k not in ds.dimensions:
            hint = " (snapshot years are filtered with snapshot_year=YYYY)" if k in ("year", "snapshot") else ""
            raise ApiError(400, "param.unknown_parameter", f"{k[:60]!r} is not a parameter or dimension of {ds.name}{hint}.",
                           parameter=k[:60], allowed=list(RESERVED) + list(ds.dimensions))
    limit = (_int("limit", multi["limit"][0], 1, settings.max_page_size, "param.page_too_large",
                  f"1..{settings.max_page_size}") if "limit" in multi else None)
    offset = (_int("offset", multi["offset"][0], 0, settings.max_offset, "param.offset_too_large",
                   f"0..{settings.max_offset}") if "offset" in multi else 0)
    fmt = multi["format"][0].strip() if "format" in multi else default_format
    return build_question(
        ds, settings, dimensions=_split(multi.get("dimensions", [])), measures=_split(multi.get("measures", [])),
        filters=filters, order=_split(multi.get("order", [])), limit=limit, offset=offset, fmt=fmt,
        extra_codes=extra_codes, data_version=(multi["data_version"][0].strip() or None) if "data_version" in multi else None,
        csv_context=multi["csv_context"][0].strip().lower() if "csv_context" in multi else None)


__all__ = ["Question", "parse_params", "build_question", "FORMATS", "RESERVED", "SNAPSHOT_DIMENSION"]

"""From a question to its published cells: the code grid, the lattice split and the row order.

``Service._compute`` runs these in turn — :func:`plan` (which cells the engine must count and
protect), :func:`engine_query` (the semantic-layer query for them), :func:`published_rows`
(protect, withhold the other halves of withheld cells along two-code dimensions, combine, list
every combination, order) — and keeps no state of its own.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from crosstrack.api.catalog import SNAPSHOT_DIMENSION, Dataset
from crosstrack.api.disclosure import DatasetRules, Disclosure, MeasureRule, published_rate
from crosstrack.api.errors import ApiError
from crosstrack.api.params import Question


@dataclass(frozen=True)
class CellPlan:
    """What the engine counts for one question: the dimensions split into single codes (K4) and
    the rules of every measure protected, hidden parts included (RC12)."""

    split: list[str]
    rules: DatasetRules
    weights: dict[str, str] = field(default_factory=dict)
    # two-code dimensions among each cell's coordinates (asked for, or filtered on one code):
    # a cell is withheld with its other half (complementary suppression, see complement_withheld)
    halves: list[str] = field(default_factory=list)
    # of those, the ones filtered on one code: the engine counts both codes, the other is dropped
    widened: list[str] = field(default_factory=list)


def plan(ds: Dataset, q: Question) -> CellPlan:
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
                                             of=base.of, stream=base.stream))
    rules = DatasetRules(requested.people_members, requested.cell_key_member, requested.measures + tuple(extra),
                         requested.people_keys, requested.primary)
    if SNAPSHOT_DIMENSION in q.dimensions or SNAPSHOT_DIMENSION in dict(q.filters):
        rules = rules.within_one_snapshot()  # every cell, or every part of a sum, is one snapshot
    # K4, complementary suppression: along a dimension of two codes, a withheld cell's other half
    # is a single published cell, so a margin minus it would give the withheld count with two
    # noises, and exactly 0 when the halves hold the same people (same key, same noise). Both
    # halves are withheld together; the engine counts both codes of a one-code filter for it.
    halves = [d for d in q.dimensions if _two_codes(ds, d)]
    widened = [name for name, codes in q.filters
               if len(codes) == 1 and name not in q.dimensions and _two_codes(ds, name)]
    return CellPlan(split, rules, weights, halves + widened, widened)


def _two_codes(ds: Dataset, name: str) -> bool:
    codes = ds.dimensions[name].codes
    return codes is not None and len(codes) == 2


@dataclass(frozen=True)
class Grid:
    """Every combination of the asked codes, in display order. ``in_dimension_order``: the
    combinations are also in the order the dimension tie-breaks sort by (each axis in code-list
    order, years ascending), so those sorts have nothing to do (:func:`sort_rows`)."""

    cells: dict[tuple, None]
    in_dimension_order: bool
    axes: tuple[tuple[str, ...], ...]  # each dimension's codes: ``cells`` is their product, in order


def code_grid(ds: Dataset, q: Question, extra: dict[str, list[str]] | None, max_rows: int) -> Grid:
    """Every combination of the asked dimensions' codes (the filtered ones where filtered), in
    display order, as strings; refused when there are more than a result may hold. ``extra``:
    the codes of dimensions without a code list (the snapshot years), from the data."""
    filters = dict(q.filters)
    axes: list[list[str]] = []
    ordered = True
    for name in q.dimensions:
        dim = ds.dimensions[name]
        codes = list(filters.get(name) or [c for c, _ in dim.codes or ()] or (extra or {}).get(name, []))
        key = _ascending_key(dim)
        try:
            codes = sorted(codes, key=lambda c: key(_typed(dim, c)))  # stable: codes of one position keep their order
        except TypeError:  # codes of mixed types (numbers and text): left as given, sorted with the rows
            ordered = False
        axes.append(tuple(dict.fromkeys(codes)))  # a code named twice is one combination
    size = math.prod(len(a) for a in axes)
    if size > max_rows:
        raise ApiError(400, "query.too_many_combinations",
                       f"These dimensions have {size:,} combinations of codes, more than the "
                       f"{max_rows:,} one answer may list; filter some of them or ask for fewer dimensions.",
                       parameter="dimensions", allowed=[f"at most {max_rows:,} combinations"])
    return Grid(dict.fromkeys(itertools.product(*axes)), ordered, tuple(axes))


def engine_query(ds: Dataset, q: Question, cells: CellPlan, limit: int) -> dict[str, Any]:
    """The semantic-layer query counting every cell of ``cells`` (at most ``limit`` rows)."""
    inner = [ds.dimensions[d] for d in (*q.dimensions, *cells.split, *cells.widened)]
    needed = [r.member for r in cells.rules.measures if r.kind != "rate"]  # rates: from published counts only
    for member in (*ds.rules.people_members, *cells.rules.key_members, *(r.of for r in cells.rules.measures if r.of)):
        if member not in needed:
            needed.append(member)
    return {
        "dimensions": [d.member for d in inner],
        "measures": needed,
        "filters": [{"member": ds.dimensions[name].member, "operator": "equals",
                     "values": [c for c, _ in ds.dimensions[name].codes or ()] if name in cells.widened else list(codes)}
                    for name, codes in q.filters],
        "limit": limit,
    }


def published_rows(ds: Dataset, q: Question, cells: CellPlan, data: list[dict[str, Any]], grid: Grid,
                   disclosure: Disclosure) -> tuple[list[dict[str, Any]], int]:
    """The protected, ordered rows of every combination of ``grid`` (and any the data adds), and
    how many are withheld."""
    dims = [ds.dimensions[d] for d in q.dimensions]
    rules, split = cells.rules, cells.split
    protect = disclosure.protector(rules)  # Disclosure.protect, constants worked out once
    published: dict[tuple, tuple[dict[str, Any], bool]] = {}
    # Per dimension, each code string's (code as the engine types it, label), worked out once per
    # code, not per row: snapshot years are numbers; the data's own typing wins over the grid's.
    columns: list[_Column] = [(d, d.name, f"{d.name}_label", _labeller(d), {}) for d in dims]
    protected: list[tuple[dict[str, Any], tuple[dict[str, Any], bool]]] = [(raw, protect(raw)) for raw in data]
    if cells.halves:
        protected = complement_withheld(ds, q, cells, protected)
    if split:
        # every code of the split filters must be a part: a code with no people is withheld like a
        # small one (below), so a sum missing a part is withheld too, or it would tell 0 from 1-4
        expected = math.prod(len(codes) for name, codes in q.filters if name in split)
        groups: dict[tuple, list[tuple[dict[str, Any], bool]]] = {}
        for raw, part in protected:
            groups.setdefault(_code_key(raw, columns), []).append(part)
        for key, parts in groups.items():
            published[key] = (disclosure.combine(parts, rules, cells.weights) if len(parts) == expected
                              else (dict.fromkeys(r.name for r in rules.measures), True))
    else:
        for raw, row in protected:
            published[_code_key(raw, columns)] = row
    # P1/K1 as the FAQ states it ("data samples of less than five records will be suppressed"):
    # a combination with no people is withheld exactly as one with 1-4 is, and every combination
    # of the asked codes is listed, so which rows exist tells nothing. Listing only the
    # combinations that have people let anyone count a withheld cell's people one row each by
    # breaking it down by enough dimensions (the independent attacker recovered 100%).
    beyond = [k for k in published if k not in grid.cells]  # codes the data has and the code lists lack
    keys = list(grid.cells) + beyond
    # Each code's (name, typed code) and (label column, label) items made once, before the rows, so
    # that the rows are built by C-level calls only: a large grid is mostly rows with no people
    # (0.4 µs a row, not 1.2).
    items: list[dict[str, tuple[tuple[str, Any], tuple[str, str]]]] = []
    for i, (dim, name, label_col, label, seen) in enumerate(columns):
        for code in itertools.chain(grid.axes[i], (key[i] for key in beyond)):
            if code not in seen:
                value = _typed(dim, code)
                seen[code] = (value, label(value))
        items.append({code: ((name, typed), (label_col, text)) for code, (typed, text) in seen.items()})
    flat = itertools.chain.from_iterable
    rows: list[dict[str, Any]] = list(map(dict, map(flat, itertools.product(
        *[[column[code] for code in axis] for column, axis in zip(items, grid.axes)]))))
    rows += [dict(flat(map(dict.__getitem__, items, key))) for key in beyond]
    measures = q.measures
    empty = {**dict.fromkeys(measures), "suppressed": True}  # withheld: no values, never 0
    suppressed = 0
    for key, row in zip(keys, rows):
        hit = published.get(key)
        if hit is None:
            row.update(empty)
            suppressed += 1
        else:
            values, withheld = hit
            for m in measures:
                row[m] = values.get(m)
            row["suppressed"] = withheld
            suppressed += withheld
    sort_rows(rows, q, ds, in_dimension_order=grid.in_dimension_order and not beyond)
    return rows, suppressed


def complement_withheld(ds: Dataset, q: Question, cells: CellPlan,
                        protected: list[tuple[dict[str, Any], tuple[dict[str, Any], bool]]],
                        ) -> list[tuple[dict[str, Any], tuple[dict[str, Any], bool]]]:
    """Complementary suppression along every two-code dimension of the cells (K4).

    A cell is withheld when its other half (the same cell with the other code of a two-code
    dimension) is withheld or has no people, and a cohort or event count is withheld where the
    other half's is. Decided on the primary (threshold) result of the halves alone, which are the
    same people whatever the question, so a cell gets the same answer in every question (K3).
    The rows of the codes a one-code filter did not ask for (``cells.widened``) are then dropped.

    Why (docs/disclosure-design.md): ``(x) − (x, b = the other code)`` recovered withheld release
    counts at 0.42–0.45 against 0.25 for guessing on scale-1 data, every empty cell exactly.
    """
    coords = [ds.dimensions[d] for d in (*q.dimensions, *cells.split, *cells.widened)]
    names = [d.name for d in coords]
    members = [d.member for d in coords]
    keyed = {tuple(str(raw.get(m)) for m in members): (raw, row) for raw, row in protected}
    flips = []
    for name in cells.halves:
        a, b = (c for c, _ in ds.dimensions[name].codes or ())
        flips.append((names.index(name), {a: b, b: a}))
    records = [r.name for r in cells.rules.measures if r.kind in ("cohort", "event")]
    rates = [r for r in cells.rules.measures if r.kind == "rate"]
    blank = dict.fromkeys(r.name for r in cells.rules.measures)
    keep = {names.index(name): codes[0] for name, codes in q.filters if name in cells.widened}
    out = []
    for key, (raw, (values, withheld)) in keyed.items():
        if any(key[i] != code for i, code in keep.items()):
            continue
        if not withheld:
            others = []
            for i, swap in flips:
                other = keyed.get((*key[:i], swap.get(key[i], key[i]), *key[i + 1:]))
                others.append(other[1] if other is not None else (blank, True))
            if any(w for _, w in others):
                values, withheld = blank, True
            elif records:
                held = [m for m in records if values.get(m) is not None and any(v.get(m) is None for v, _ in others)]
                if held:
                    values = {**values, **dict.fromkeys(held)}
                    for r in rates:
                        values[r.name] = published_rate(values, r.numerator, r.denominator)
        out.append((raw, (values, withheld)))
    return out


# (dimension, name, label column, code -> label, code string -> (typed code, label))
_Column = tuple[Any, str, str, Callable[[Any], str], dict[str, tuple[Any, str]]]


def _code_key(raw: dict[str, Any], columns: list[_Column]) -> tuple[str, ...]:
    """An engine row's codes as the grid's strings; each code's typed value and label noted once."""
    key = []
    for dim, _, _, label, seen in columns:
        value = raw.get(dim.member)
        code = str(value)
        if code not in seen:
            seen[code] = (value, label(value))
        key.append(code)
    return tuple(key)


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


def _ascending_key(dim: Any) -> Callable[[Any], Any]:
    """A dimension's ascending sort key for a non-null value: its code's position in the code
    list (unknown codes last), or the value itself when the dimension has no code list."""
    index = dim.code_index() if dim is not None else {}
    if index:
        position, unknown = index.get, len(index)
        return lambda v: position(str(v), unknown)
    return lambda v: v


def sort_rows(rows: list[dict[str, Any]], q: Question, ds: Dataset, *, in_dimension_order: bool = False) -> None:
    """Order on published values only; nulls (withheld) last; ties broken by dimensions.

    ``in_dimension_order``: the rows are already ascending on every dimension, in the question's
    dimension order (a :class:`Grid` in that order). Then the trailing ascending dimension sorts
    are skipped: the sorts before them are stable, so ties keep that order, which is the order
    those sorts would give (every dimension is either sorted on before them, so constant within a
    tie, or among them). An answer of 100,000 combinations is sorted once instead of six times."""
    order = list(q.order)
    if in_dimension_order:
        position = {d: i for i, d in enumerate(q.dimensions)}
        tail = len(order)
        while tail and not order[tail - 1][1] and order[tail - 1][0] in position and (
                tail == len(order) or position[order[tail - 1][0]] < position[order[tail][0]]):
            tail -= 1
        order = order[:tail]
    for name, desc in reversed(order):
        dim = ds.dimensions.get(name) if name in q.dimensions else None
        ascending = _ascending_key(dim)
        # Keys: ascending (is null, value or 0); descending, reversed, (is not null, value or 0)
        # — a dimension's value is its code's position in the code list (unknown codes last).
        present, absent = (True, False) if desc else (False, True)
        null_key = (absent, 0)

        def key(r: dict[str, Any], name: str = name, ascending: Callable[[Any], Any] = ascending) -> Any:
            v = r.get(name)
            return null_key if v is None else (present, ascending(v))

        rows.sort(key=key, reverse=desc)

"""Disclosure control (DESIGN P1–P4, spec/disclosure.md K1–K9): the one place it happens.

Every output shape (JSON, CSV, the Cube-compatible endpoint, the SQL surface, the page) gets
its rows from ``api.service.answer``, which passes every aggregated row through the protector
built here after the last aggregation and before anything is serialised. docs/disclosure-design.md
says why each rule is as it is, with the measurements that chose it.

Method: threshold suppression, the cell-key method of the Australian Bureau of Statistics'
TableBuilder (Thompson, Broadfoot & Elazar 2013), and a bounded space of people sets.

* **Threshold (P1, K1, K9).** A cell whose governing distinct-people count, or any people-kind
  value it shows, is below ``k`` publishes no measure and is flagged ``suppressed``. As the FAQ
  has it ("data samples of less than five records will be suppressed"), a combination with no
  people is withheld too, and the service lists every combination of the asked codes, so which
  rows exist says nothing (listing only non-empty ones let rows be counted one person each).
* **Cell keys (K3, K7).** Every person carries a fixed random ``record_key`` and every record
  (person-snapshot, charge, enrollment) its own key; the engine sums the keys of what a value
  counts into that value's cell key. Noise is a pure function of (cell key, true value, measure),
  so the same cell always gets the same answer however the question is spelled, and two cells
  with the same people and different records are perturbed independently.
* **Lattice (K4).** :meth:`Disclosure.combine` answers a filter on several codes from its
  single-code cells as published, so a withheld cell has exactly one published value; along a
  two-code dimension a cell is withheld with its other half (``api.lattice.complement_withheld``).
* **Counts** move by a bounded integer drawn from a fixed perturbation table indexed by the
  cell key. A published people count never drops below ``k``; a non-zero record count never
  becomes 0.
* **Means (K5).** The cell's total days is perturbed by up to ``MEAN_TOTAL_SHARE`` of one
  average person's days (a key-drawn amount) and the published mean is that perturbed total
  over the cell's count, rounded to 0.1 day. So ``mean × count`` returns a perturbed total,
  never the exact one, and margins of totals do not difference to a withheld cell's days.
* **Medians (K5, K8).** A median of an odd count is one person's exact number of days; it is
  moved by a key-drawn amount of at most ``max(MEDIAN_MIN_DAYS, MEDIAN_SHARE × median ×
  sqrt(k / count))`` and rounded to whole days, and in small rows by more and to 10 days.
* No min, max or list of values is ever published (P2): the API only offers measures whose
  ``meta.disclosure.kind`` is one of the four kinds above, and the validator ties each kind to
  the aggregations that fit it.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from crosstrack.config import MIN_K

KEY_MODULUS = 2**32
NOISE_MAX = 3  # largest change to any published count
# The perturbation table's base row (true counts at least floor + NOISE_MAX): noise -> weight.
# Sized against the strongest single-route attack, a margin minus a breakdown with one other cell
# (m = 2 noises): an attacker with the best (MAP) decision rule recovers a withheld 1..4 count
# 0.404 of the time against 0.36 for guessing with this table, 0.435 with the former ±2 table
# (15, 20, 30, 20, 15) — see docs/disclosure-design.md. Mean absolute noise 1.38.
BASE_NOISE_WEIGHTS: dict[int, int] = {-3: 10, -2: 12, -1: 15, 0: 26, 1: 15, 2: 12, 3: 10}
MEAN_TOTAL_SHARE = 0.5  # total days move by at most half of one average person's days
MEDIAN_SHARE = 0.10  # a median of a k-person cell moves by at most 10% ...
MEDIAN_MIN_DAYS = 2.0  # ... and every median by up to 2 days at least
# K8: a median of a small odd cell is one person's days. Below MEDIAN_SMALL_CELL published people
# it moves by up to MEDIAN_SMALL_MIN_DAYS at least and is given to the nearest MEDIAN_SMALL_STEP
# days, so the published value spreads over ~2 x 15 + 10 possible true values (measured exact
# recovery ~0.02, the same as guessing; tests/test_attacks_recovery.py).
MEDIAN_SMALL_CELL = 20
MEDIAN_SMALL_MIN_DAYS = 15.0
MEDIAN_SMALL_STEP = 10
MEAN_DECIMALS = 1

KINDS = ("people", "count", "mean", "median", "cohort", "event", "rate")
# The release cohort (docs/recidivism.md RC12): ``cohort`` counts people followed for a window
# (withheld on its own below k); ``event`` counts those of them with an event (withheld unless at
# least k had it and at least k + 2 x the largest noise did not, so no group shows that all or none
# of its members had one and the published count stays below the published cohort); ``rate`` is
# computed from the published event and cohort counts only, and only when both are published.
RATE_DECIMALS = 1
_M64 = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers with good avalanche."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def key_stream(cell_key: int, label: str) -> int:
    """A uniform 32-bit value from (cell key, measure label); independent per label."""
    return _mix64(((int(cell_key) % KEY_MODULUS) << 32) | zlib.crc32(label.encode())) >> 32


class PerturbationTable:
    """Maps (true count, 32-bit key draw) to a bounded noise value.

    Row ``j`` serves true counts ``floor + j`` (``j >= NOISE_MAX`` share the base row); it
    keeps only the noise values that leave the count at or above ``floor`` and renormalises
    the base weights, so published people counts stay >= k and record counts stay >= 1.
    """

    def __init__(self, weights: Mapping[int, int] = BASE_NOISE_WEIGHTS):
        self.weights = dict(sorted(weights.items()))
        self.max_noise = max(abs(d) for d in self.weights)
        self._rows: dict[int, list[tuple[int, int]]] = {}
        for j in range(self.max_noise + 1):
            allowed = [(d, w) for d, w in self.weights.items() if d >= -j]
            total = sum(w for _, w in allowed)
            acc, row = 0, []
            for d, w in allowed:
                acc += w
                row.append((d, (acc * KEY_MODULUS) // total))
            row[-1] = (row[-1][0], KEY_MODULUS)
            self._rows[j] = row

    def noise(self, count: int, floor: int, draw: int) -> int:
        row = self._rows[min(max(count - floor, 0), self.max_noise)]
        for d, upto in row:
            if draw < upto:
                return d
        return row[-1][0]

    def describe(self, floor_name: str) -> list[dict[str, Any]]:
        out = []
        for j, row in self._rows.items():
            prev, probs = 0, {}
            for d, upto in row:
                probs[f"{d:+d}"] = round((upto - prev) / KEY_MODULUS, 4)
                prev = upto
            when = f"{floor_name} + {j}" if j < self.max_noise else f"{floor_name} + {j} or more"
            out.append({"true_value": when, "noise_probabilities": probs})
        return out


@dataclass(frozen=True)
class MeasureRule:
    name: str  # public short name
    member: str  # view.member
    kind: str  # people | count | mean | median
    governed_by: str  # the view member counting the cell's distinct people
    key: str = ""  # K7: the view member keying this value's noise ("" = the people cell key)
    of: str = ""  # event: the view member counting the cohort the event count is part of (RC12)
    numerator: str = ""  # rate: public names of the event and cohort measures it divides (RC12)
    denominator: str = ""
    # K3/K4: record counts that may count the very same records (the releases of a cohort and those
    # of them followed for a window) name one stream, so the same records get the same noise
    # whichever of them is asked; each draws from its own key (a sum over exactly what it counts)
    stream: str = ""


@dataclass(frozen=True)
class DatasetRules:
    people_members: tuple[str, ...]
    cell_key_member: str
    measures: tuple[MeasureRule, ...] = field(default=())
    # K7: the key a governing count is perturbed from, where it is not the people key (a count of
    # person-snapshot records draws from the records' keys); every governing count is published with
    # the same noise whether or not it was asked for, so the K8 median rule can read it
    people_keys: tuple[tuple[str, str], ...] = field(default=())
    primary: str = ""  # the view's k-threshold people count (meta.disclosure.people)

    def people_key(self, member: str) -> str:
        return dict(self.people_keys).get(member, "")

    def within_one_snapshot(self) -> "DatasetRules":
        """The rules for cells of one snapshot each. There a person is one person-snapshot record,
        so every governing count (people per snapshot, distinct people, record counts) counts the
        very same people: they draw from the people's key and the shared stream, one value, not
        readings to average. Over several snapshots they are different counts and keep their own
        keys and streams (:meth:`people_label`)."""
        governing = set(self.people_members)
        measures = tuple(dataclasses.replace(r, key="") if r.kind == "people" and r.member in governing else r
                         for r in self.measures)
        return DatasetRules(self.people_members, self.cell_key_member, measures, (), "")

    def people_label(self, member: str) -> str:
        """The noise stream of a governing people count: the shared "people" stream, so the same
        people get the same noise through any view, unless it draws from the primary count's key
        without being it. Two different counts on one key and one stream would share one draw, and
        their difference would be exact (charges: people per snapshot minus distinct people, the
        people in custody on several snapshots); such a count draws from a stream of its own."""
        if self.primary and member != self.primary and self.people_key(member) == self.people_key(self.primary):
            return f"people:{member.rsplit('.', 1)[-1]}"
        return "people"

    @property
    def key_members(self) -> tuple[str, ...]:
        """Every cell key the values draw from: the people key first, then record keys (K7)."""
        out = [self.cell_key_member]
        for key in [*(k for _, k in self.people_keys), *(r.key for r in self.measures)]:
            if key and key not in out:
                out.append(key)
        return tuple(out)

    def only(self, names: Iterable[str]) -> "DatasetRules":
        keep = set(names)
        return DatasetRules(self.people_members, self.cell_key_member,
                            tuple(r for r in self.measures if r.name in keep), self.people_keys, self.primary)


@dataclass(frozen=True)
class Protected:
    values: dict[str, Any]  # public measure name -> published value or None
    suppressed: bool


class Disclosure:
    """Suppression and perturbation with threshold ``k`` (never below the FAQ's 5)."""

    def __init__(self, k: int, table: PerturbationTable | None = None):
        if k < MIN_K:
            raise ValueError(f"k must be at least {MIN_K}; it can be raised, never lowered")
        self.k = k
        self.table = table or PerturbationTable()
        self._protectors: dict[DatasetRules, Callable[[Mapping[str, Any]], tuple[dict[str, Any], bool]]] = {}

    # --- single values -----------------------------------------------------------------------
    def perturb_count(self, true: int, cell_key: int, label: str, floor: int) -> int:
        if true <= 0:
            return 0  # zero stays zero
        return max(true + self.table.noise(true, floor, key_stream(cell_key, label)), floor)

    def perturb_mean(self, mean: float, people: int, cell_key: int, label: str) -> float:
        draw = key_stream(cell_key, label) / (KEY_MODULUS / 2) - 1.0  # uniform in [-1, 1)
        total = mean * people
        total_p = total + draw * MEAN_TOTAL_SHARE * mean
        return round(max(total_p, 0.0) / people, MEAN_DECIMALS)

    def perturb_median(self, median: float, people: int, cell_key: int, label: str,
                       published_people: int | None = None) -> int:
        """``people`` is the cell's true count (it sizes the noise); ``published_people`` its
        published count, which alone decides the small-cell rule (K8), so that which rule applied
        tells nothing the published count does not."""
        draw = key_stream(cell_key, label) / (KEY_MODULUS / 2) - 1.0
        amplitude = MEDIAN_SHARE * median * math.sqrt(self.k / max(people, 1))
        shown = people if published_people is None else published_people
        if shown < MEDIAN_SMALL_CELL:
            moved = median + draw * max(MEDIAN_SMALL_MIN_DAYS, amplitude)
            return max(int(round(moved / MEDIAN_SMALL_STEP)) * MEDIAN_SMALL_STEP, 0)
        return max(int(round(median + draw * max(MEDIAN_MIN_DAYS, amplitude))), 0)

    # --- rows ----------------------------------------------------------------------------------
    def protect(self, raw: Mapping[str, Any], rules: DatasetRules) -> Protected:
        """Publishable values of one aggregated row (keyed by view members) — P1, P2, K1–K8."""
        values, suppressed = self.protector(rules)(raw)
        return Protected(values, suppressed)

    def protector(self, rules: DatasetRules) -> Callable[[Mapping[str, Any]], tuple[dict[str, Any], bool]]:
        """``raw row -> (values, suppressed)`` for ``rules``: :meth:`protect` with every per-measure
        constant (stream label and its CRC, floor, kind, key) worked out once, not per row.

        The values are exactly those of :meth:`perturb_count`, :meth:`perturb_mean` and
        :meth:`perturb_median` (same key streams, same table, same arithmetic)."""
        fn = self._protectors.get(rules)
        if fn is None:
            fn = self._build_protector(rules)
            if len(self._protectors) >= 256:
                self._protectors.clear()
            self._protectors[rules] = fn
        return fn

    def _build_protector(self, rules: DatasetRules) -> Callable[[Mapping[str, Any]], tuple[dict[str, Any], bool]]:
        k = self.k
        noise = self.table.noise
        max_noise = self.table.max_noise
        people_members = rules.people_members
        key_members = rules.key_members
        names = [r.name for r in rules.measures]
        # every people count the row must reach k on: the governing counts, and each requested
        # people-kind measure on its own value (K9: a subgroup's count of 3 is never published)
        thresholded = list(people_members) + [r.member for r in rules.measures
                                              if r.kind == "people" and r.member not in people_members]
        # each governing count's stream (the K8 median rule re-draws the governing count's noise)
        gov_crc = [zlib.crc32(rules.people_label(m).encode()) for m in people_members]
        # where each governing count's own noise comes from (for the K8 median rule)
        gov_key_at = [key_members.index(rules.people_key(m)) if rules.people_key(m) else 0 for m in people_members]
        # (name, member, kind code, CRC of the stream label, floor, governing count's position, key
        # position, the governing count's key position)
        steps: list[tuple[str, str, int, int, int, int, int, int]] = []
        rates: list[tuple[str, str, str]] = []  # (name, numerator, denominator), after every count
        cohorts: dict[str, str] = {}  # event measure -> the member counting its cohort
        for rule in rules.measures:
            # a record count's stream: its declared one, else its own name (a hidden copy, \0name
            # for a rate, draws as its measure does)
            records = f"count:{rule.stream or rule.name.lstrip(chr(0))}"
            if rule.kind == "people":
                # The cell's people count draws from the shared "people" stream, so the same count
                # asked through any view gets the same noise (no averaging across views); any
                # other people-kind measure (a subgroup's count) gets its own stream, so that
                # differences between measures of one cell do not cancel the noise.
                own = rule.member in people_members
                label, code, floor = (rules.people_label(rule.member) if own else f"people:{rule.name}"), 0, k
            elif rule.kind == "count":
                label, code, floor = records, 0, 1
            elif rule.kind == "mean":
                label, code, floor = f"mean:{rule.name}", 1, 0
            elif rule.kind == "median":
                label, code, floor = f"median:{rule.name}", 2, 0
            elif rule.kind == "cohort":
                label, code, floor = records, 4, k
            elif rule.kind == "event":
                label, code, floor = records, 5, k
            elif rule.kind == "rate":
                label, code, floor = "", 6, 0
            else:  # fail safe: an unknown kind is never published
                label, code, floor = "", 3, 0
            # the governing count's position among the row's people counts (-1: none, so never published)
            governed = people_members.index(rule.governed_by) if rule.governed_by in people_members else -1
            # K7: each value from the key the model names for what it counts (default: the people's key)
            key_at = key_members.index(rule.key) if rule.key else 0
            if code == 6:
                rates.append((rule.name, rule.numerator, rule.denominator))
                continue
            steps.append((rule.name, rule.member, code, zlib.crc32(label.encode()), floor, governed, key_at,
                          gov_key_at[governed] if governed >= 0 else 0))
            if code == 5:
                cohorts[rule.name] = rule.of

        def draw32(x: int) -> int:  # key_stream: _mix64(x) >> 32, written out (one call, not two)
            x = (x + 0x9E3779B97F4A7C15) & _M64
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
            return (x ^ (x >> 31)) >> 32

        def protect_row(raw: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
            get = raw.get
            for m in thresholded:
                n = _as_int(get(m))
                if 0 < n < k:
                    return dict.fromkeys(names), True
            counts = [_as_int(get(m)) for m in people_members]
            highs = [(_as_int(get(m)) % KEY_MODULUS) << 32 for m in key_members]
            values: dict[str, Any] = {}
            for name, member, code, crc, floor, governed, key_at, gov_at in steps:
                value = get(member)
                high = highs[key_at]
                if code == 0:  # people / count: perturb_count
                    true = _as_int(value)
                    values[name] = 0 if true <= 0 else max(true + noise(true, floor, draw32(high | crc)), floor)
                    continue
                if code in (4, 5):  # cohort / event counts (RC12): withheld on their own, row stays
                    true = _as_int(value)
                    if value is None:  # censored or unavailable (RC8): not zero
                        values[name] = None
                    elif code == 4 and 0 < true < k:
                        values[name] = None
                    elif code == 5 and (true < k or _as_int(get(cohorts[name])) - true < k + 2 * max_noise):
                        # fewer than k had it, or fewer than k did not (all or none); the margin of
                        # twice the noise keeps the published count below the published cohort, so
                        # no rate is ever shown as 100%
                        values[name] = None
                    else:
                        values[name] = 0 if true <= 0 else max(true + noise(true, floor, draw32(high | crc)), floor)
                    continue
                people = counts[governed] if governed >= 0 else 0
                if code == 3 or people <= 0 or value is None:
                    values[name] = None
                elif code == 1:  # perturb_mean
                    mean = float(value)
                    draw = draw32(high | crc) / (KEY_MODULUS / 2) - 1.0
                    total = mean * people
                    total_p = total + draw * MEAN_TOTAL_SHARE * mean
                    values[name] = round(max(total_p, 0.0) / people, MEAN_DECIMALS)
                else:  # perturb_median, sized by the governing count as published (K8)
                    median = float(value)
                    draw = draw32(high | crc) / (KEY_MODULUS / 2) - 1.0
                    amplitude = MEDIAN_SHARE * median * math.sqrt(k / max(people, 1))
                    shown = max(people + noise(people, k, draw32(highs[gov_at] | gov_crc[governed])), k)
                    if shown < MEDIAN_SMALL_CELL:
                        moved = median + draw * max(MEDIAN_SMALL_MIN_DAYS, amplitude)
                        values[name] = max(int(round(moved / MEDIAN_SMALL_STEP)) * MEDIAN_SMALL_STEP, 0)
                    else:
                        values[name] = max(int(round(median + draw * max(MEDIAN_MIN_DAYS, amplitude))), 0)
            for name, num, den in rates:
                values[name] = published_rate(values, num, den)
            return values, False

        return protect_row

    # --- several codes of a filter (K4: a bounded space of people sets) -------------------------
    def combine(self, parts: Iterable[tuple[dict[str, Any], bool]], rules: DatasetRules,
                weights: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
        """One published row for a filter on several codes, from the published rows of its
        single-code cells (``parts``; a code with no people has no part).

        The row is withheld when any part is; counts are the sum of the parts' published counts;
        a mean is the mean of the parts' published means weighted by their published governing
        counts (``weights``: mean name -> the part's value naming that count). Nothing here reads
        a true value, so a filter on several codes publishes only what adding rows would give."""
        names = [r.name for r in rules.measures]
        parts = list(parts)
        if any(withheld for _, withheld in parts):
            return dict.fromkeys(names), True
        values: dict[str, Any] = {}
        for rule in rules.measures:
            if rule.kind in ("people", "count"):
                values[rule.name] = sum(int(v[rule.name] or 0) for v, _ in parts)
            elif rule.kind in ("cohort", "event"):  # withheld (or censored) when any part is
                vals = [v.get(rule.name) for v, _ in parts]
                values[rule.name] = None if any(x is None for x in vals) else sum(int(x) for x in vals)
            elif rule.kind == "rate":
                continue  # from the combined counts, below
            elif rule.kind == "mean":
                w = weights[rule.name]
                den = sum(int(v[w] or 0) for v, _ in parts if v[rule.name] is not None)
                num = sum(float(v[rule.name]) * int(v[w] or 0) for v, _ in parts if v[rule.name] is not None)
                values[rule.name] = round(num / den, MEAN_DECIMALS) if den > 0 else None
            else:  # a median does not combine over codes; service refuses such a question first
                values[rule.name] = None
        for rule in rules.measures:
            if rule.kind == "rate":
                values[rule.name] = published_rate(values, rule.numerator, rule.denominator)
        return values, False

    def protect_all(self, rows: Iterable[Mapping[str, Any]], rules: DatasetRules) -> list[Protected]:
        return [self.protect(r, rules) for r in rows]

    # --- documentation ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What users are told about the rules (metadata, page, docs) — generated from the code."""
        return {
            "method": ("threshold suppression, cell-key perturbation (ABS TableBuilder method) and a bounded space "
                       "of people sets (filters on several codes are sums of single-code cells)"),
            "k": self.k,
            "suppression": (
                f"A row with fewer than {self.k} distinct people (none included, as the FAQ says: data samples "
                f"of less than five records are suppressed), or in which any people count it shows is below "
                f"{self.k}, publishes no measure: every measure is null (an empty cell in CSV) and the row has "
                "suppressed=true. Every combination of the asked codes is listed, with or without people, so "
                "which rows exist says nothing about who is in them. A suppressed row is never shown as 0. "
                "Along a dimension of two codes (a program taken or not; pretrial or sentenced) a row is "
                "also suppressed when its other half (the same row with the other code) is, and a cohort or "
                "event count is withheld where the other half's is: otherwise the total minus the published "
                "half would give the withheld one back."),
            "perturbation": {
                "counts": (
                    f"Counts are moved by at most {self.table.max_noise} by a fixed amount drawn from the "
                    "cell's key. People counts draw from the people in the cell (the sum of their random "
                    "keys); charge, conviction and enrollment counts draw from the records they count (each "
                    "charge and enrollment carries its own random key), so two cells with the same people "
                    "and different charges are perturbed independently, while measures that can count the "
                    "very same records (a cohort's releases and those of them followed for a window; charges "
                    "and convictions of convicted charges) draw the same amount there, so they are one value, "
                    "not readings to average; so do a cell's people counts within one snapshot (people, "
                    "distinct people, record counts: there a person is one record). The same cell always gets the same "
                    f"amount, so asking again or spelling the question differently gives the same answer. "
                    f"People counts are never shown below {self.k}, and non-zero record counts are never "
                    "shown as 0."),
                "counts_table": self.table.describe(
                    "floor (k for people, cohort and event counts, 1 for other record counts)"),
                "means": (
                    f"A mean is the cell's total days, moved by up to {MEAN_TOTAL_SHARE:g} of one average "
                    f"person's days, divided by the cell's count and rounded to {MEAN_DECIMALS} decimal: "
                    "it moves by at most "
                    f"{MEAN_TOTAL_SHARE:g}/count of itself."),
                "medians": (
                    f"A median is moved by up to max({MEDIAN_MIN_DAYS:g} days, {MEDIAN_SHARE:.0%} of the "
                    f"median × sqrt({self.k}/count)) and rounded to whole days. In a row whose published "
                    f"people count is below {MEDIAN_SMALL_CELL}, where the middle value is one of a few "
                    f"people's, it moves by up to max({MEDIAN_SMALL_MIN_DAYS:g} days, the same share) and is "
                    f"given to the nearest {MEDIAN_SMALL_STEP} days."),
                "published_only_with_count": (
                    "Means and medians are published only in rows whose people count is published, "
                    "and that count is always returned with them."),
            },
            "several_codes": (
                "Every published cell is either one code or all codes of each dimension. A filter on "
                "several codes of a dimension that is not a column of the answer (race=W,B) is answered "
                "as the sum of the published rows of each code: its counts are the sum of their published "
                "counts, its means the mean of their published means weighted by their published people "
                "counts, and it is withheld when any of its codes is withheld. It therefore tells nothing "
                "that adding published rows would not. A median cannot be combined over codes: ask with "
                "the dimension as a column instead. Where a person has several codes of a dimension (a "
                "person with charges of several offense types), the summed people count counts that "
                "person once per code."),
            "why_totals_differ": (
                "Each cell is perturbed on its own, so rows may not add up exactly to a total asked "
                "for separately; this is deliberate and stops subtraction from revealing withheld rows."),
            "not_published": "No minimum, maximum or list of values; no person-level data.",
            "protection_measured": {
                "what": ("exact recovery of withheld cells by the attack suite (tests/test_attacks_recovery.py) "
                         "over HTTP on scale-1 synthetic data, beside the rate of guessing the commonest true "
                         "value; the suite fails above guessing + 0.05"),
                "results": MEASURED_PROTECTION,
            },
            "error_measured": {
                "what": ("mean absolute error of published people counts against the truth, by the true size "
                         "of the cell, on scale-1 synthetic data (benchmarks/disclosure_compare.py)"),
                "results": MEASURED_ERROR,
            },
        }


# Figures from the last run of tests/test_attacks_recovery.py and benchmarks/disclosure_compare.py
# on scale-1 synthetic data (seed 5); README's disclosure section states the same.
MEASURED_PROTECTION: dict[str, dict[str, float]] = {
    "averaging 40 routes X∪T − T, 40 cells (0.93 before the lattice rule)": {"recovered": 0.35, "guessing": 0.35},
    "margin minus breakdown, one route": {"recovered": 0.329, "guessing": 0.304},
    "margins over up to 8 partitions, averaged": {"recovered": 0.331, "guessing": 0.304},
    "complement filter (all but X)": {"recovered": 0.35, "guessing": 0.375},
    "releases: a margin minus its other half along a yes/no dimension (0.445 before the two-code rule)":
        {"recovered": 0.254, "guessing": 0.254},
    "releases: a margin minus its two other codes (three-code dimensions)": {"recovered": 0.537, "guessing": 0.970},
    "charges: same people, different charges (complement)": {"recovered": 0.417, "guessing": 0.417},
    "charges: same people, (X, r) − (X, r, felony)": {"recovered": 0.382, "guessing": 0.373},
    "row existence: a withheld cell broken down by 6 dimensions": {"recovered": 0.15, "guessing": 0.35},
    "small-cell medians (odd cells of 5–15), exact": {"recovered": 0.021, "guessing": 0.027},
}
MEASURED_ERROR: dict[str, dict[str, Any]] = {
    "cells of one code or all codes, ±3 (±2 before)": {"5-19": 1.27, "20-99": 1.45, "100+": 1.38,
                                                       "before": {"5-19": 0.92, "20-99": 1.06, "100+": 0.98}},
    "filters on several codes": {"5-19": None, "20-99": 2.11, "100+": 2.11,
                                 "withheld": "43.8% of such cells of 5+ people (0% before): withheld when any code is "
                                             "small or empty"},
    "filters on several codes, before": {"5-19": 0.93, "20-99": 0.98, "100+": 1.05},
}


def published_rate(values: Mapping[str, Any], numerator: str, denominator: str) -> float | None:
    """RC12: a rate from the published counts of its row only (a hidden copy ``\0name`` when the
    count itself was not asked for), in percent; null unless both are published."""
    num = values.get(numerator, values.get("\0" + numerator))
    den = values.get(denominator, values.get("\0" + denominator))
    if num is None or den is None or int(den) <= 0:
        return None
    return round(100.0 * int(num) / int(den), RATE_DECIMALS)


def _as_int(value: Any) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        return int(float(value))

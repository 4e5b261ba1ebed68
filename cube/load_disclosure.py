"""Disclosure meta of measures and views (K7, K9, P1, P2, RC12): each measure's
``meta.disclosure`` must be a kind its aggregation can protect, governed by a count of people."""

from __future__ import annotations

from crosstrack.cube.load_base import LoaderBase, Loc
from crosstrack.cube.load_keys import COUNT_TYPES, DISCLOSURE_KINDS, MEDIAN_FORM, did_you_mean
from crosstrack.cube.model import Cube, Measure, View


STREAM_KINDS = ("count", "cohort", "event")  # record counts that may share a noise stream


class DisclosureChecks(LoaderBase):
    def check_disclosure_meta(self, cube: Cube) -> None:
        self.check_streams(cube)
        for m in cube.measures.values():
            within = m.meta.get("distinct_within") if isinstance(m.meta, dict) else None
            if within is not None:
                mloc = self.locs[("member", cube.name, m.name)]
                if not isinstance(within, list) or not all(isinstance(d, str) for d in within):
                    self.err(mloc, "model.bad_meta", "meta.distinct_within must be a list of dimension names", "meta")
                else:
                    for d in within:
                        if d not in cube.dimensions:
                            self.err(mloc, "model.bad_meta", f"meta.distinct_within: '{d}' is not a dimension of "
                                                       f"'{cube.name}'{did_you_mean(d, cube.dimensions)}", "meta")
            disc = m.meta.get("disclosure") if isinstance(m.meta, dict) else None
            if disc is None:
                continue
            loc = self.locs[("member", cube.name, m.name)]
            if not isinstance(disc, dict):
                self.err(loc, "model.bad_disclosure", "meta.disclosure must be a mapping {kind, governed_by}", "meta")
                continue
            kind = disc.get("kind")
            if kind not in DISCLOSURE_KINDS:
                self.err(loc, "model.bad_disclosure", f"meta.disclosure.kind '{kind}' is not one of {', '.join(DISCLOSURE_KINDS)}"
                                                f"{did_you_mean(kind, DISCLOSURE_KINDS)}", "meta")
            else:
                self.check_kind_fits(cube, loc, m, kind, disc)
            gov = disc.get("governed_by")
            if gov is not None:
                g = cube.measures.get(gov)
                if g is None:
                    self.err(loc, "model.bad_disclosure", f"meta.disclosure.governed_by '{gov}' is not a measure of "
                                                    f"'{cube.name}'{did_you_mean(gov, cube.measures)}", "meta")
                elif not self._is_people_count(g):
                    self.err(loc, "model.bad_disclosure", f"meta.disclosure.governed_by '{gov}' is a '{g.type}' measure, "
                                                    "not a count of people (count or count_distinct)", "meta")
            elif kind in ("mean", "median", "count", "cohort", "event", "rate"):
                self.err(loc, "model.bad_disclosure", "meta.disclosure needs governed_by: the count of people that decides "
                                                "whether this value may be published", "meta")

    def check_kind_fits(self, cube: Cube, loc: Loc, m: Measure, kind: str, disc: dict) -> None:
        """K9, P2: a measure's aggregation must be a form its disclosure kind can protect, so that
        no model edit publishes one person's value (a max, a min, a raw column) or an unprotected
        count. Each refusal says why, at the measure's meta."""
        why = None
        if m.type in ("min", "max"):
            why = (f"a '{m.type}' is one person's value and is never published (P2); publish a mean or a "
                   "median instead")
        elif m.type == "count_distinct_approx":
            why = "an approximate distinct count cannot be thresholded exactly at k (P1); use count_distinct"
        elif kind == "people" and not self._is_people_count(m):
            why = (f"a people count must be a count or count_distinct measure (or a number measure that is "
                   f"exactly one of them), not '{m.type}'")
        elif kind == "count" and not (m.type in ("count", "sum") or self._is_people_count(m)):
            why = f"a record count must be a count or sum measure, not '{m.type}'"
        elif kind == "mean" and m.type != "avg":
            why = f"a mean must be an avg measure, not '{m.type}'"
        elif kind == "median" and not (m.type == "number" and m.sql is not None and MEDIAN_FORM.match(m.sql.text)):
            why = ("a median must be a number measure whose sql is quantileExactInclusive(0.5)(...), "
                   "quantileExact(0.5)(...) or median(...)")
        elif kind in ("cohort", "event") and m.type not in ("count", "sum"):
            why = f"a {kind} count (docs/recidivism.md RC12) must be a count or sum measure, not '{m.type}'"
        elif kind == "event" and not (isinstance(disc.get("of"), str) and
                                      getattr(cube.measures.get(disc["of"]), "meta", {}).get("disclosure", {})
                                      .get("kind") in ("cohort", "count")):
            why = ("an event count needs meta.disclosure.of: the cohort or count measure of the same cube it is "
                   "part of, so that a group in which all or none had the event is withheld (RC12)")
        elif kind == "rate" and not all(
                isinstance(disc.get(p), str) and getattr(cube.measures.get(disc[p]), "meta", {})
                .get("disclosure", {}).get("kind") in ok for p, ok in (("numerator", ("event",)),
                                                                        ("denominator", ("cohort", "count")))):
            why = ("a rate needs meta.disclosure.numerator (an event measure) and denominator (its cohort "
                   "measure) of the same cube: it is computed from their published values only (RC12)")
        if why:
            self.err(loc, "model.disclosure_kind_mismatch", f"meta.disclosure.kind '{kind}' does not fit this measure: {why}",
                     "meta")
            return
        key = disc.get("key")
        if key is None:
            if kind in ("count", "cohort", "event"):
                self.err(loc, "model.bad_disclosure", "a record count needs meta.disclosure.key: a hidden sum of the "
                                                "counted records' own keys (K7), e.g. sum({CUBE}.row_key)", "meta")
            return
        k = cube.measures.get(key) if isinstance(key, str) else None
        if k is None:
            self.err(loc, "model.bad_disclosure", f"meta.disclosure.key '{key}' is not a measure of "
                                            f"'{cube.name}'{did_you_mean(str(key), cube.measures)}", "meta")
        elif k.public or k.type != "sum":
            self.err(loc, "model.bad_disclosure", f"meta.disclosure.key '{key}' must be a hidden (public: false) sum of "
                                            "record keys", "meta")

    def check_streams(self, cube: Cube) -> None:
        """``meta.disclosure.stream``: record counts that may count the very same records share
        one noise stream, so those records get the same noise whichever is asked (K3, K4: no
        averaging of several readings). That is sound only if each sums its own records' keys,
        so measures of one stream must have distinct keys and the same floor (a record count,
        floor 1; or cohort and event counts, floor k)."""
        streams: dict[str, list[tuple[Measure, dict]]] = {}
        for m in cube.measures.values():
            disc = (m.meta.get("disclosure") if isinstance(m.meta, dict) else None) or {}
            if not isinstance(disc, dict) or "stream" not in disc:
                continue
            loc = self.locs[("member", cube.name, m.name)]
            stream, kind = disc.get("stream"), disc.get("kind")
            if not isinstance(stream, str) or not stream.isidentifier():
                self.err(loc, "model.bad_disclosure", "meta.disclosure.stream must be a name (letters, digits, _)", "meta")
            elif kind not in STREAM_KINDS:
                self.err(loc, "model.bad_disclosure", f"meta.disclosure.stream is for record counts ({', '.join(STREAM_KINDS)}), "
                                                f"not a '{kind}' measure", "meta")
            else:
                streams.setdefault(stream, []).append((m, disc))
        for stream, members in streams.items():
            keys: dict[str, str] = {}
            sums: dict[tuple[str, str], str] = {}  # what a key computes: its sql and filters
            floors = {d.get("kind") == "count" for _, d in members}
            own = {m.name for m, _ in members}
            for m, disc in members:
                loc = self.locs[("member", cube.name, m.name)]
                key = disc.get("key")
                if stream in cube.measures and stream not in own:
                    # streams and measures draw from one label space (count:<name>): a stream named
                    # after another measure would share that measure's draws
                    self.err(loc, "model.bad_disclosure", f"meta.disclosure.stream '{stream}' is the name of measure "
                                                    f"'{stream}', which is not in the stream; name a stream after one "
                                                    "of its own measures or a new name", "meta")
                k = cube.measures.get(key) if isinstance(key, str) else None
                computes = (k.sql.text if k.sql is not None else "",
                            tuple(f.text for f in k.filters)) if k is not None else None
                if key in keys:
                    self.err(loc, "model.bad_disclosure", f"meta.disclosure.stream '{stream}': key '{key}' is also "
                                                    f"{keys[key]}'s; measures of one stream need keys of their own "
                                                    "records, or different counts would share one noise draw", "meta")
                elif computes is not None and computes in sums:
                    self.err(loc, "model.bad_disclosure", f"meta.disclosure.stream '{stream}': key '{key}' sums the "
                                                    f"same as {sums[computes]}'s key; measures of one stream need keys "
                                                    "of their own records, or different counts would share one noise "
                                                    "draw", "meta")
                elif isinstance(key, str):
                    keys[key] = m.name
                    if computes is not None:
                        sums[computes] = m.name
                if len(floors) > 1:
                    self.err(loc, "model.bad_disclosure", f"meta.disclosure.stream '{stream}' mixes count with cohort or "
                                                    "event measures: their floors differ (1 and k), so the same records "
                                                    "would not get the same noise", "meta")

    def _is_people_count(self, m: Measure, distinct: bool = False) -> bool:
        """A count of people: count or count_distinct (``distinct``: count_distinct only), or a
        number measure that is exactly one of those."""
        types = ("count_distinct",) if distinct else COUNT_TYPES
        if m.type in types:
            return True
        # number measure that is exactly one count measure, e.g. record_count: "{people}"
        if m.type == "number" and m.sql is not None and len(m.sql.resolved) == 1 and m.sql.resolved[0]:
            _, c, n = m.sql.resolved[0]
            inner = self.cubes[c].measures.get(n)
            return inner is not None and inner is not m and inner.type in types and \
                m.sql.tree.sql() == "__ref_0__"
        return False

    def check_view_disclosure(self, loc: Loc, view: View) -> None:
        disc = view.meta.get("disclosure")
        if disc is None:
            return
        if not isinstance(disc, dict) or set(disc) - {"people", "cell_key", "records"}:
            self.err(loc, "model.bad_disclosure", "meta.disclosure of a view is {people: <member>, cell_key: <member>, "
                                            "records: <member> (optional)}", "meta")
            return
        for key in ("people", "cell_key", "records"):
            name = disc.get(key)
            if key == "records" and name is None:
                continue
            vm = view.members.get(name) if isinstance(name, str) else None
            if vm is None or vm.kind != "measure":
                measures = [n for n, x in view.members.items() if x.kind == "measure"]
                self.err(loc, "model.bad_disclosure", f"meta.disclosure.{key} '{name}' is not a measure of view "
                                                f"'{view.name}'{did_you_mean(name, measures)}", "meta")
                continue
            m = self.cubes[vm.cube].measures[vm.member]
            if key in ("people", "records") and not self._is_people_count(m):
                self.err(loc, "model.bad_disclosure", f"meta.disclosure.{key} '{name}' is a '{m.type}' measure, not a count "
                                                "of people", "meta")
            elif key == "people" and not self._is_people_count(m, distinct=True):
                # P1: the threshold counts distinct people, never records (a person in five
                # snapshots is five records and still one person)
                self.err(loc, "model.bad_disclosure", f"meta.disclosure.people '{name}' must count distinct people "
                                                f"(count_distinct), not '{m.type}'", "meta")
            if key == "cell_key" and m.public:
                self.err(loc, "model.bad_disclosure", f"meta.disclosure.cell_key '{name}' must be hidden (public: false)", "meta")
        for n, vm in view.members.items():
            m = self.cubes[vm.cube].member(vm.member)
            if vm.kind == "measure" and m.public and not isinstance((vm.meta or m.meta).get("disclosure"), dict):
                self.err(loc, "model.bad_disclosure", f"measure '{n}' of a disclosure-controlled view has no "
                                                "meta.disclosure {kind, governed_by}", "cubes")

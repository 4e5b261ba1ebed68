"""Synthetic agency extracts in the raw format (spec/extracts.md), calibrated to calibration.yml.

How the population is built (all vectorised with numpy; deterministic for a seed):

* Targets. For each snapshot year and agency the number of people the facts must count (after
  the R2 exclusions) is the calibration figure times ``scale``: DOC uses
  ``custody_crosstracking_basis`` split into sentenced/pretrial by ``legal_status_share`` (the
  civil share is generated on top, since civil commitments are excluded from the counts); each
  Sheriff's Office uses ``by_county`` split by ``pretrial_share`` (2022 county overrides).
* Stock and flow. Each (agency, status) cell walks the snapshots in order. People still in
  custody from the previous snapshot carry over; if they exceed the target the surplus is
  released between the two snapshots, otherwise new placements admitted after the previous
  snapshot fill the gap. Elapsed time at the snapshot (R6 days) is drawn from the cell's
  ``length_of_stay_days`` distribution (truncated to the gap for new placements) and the time
  still to serve from the same distribution, which is what a stationary stock looks like.
  Counts therefore match the targets exactly at every snapshot.
* Chains. A counted placement may follow an earlier one of the same person that lies wholly
  between two snapshots, so it never adds to another agency's count: a TRANSFER (the earlier
  placement ends the day the new one starts), a STATUS_CHANGE (a pretrial jail stay that
  becomes a sentence), or a PAROLE_VIOLATION (an earlier DOC/HOC sentence).
* Edge cases (R1-R12): releases exactly on a snapshot date, juveniles who turn 18 between
  snapshots (and one whose 18th birthday is the snapshot), civil commitments, safe keeps,
  federal and compact (in and out) holds, Hispanic as a race code, Dukes (Nantucket never
  appears: its people are held by Barnstable), dockets filed the same day, IMS governing flags
  that are not the first charge, pretrial people with no felony, people with no programs,
  statutes cited as bare sections, a stated share (UNKNOWN_STATUTE_SHARE) of statutes missing
  from the reference table, CMR and municipal offences.

The parts, one module each: calibration figures and draws (generate_draws), the counted
population (generate_population), one population as extract tables (generate_people), its
charges and programs (generate_records); this module writes them in chunks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from crosstrack.loaders.generate_draws import CALIBRATION
from crosstrack.loaders.generate_people import build_population
from crosstrack.loaders.generate_population import Population
from crosstrack.loaders.generate_records import UNKNOWN_STATUTE_SHARE, UNKNOWN_STATUTES
from crosstrack.loaders.recidivism_gen import add_release_outcomes

# the calibration file and the R12 shares are part of this module's interface (tests, benchmarks)
__all__ = ["CALIBRATION", "CHUNK_SCALE", "UNKNOWN_STATUTES", "UNKNOWN_STATUTE_SHARE", "generate_extracts"]

CHUNK_SCALE = 10.0  # largest population built in one piece (see generate_extracts)


def generate_extracts(out: Path, *, seed: int, scale: float, fmt: str = "csv",
                      years: list[int] | None = None, console: Any = None) -> dict[str, int]:
    """Write people, custody_episodes, charges and program_enrollments into ``out``.

    Returns the row count of each file. Deterministic for (seed, scale, years)."""
    if fmt not in ("csv", "parquet"):
        raise ValueError("fmt must be csv or parquet")
    if scale <= 0:
        raise ValueError("scale must be > 0")
    years = sorted(years or list(range(2017, 2025)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    progress = _Progress(console)
    # A large population is built and written in chunks of at most CHUNK_SCALE, each a calibrated
    # population of its own with its own id range, so memory stays that of one chunk (about 2 GB
    # at scale 10) whatever the scale. Up to CHUNK_SCALE the output is exactly one chunk.
    n_chunks = max(1, math.ceil(scale / CHUNK_SCALE - 1e-9))
    counts = {}
    writers: dict[str, Any] = {}
    offsets = {"people": 0, "episodes": 0}
    try:
        with progress:
            for i in range(n_chunks):
                g = Population(seed if n_chunks == 1 else [seed, i], scale / n_chunks, years)
                progress.step(f"placing people in custody ({i + 1}/{n_chunks})" if n_chunks > 1
                              else "placing people in custody")
                tables = build_population(g, g.rng, offsets)
                # the release cohort's later custody and court events (docs/recidivism.md), on a
                # random stream of their own so the snapshot population above is unchanged
                tables = add_release_outcomes(tables, seed=seed if n_chunks == 1 else [seed, i], years=g.years,
                                              end=g.end, offsets=offsets)
                progress.step("writing files")
                for name, table in tables.items():
                    if name not in writers:
                        path = out / f"{name}.{fmt}"
                        # strings only where quoting matters; dates as YYYY-MM-DD, nulls as empty fields
                        writers[name] = (pacsv.CSVWriter(path, table.schema, write_options=pacsv.WriteOptions(
                            quoting_style="needed")) if fmt == "csv" else pq.ParquetWriter(path, table.schema))
                    writers[name].write_table(table)
                    counts[name] = counts.get(name, 0) + table.num_rows
                del tables
    finally:
        for w in writers.values():
            w.close()
    for name in counts:
        for other in ("csv", "parquet"):
            stale = out / f"{name}.{other}"
            if other != fmt and stale.exists():
                stale.unlink()
    if console is not None:
        console.print(f"wrote {', '.join(f'{k} {v:,}' for k, v in counts.items())} rows to {out}")
    return counts


class _Progress:
    def __init__(self, console: Any):
        self.console = console
        self._status = None

    def __enter__(self):
        if self.console is not None:
            self._status = self.console.status("generating")
            self._status.__enter__()
        return self

    def step(self, text: str) -> None:
        if self._status is not None:
            self._status.update(f"generating: {text}")

    def __exit__(self, *exc):
        if self._status is not None:
            self._status.__exit__(*exc)
        return False

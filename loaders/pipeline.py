"""``crosstrack load``: read and validate extracts, build facts, check them, publish atomically."""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from crosstrack.config import Settings
from crosstrack.engine import Engine, EngineError, EngineUnavailable
from crosstrack.loaders.cluster import Layout
from crosstrack.loaders.extract import TABLES, ExtractError, Reject, find_files, stage_file
from crosstrack.loaders.facts import build_facts
from crosstrack.loaders.recidivism import build_release_facts
from crosstrack.loaders.publish import check_database, drop_stale, ensure_history, next_version_number, publish
from crosstrack.loaders.schema import OFFENSE_SUBTYPES, OFFENSE_TYPES
from crosstrack.loaders.validate import count_rejected_rows, drop_raw, fetch_rejects, validate
from crosstrack.sql import qi

Hook = Callable[[Engine, str], Any]
# Called with the PublishedVersion right after the publishing insert (an online publish warms the
# serving process's cache and switches its readers here); retention runs after them.
AfterHook = Callable[[Any], Any]

EXIT_OK, EXIT_REJECTED, EXIT_BAD_INPUT, EXIT_FAILED = 0, 1, 2, 3
SHOWN_REJECTS = 20  # problem lines printed after the summary table; the report lists all


def _count_lines(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        try:
            return pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001
            return 0
    n = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            n += chunk.count(b"\n")
    return max(0, n - 1)


def write_rejects_report(path: Path, rejects: Iterable[Reject]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "row", "column", "code", "message"])
        for r in rejects:
            w.writerow([r.file, r.row, r.column, r.code, r.message])
            n += 1
    return n


def _summarise_rejects(console: Console, rejects: list[Reject], rejected_rows: int, report: Path | None) -> None:
    by: dict[tuple[str, str, str], list[int]] = {}
    for r in rejects:
        by.setdefault((r.file, r.column, r.code), []).append(r.row)
    t = Table(title=f"Rejected rows: {rejected_rows}", show_lines=False)
    for col in ("file", "column", "code", "rows", "first rows"):
        t.add_column(col)
    for (file, column, code), rows in sorted(by.items()):
        t.add_row(file, column, code, str(len(rows)), ", ".join(map(str, sorted(rows)[:5])))
    console.print(t)
    # the first problems as lines naming file, row, column, code and reason (never a value)
    for r in sorted(rejects, key=lambda r: (r.file, r.row))[:SHOWN_REJECTS]:
        console.print(r.cli_line(), markup=False, highlight=False, soft_wrap=True)
    if len(rejects) > SHOWN_REJECTS:
        console.print(f"... and {len(rejects) - SHOWN_REJECTS} more in the rejects report", markup=False)
    if report:
        console.print(f"rejects report: {report}")


def run_load(settings: Settings, source: Path, *, max_rejects: int = 0, rejects_report: Path | None = None,
             console: Console | None = None, before_publish: Iterable[Hook] = (),
             timings: dict[str, float] | None = None, engine: Engine | None = None,
             allow_empty: Iterable[str] = (), after_publish: Iterable[AfterHook] = ()) -> int:
    """Load one extract folder. Exit codes: 0 published; 1 too many rejected rows; 2 the extract
    cannot be read (missing file, wrong header); 3 the engine failed or the built facts failed
    their checks. Anything but 0 leaves the published version exactly as it was. ``timings``, if
    given, receives the seconds spent in each phase (read, validate, facts, checks, publish).
    ``engine`` replaces ``Engine.from_settings(settings)`` (the same interface; tests pass one that
    records every statement). ``settings.cluster`` selects the cluster DDL (``loaders.cluster``).
    A table file with a header and no rows stops the load (exit 2) unless its table is in
    ``allow_empty`` (``--allow-empty TABLE``): an agency's empty export is far more often a
    failed export than a true zero, and publishing it would silently zero a statistic."""
    allow_empty = set(allow_empty)
    unknown_empty = sorted(allow_empty - set(TABLES))
    console = console or Console(stderr=True)
    if unknown_empty:
        console.print(f"[red]error:[/red] --allow-empty {', '.join(unknown_empty)}: not a table; "
                      f"tables are {', '.join(TABLES)}")
        return EXIT_BAD_INPUT
    source = Path(source)
    started = time.perf_counter()
    timings = timings if timings is not None else {}
    clock = [started]

    def lap(phase: str) -> None:
        now = time.perf_counter()
        timings[phase] = timings.get(phase, 0.0) + now - clock[0]
        clock[0] = now
    try:
        engine = engine if engine is not None else Engine.from_settings(settings)
        ensure_history(engine, settings)
        dropped = drop_stale(engine, settings)
        if dropped:
            console.print(f"dropped {len(dropped)} stale database(s) from earlier loads")
        number = next_version_number(engine, settings)
    except (EngineUnavailable, EngineError) as err:
        console.print(f"[red]error:[/red] {err}")
        return EXIT_FAILED
    stage = f"{settings.database}_stage_{number}"
    target = f"{settings.database}_v{number}"
    report_path = rejects_report or (settings.data_dir / "rejects" /
                                     f"rejects-v{number}-{dt.datetime.now():%Y%m%dT%H%M%S}.csv")
    try:
        files = find_files(source)
    except ExtractError as err:
        write_rejects_report(report_path, err.rejects)
        _summarise_rejects(console, err.rejects, 0, report_path)
        console.print("[red]nothing published:[/red] the extract folder is not in the raw format")
        return EXIT_BAD_INPUT

    try:
        # the staging database holds this load's working tables and stays on this node; the
        # version database is created on every node of a cluster (settings.cluster)
        engine.command(f"CREATE DATABASE {qi(stage)}")
        for sql in Layout.for_settings(settings).create_database(target):
            engine.command(sql)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=False,
                      disable=not console.is_terminal) as progress:
            staged = []
            for table, path in files.items():
                # counting lines costs a pass over the file: only when the bar is shown
                total = (_count_lines(path) or None) if console.is_terminal else None
                task = progress.add_task(f"reading {path.name}", total=total)
                staged.append(stage_file(engine, stage, table, path,
                                         on_rows=lambda n, task=task: progress.advance(task, n)))
                progress.update(task, completed=progress.tasks[task].total or 0)
            lap("read")
            empty = [s for s in staged if s.rows == 0 and s.table not in allow_empty]
            if empty:
                for s in empty:
                    console.print(f"[yellow]warning:[/yellow] {s.path.name} has a header and no rows: "
                                  f"{s.table} would be published as zero")
                write_rejects_report(report_path, [Reject(s.path.name, 0, "*", "files.no_rows",
                                                          f"a header and no rows (load with --allow-empty {s.table} "
                                                          "if the agency truly has none)") for s in empty])
                console.print(f"rejects report: {report_path}")
                console.print("[red]nothing published:[/red] empty table file(s); if the agency truly has none, "
                              "load again with " + " ".join(f"--allow-empty {s.table}" for s in empty))
                return EXIT_BAD_INPUT
            for s in staged:
                if s.rows == 0:
                    console.print(f"[yellow]warning:[/yellow] {s.path.name} has no rows; published as zero "
                                  f"(--allow-empty {s.table})")
            names = {s.table: s.path.name for s in staged}
            parse_rejects = [r for s in staged for r in s.parse_rejects]
            vtask = progress.add_task("checking every row", total=4)
            validate(engine, stage, parse_rejects, names)
            progress.update(vtask, completed=4)
            rejected_rows = count_rejected_rows(engine, stage)
            rejects = fetch_rejects(engine, stage, names) if rejected_rows else []
            if rejected_rows:
                write_rejects_report(report_path, rejects)
                _summarise_rejects(console, rejects, rejected_rows, report_path)
            drop_raw(engine, stage)
            lap("validate")
            if rejected_rows > max_rejects:
                console.print(f"[red]nothing published:[/red] {rejected_rows} rejected row(s), "
                              f"more than --max-rejects {max_rejects}")
                return EXIT_REJECTED
            ftask = progress.add_task("building facts", total=8)

            def step(text: str) -> None:
                progress.update(ftask, description=f"facts: {text}", advance=1)

            released: dict[str, object] = {}

            def release_cohort() -> None:
                # the release cohort (docs/recidivism.md) in the same version database, same publish
                released.update(build_release_facts(engine, settings, stage, target, "court_charges" in names))

            notes = build_facts(engine, settings, stage, target, step, before_sync=release_cohort)
            notes["releases"] = released
            progress.update(ftask, description="facts built", completed=8)
            lap("facts")
            counts, problems = check_database(engine, settings, target)
            if problems:
                for p in problems:
                    console.print(f"[red]check failed:[/red] {p}")
                console.print("[red]nothing published:[/red] the built facts failed their checks")
                return EXIT_FAILED
            lap("checks")
            for hook in before_publish:
                hook(engine, target)
            lap("before_publish")
            version = publish(engine, settings, number, target, counts,
                              {s.path.name: s.sha256 for s in staged}, rejected_rows)
            lap("publish")
            for after in after_publish:
                after(version)
            lap("after_publish")
    except ExtractError as err:
        write_rejects_report(report_path, err.rejects)
        _summarise_rejects(console, err.rejects, 0, report_path)
        console.print("[red]nothing published:[/red] the extract could not be read")
        return EXIT_BAD_INPUT
    except (EngineUnavailable, EngineError) as err:
        console.print(f"[red]nothing published:[/red] engine error: {err}")
        return EXIT_FAILED
    finally:
        try:
            engine.command(f"DROP DATABASE IF EXISTS {qi(stage)} SYNC")
        except Exception:  # noqa: BLE001 - the next load drops it
            pass
    try:
        removed = drop_stale(engine, settings)  # retention (CROSSTRACK_KEEP_VERSIONS), never the published one
        if removed:
            console.print(f"retention: removed {len(removed)} old version(s): {', '.join(removed)}")
    except (EngineUnavailable, EngineError) as err:  # the publish stands; the next load retries
        console.print(f"[yellow]warning:[/yellow] old versions were not removed: {err}")
    _print_summary(console, engine, version, notes, time.perf_counter() - started, sum(s.rows for s in staged))
    return EXIT_OK


def _print_summary(console: Console, engine: Engine, version, notes: dict, seconds: float, rows_in: int) -> None:
    d = qi(version.database)
    t = Table(title=f"Published {version.version_id} ({version.database})")
    t.add_column("snapshot")
    t.add_column("people in custody", justify="right")
    t.add_column("pretrial", justify="right")
    t.add_column("sentenced", justify="right")
    t.add_column("charges", justify="right")
    charges = dict(engine.query(f"SELECT snapshot_year, count() FROM {d}.charge_facts GROUP BY snapshot_year").rows)
    for y, n, pre, sen in engine.query(
            f"SELECT snapshot_year, count(), countIf(offender_status = 'PRETRIAL'), countIf(offender_status = 'SENTENCED') "
            f"FROM {d}.custody_facts GROUP BY snapshot_year ORDER BY snapshot_year").rows:
        t.add_row(str(y), f"{n:,}", f"{pre:,}", f"{sen:,}", f"{charges.get(y, 0):,}")
    console.print(t)
    if notes.get("excluded"):
        console.print("excluded (R2), person-snapshots: " + ", ".join(f"{w} {n:,}" for w, n in notes["excluded"]))
    unknown = notes.get("unknown_statutes") or []
    if unknown:
        # R12: every statute the reference table does not know (as written, by section or by
        # chapter), how many charges cite it and the type and sub-type its chapter gave it
        console.print(f"[yellow]R12:[/yellow] {sum(row[1] for row in unknown):,} charge(s) cite {len(unknown)} "
                      f"statute(s) not in loaders/reference/statutes.csv; their chapter decided the type:")
        u = Table(title="Unknown statutes (R12 fallback)")
        for col, just in (("statute", "left"), ("charges", "right"), ("fell back to type", "left"),
                          ("sub-type", "left")):
            u.add_column(col, justify=just)
        for statute, n, otype, osub in unknown:
            u.add_row(statute, f"{n:,}", OFFENSE_TYPES.get(otype, otype), OFFENSE_SUBTYPES.get(osub, (osub,))[0])
        console.print(u)
    for key, label in (("sentenced_without_governing", "sentenced people with no charge sentenced to incarceration (R9)"),
                       ("pretrial_without_leading", "pretrial people with no charge (R10)")):
        if notes.get(key):
            console.print(f"[yellow]note:[/yellow] {notes[key]:,} {label}: offense shown as Not applicable")
    rel = notes.get("releases") or {}
    if rel:  # docs/recidivism.md
        court = "with court data" if rel.get("court_data") else \
            "no court_charges: rearraignment and reconviction unavailable"
        console.print(f"release cohort: {rel.get('releases', 0):,} releases ({rel.get('transfers', 0):,} transfers "
                      f"not counted, RC2), {court}")
    console.print(f"loaded {rows_in:,} rows in {seconds:.1f} s ({rows_in / max(seconds, 1e-9):,.0f} rows/s)")

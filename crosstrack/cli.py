"""The ``crosstrack`` command line: generate, load, model validate, serve, sql, demo.

The top of the import graph (tests/test_layers.py): the only module, with ``crosstrack/control.py``,
that wires loaders, the semantic layer and the API together. Each command imports the layers it
runs inside its own body, so ``crosstrack load`` handing a load to a running server (or
``crosstrack --help``) does not pay for importing the engine, FastAPI and the model compiler.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from crosstrack.config import SettingsError, get_settings

console = Console(stderr=True)
app = typer.Typer(
    help="Crosstrack: anonymized criminal-justice custody statistics. "
    "Generate or load agency extracts into ClickHouse, validate the statistics model, and serve "
    "the URL API, web query builder and SQL surface. Configuration comes from CROSSTRACK_* variables.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(help="Work with the declarative statistics model (models/*.yml).", no_args_is_help=True)
app.add_typer(model_app, name="model")


def _settings():
    try:
        return get_settings()
    except SettingsError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the raw extracts into (created if missing)."),
    seed: int = typer.Option(1, "--seed", help="Random seed; the same seed always writes the same files."),
    scale: float = typer.Option(1.0, "--scale", help="Population multiplier (1 = calibrated Massachusetts size)."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
) -> None:
    """Write synthetic agency extracts in the raw format, calibrated to public figures."""
    settings = _settings()
    from crosstrack.loaders.generate import generate_extracts

    generate_extracts(out, seed=seed, scale=scale, fmt=fmt, years=settings.snapshot_years, console=console)


@app.command()
def load(
    source: Path = typer.Argument(..., help="Folder with people, custody_episodes, charges and program_enrollments, and optionally court_charges (version 2), as .csv or .parquet."),
    max_rejects: int = typer.Option(0, "--max-rejects", help="Publish even with up to N rejected rows (listed in the report)."),
    rejects_report: Optional[Path] = typer.Option(None, "--rejects-report", help="Where to write the rejects CSV (default: data dir)."),
    allow_empty: list[str] = typer.Option([], "--allow-empty", metavar="TABLE",
                                          help="Publish even though TABLE's file has no rows (repeatable)."),
) -> None:
    """Validate extracts, build snapshot facts and publish them atomically (all or nothing).

    While `crosstrack serve` runs on the embedded engine, the load is handed to the server, which
    builds the new version beside the published one, warms its cache and switches without downtime."""
    settings = _settings()
    # Before importing the loaders: a hand-off costs the serving machine no more than this.
    _through_server(settings, "load", {
        "cmd": "load", "source": str(source.resolve()), "max_rejects": max_rejects,
        "rejects_report": str(rejects_report.resolve()) if rejects_report else None, "allow_empty": list(allow_empty)})
    from crosstrack.loaders.pipeline import run_load

    code = run_load(settings, source, max_rejects=max_rejects, rejects_report=rejects_report, console=console,
                    before_publish=[_rollup_hook(settings)], allow_empty=allow_empty)
    raise typer.Exit(code)


def _through_server(settings, what: str, request: dict) -> None:
    """On the embedded engine, hand ``request`` to a server holding the data directory and exit
    with its code; say so plainly when something holds it but takes no requests. Returns when
    nothing holds it (the caller opens the engine itself)."""
    if not settings.is_embedded:
        return
    from crosstrack.handoff import data_dir_holder, hand_off, held_message

    code = hand_off(settings, request)
    if code is not None:
        raise typer.Exit(code)
    holder = data_dir_holder(settings)
    if holder is not None:
        console.print(f"[red]error:[/red] {held_message(settings, holder, what)}")
        raise typer.Exit(3)


def _local_engine(settings):
    from crosstrack.engine import Engine, EngineUnavailable

    try:
        return Engine.from_settings(settings)
    except EngineUnavailable as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(3) from None


@app.command()
def versions() -> None:
    """List the published data versions: which one is published, which are kept (answerable with
    data_version=vN and ready for rollback) and which retention removed."""
    settings = _settings()
    _through_server(settings, "versions listing", {"cmd": "versions"})
    from crosstrack.control import print_versions

    raise typer.Exit(print_versions(_local_engine(settings), settings, Console()))


@app.command()
def rollback(
    version: Optional[str] = typer.Argument(None, help="A kept version such as v3 (default: the kept version before the published one)."),
) -> None:
    """Publish a kept version again, atomically (through the running server when there is one)."""
    settings = _settings()
    _through_server(settings, "rollback", {"cmd": "rollback", "version": version})
    from crosstrack.control import do_rollback

    raise typer.Exit(do_rollback(_local_engine(settings), settings, console, version))


def _rollup_hook(settings):
    """Build the model's rollups inside the new version before it is published, so a reader
    never meets a version without them. The model is checked first: a broken model stops the
    load before anything is built."""
    from crosstrack.cube import ModelError, load_model
    from crosstrack.cube.rollups import build_rollups

    try:
        model = load_model(settings.models_dir)
    except ModelError as err:
        for line in err.diagnostics:  # not markup: rich would take error[model.x] for a style tag
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print("[red]error:[/red] the model has errors; nothing was loaded")
        raise typer.Exit(4) from None

    def hook(engine, database):
        built = build_rollups(engine, model, database, cluster=settings.cluster)
        console.print(f"built {len(built)} rollup(s): {', '.join(built)}")

    return hook


@model_app.command("validate")
def model_validate(
    models_dir: Optional[Path] = typer.Argument(None, help="Model folder (default: CROSSTRACK_MODELS_DIR)."),
) -> None:
    """Check every model file and report every problem as file:line:col: error[code] path: message."""
    settings = _settings()
    from crosstrack.cube.validate import validate_cli

    raise typer.Exit(validate_cli(models_dir or settings.models_dir, console=console))


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Bind address (default CROSSTRACK_HOST)."),
    port: Optional[int] = typer.Option(None, help="Port (default CROSSTRACK_PORT)."),
    sql: bool = typer.Option(True, "--sql/--no-sql", help="Also serve the Postgres-protocol SQL surface."),
) -> None:
    """Serve the URL API, the web query builder at / and (by default) the SQL surface."""
    settings = _settings()
    from crosstrack.api.ports import PortTaken
    from crosstrack.api.server import run_server
    from crosstrack.control import start_control

    try:
        run_server(settings, host=host, port=port, with_sql=sql, console=console, start_control=start_control)
    except PortTaken as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None


@app.command("sql")
def sql_only(
    host: Optional[str] = typer.Option(None, help="Bind address (default CROSSTRACK_PG_HOST)."),
    port: Optional[int] = typer.Option(None, help="Port (default CROSSTRACK_PG_PORT)."),
) -> None:
    """Serve only the SQL surface (Postgres wire protocol) for BI tools."""
    settings = _settings()
    from crosstrack.api.pgwire.server import run_sql_server
    from crosstrack.api.ports import PortTaken
    from crosstrack.control import start_control

    try:
        run_sql_server(settings, host=host, port=port, console=console, start_control=start_control)
    except PortTaken as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None


@app.command()
def demo(
    seed: int = typer.Option(1, "--seed", help="Random seed for the synthetic extracts."),
    scale: float = typer.Option(1.0, "--scale", help="Population multiplier."),
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Serve the API after loading."),
) -> None:
    """Generate synthetic extracts, load them, then serve the API and web page on 127.0.0.1."""
    settings = _settings()
    out = settings.data_dir / f"extracts-seed{seed}-scale{scale:g}"
    if not (out / "people.csv").exists():
        generate(out=out, seed=seed, scale=scale, fmt="csv")
    try:
        load(source=out, max_rejects=0, rejects_report=None, allow_empty=[])
    except typer.Exit as done:
        if done.exit_code:
            raise
    if serve_after:
        serve(host=None, port=None, sql=True)


def main() -> None:  # pragma: no cover
    sys.exit(app())

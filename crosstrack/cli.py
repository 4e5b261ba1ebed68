"""The ``crosstrack`` command line: generate, load, model validate, serve, sql, demo."""

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


def _not_yet(what: str) -> None:
    console.print(f"[red]error:[/red] {what} is not yet available in this build.")
    raise typer.Exit(3)


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the raw extracts into (created if missing)."),
    seed: int = typer.Option(1, "--seed", help="Random seed; the same seed always writes the same files."),
    scale: float = typer.Option(1.0, "--scale", help="Population multiplier (1 = calibrated Massachusetts size)."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
) -> None:
    """Write synthetic agency extracts in the raw format, calibrated to public figures."""
    settings = _settings()
    try:
        from loaders.generate import generate_extracts
    except ImportError:
        _not_yet("the synthetic generator")
    generate_extracts(out, seed=seed, scale=scale, fmt=fmt, years=settings.snapshot_years, console=console)


@app.command()
def load(
    source: Path = typer.Argument(..., help="Folder with people, custody_episodes, charges and program_enrollments, and optionally court_charges (version 2), as .csv or .parquet."),
    max_rejects: int = typer.Option(0, "--max-rejects", help="Publish even with up to N rejected rows (listed in the report)."),
    rejects_report: Optional[Path] = typer.Option(None, "--rejects-report", help="Where to write the rejects CSV (default: data dir)."),
) -> None:
    """Validate extracts, build snapshot facts and publish them atomically (all or nothing)."""
    settings = _settings()
    try:
        from loaders.pipeline import run_load
    except ImportError:
        _not_yet("loading")
    code = run_load(settings, source, max_rejects=max_rejects, rejects_report=rejects_report, console=console,
                    before_publish=[_rollup_hook(settings)])
    raise typer.Exit(code)


def _rollup_hook(settings):
    """Build the model's rollups inside the new version before it is published, so a reader
    never meets a version without them. The model is checked first: a broken model stops the
    load before anything is built."""
    from cube import ModelError, load_model
    from cube.rollups import build_rollups

    try:
        model = load_model(settings.models_dir)
    except ModelError as err:
        for line in err.diagnostics:
            console.print(str(line))
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
    try:
        from cube.validate import validate_cli
    except ImportError:
        _not_yet("model validation")
    raise typer.Exit(validate_cli(models_dir or settings.models_dir, console=console))


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Bind address (default CROSSTRACK_HOST)."),
    port: Optional[int] = typer.Option(None, help="Port (default CROSSTRACK_PORT)."),
    sql: bool = typer.Option(True, "--sql/--no-sql", help="Also serve the Postgres-protocol SQL surface."),
) -> None:
    """Serve the URL API, the web query builder at / and (by default) the SQL surface."""
    settings = _settings()
    try:
        from api.server import run_server
    except ImportError:
        _not_yet("the API server")
    run_server(settings, host=host, port=port, with_sql=sql, console=console)


@app.command("sql")
def sql_only(
    host: Optional[str] = typer.Option(None, help="Bind address (default CROSSTRACK_PG_HOST)."),
    port: Optional[int] = typer.Option(None, help="Port (default CROSSTRACK_PG_PORT)."),
) -> None:
    """Serve only the SQL surface (Postgres wire protocol) for BI tools."""
    settings = _settings()
    try:
        from api.pgwire.server import run_sql_server
    except ImportError:
        _not_yet("the SQL surface")
    run_sql_server(settings, host=host, port=port, console=console)


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
        load(source=out, max_rejects=0, rejects_report=None)
    except typer.Exit as done:
        if done.exit_code:
            raise
    if serve_after:
        serve(host=None, port=None, sql=True)


def main() -> None:  # pragma: no cover
    sys.exit(app())

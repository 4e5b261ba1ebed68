"""``crosstrack serve``: uvicorn (httptools + uvloop) and, optionally, the SQL surface.

On the embedded engine the API is one process with threads (chDB belongs to one process);
with a ClickHouse server, ``CROSSTRACK_WORKERS`` processes may serve.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Callable

from crosstrack.config import Settings

log = logging.getLogger("crosstrack.api")


def _loop_options() -> dict[str, str]:
    opts = {"loop": "asyncio", "http": "h11"}
    if importlib.util.find_spec("uvloop"):
        opts["loop"] = "uvloop"
    if importlib.util.find_spec("httptools"):
        opts["http"] = "httptools"
    return opts


def start_sql_surface(settings: Settings, service: Any) -> Callable[[], None] | None:
    """Start the SQL engineer's Postgres-wire server in a background thread, if it exists."""
    if not settings.pg_port:
        return None
    try:
        from api.pgwire.server import start_sql_server
    except ImportError:
        log.info("SQL surface not available in this build")
        return None
    return start_sql_server(settings, service)


def run_server(settings: Settings, host: str | None = None, port: int | None = None, with_sql: bool = True,
               console: Any = None) -> None:
    import uvicorn

    from api.app import create_app

    host = host or settings.host
    port = port or settings.port
    if settings.workers > 1 and not settings.is_embedded:
        # Several processes against a ClickHouse server; each builds its app from the environment.
        uvicorn.run("api.server:app_from_env", factory=True, host=host, port=port, workers=settings.workers,
                    log_level="info", access_log=False, proxy_headers=True, **_loop_options())
        return
    app = create_app(settings)
    stop_sql = start_sql_surface(settings, app.state.service) if with_sql else None
    if console is not None:
        console.print(f"crosstrack API on http://{host}:{port}/ (docs at /docs)"
                      + (f", SQL on {settings.pg_host}:{settings.pg_port}" if stop_sql else ""))
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False,
                            proxy_headers=True, **_loop_options())
    try:
        uvicorn.Server(config).run()
    finally:
        if stop_sql is not None:
            stop_sql()


def app_from_env():
    """Factory for multi-worker serving (each worker reads CROSSTRACK_* itself)."""
    from api.app import create_app
    from crosstrack.config import get_settings

    return create_app(get_settings())

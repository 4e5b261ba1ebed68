"""``crosstrack serve``: uvicorn (httptools + uvloop) and, optionally, the SQL surface.

On the embedded engine the API is one process with threads (chDB belongs to one process);
with a ClickHouse server, ``CROSSTRACK_WORKERS`` processes may serve.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import socket
from typing import Any, Callable

import uvicorn

from crosstrack.api.app import create_app
from crosstrack.api.httpguard import guarded_protocol
from crosstrack.api.pgwire.server import start_sql_server
from crosstrack.api.ports import PortTaken, port_taken_message
from crosstrack.api.settle import settle_before_serving
from crosstrack.config import Settings, get_settings

log = logging.getLogger("crosstrack.api")


def _loop_options() -> dict[str, str]:
    opts = {"loop": "asyncio", "http": "h11"}
    if importlib.util.find_spec("uvloop"):
        opts["loop"] = "uvloop"
    if importlib.util.find_spec("httptools"):
        opts["http"] = "httptools"
    return opts


def bind_http(host: str, port: int) -> socket.socket:
    """The HTTP listening socket, bound here so a taken port is one clear sentence (not uvicorn's trace)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise PortTaken(port_taken_message(host, port, "CROSSTRACK_PORT", "or --port <port>")) from None
        raise PortTaken(f"cannot listen on {host}:{port} (CROSSTRACK_HOST/CROSSTRACK_PORT): {err.strerror}") from None
    sock.set_inheritable(True)
    return sock


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every crosstrack HTTP server runs with (``crosstrack serve`` and the tests' servers).

    X-Forwarded-For is believed only from ``CROSSTRACK_TRUSTED_PROXIES`` (uvicorn itself would
    trust 127.0.0.1 by default, so any local client could pick its own rate-limit bucket)."""
    opts: dict[str, Any] = {"access_log": False, "timeout_keep_alive": settings.http_keep_alive_s}
    if settings.trusted_proxies:
        opts.update(proxy_headers=True, forwarded_allow_ips=list(settings.trusted_proxies))
    else:
        opts.update(proxy_headers=False, forwarded_allow_ips=[])
    loop = _loop_options()
    opts["loop"] = loop["loop"]
    if loop["http"] == "httptools":
        opts["http"] = guarded_protocol(settings)  # limits enforced while reading (api/httpguard.py)
    else:
        opts["http"] = loop["http"]
    return opts


def start_sql_surface(settings: Settings, service: Any) -> Callable[[], None] | None:
    """Start the SQL engineer's Postgres-wire server in a background thread (unless CROSSTRACK_PG_PORT=0)."""
    if not settings.pg_port:
        return None
    return start_sql_server(settings, service)


# Starts the operator's control socket for a serving process (crosstrack/control.py:
# start_control, passed in by the CLI, the layer above this one); returns it, or None.
StartControl = Callable[[Settings, Any, Any], Any]


def run_server(settings: Settings, host: str | None = None, port: int | None = None, with_sql: bool = True,
               console: Any = None, start_control: StartControl | None = None) -> None:
    host = host or settings.host
    port = port or settings.port
    if settings.workers > 1 and not settings.is_embedded:
        # Several processes against a ClickHouse server; each builds its app from the environment.
        bind_http(host, port).close()  # a taken port is reported before any worker starts
        uvicorn.run("crosstrack.api.server:app_from_env", factory=True, host=host, port=port, workers=settings.workers,
                    log_level="info", **uvicorn_options(settings))
        return
    sock = bind_http(host, port)
    app = create_app(settings)
    control = None
    try:
        stop_sql = start_sql_surface(settings, app.state.service) if with_sql else None
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise PortTaken(port_taken_message(settings.pg_host, settings.pg_port, "CROSSTRACK_PG_PORT",
                                               "(0 turns the SQL surface off) or serve --no-sql")) from None
        raise
    if settings.is_embedded and start_control is not None:
        # Online publish: `crosstrack load` hands its load to this process (crosstrack/control.py).
        control = start_control(settings, app.state.service, console)
    if console is not None:
        console.print(f"crosstrack API on http://{host}:{port}/ (docs at /docs)"
                      + (f", SQL on {settings.pg_host}:{settings.pg_port}" if stop_sql else "")
                      + (f"; `crosstrack load DIR` publishes through {control.path}" if control else ""))
    config = uvicorn.Config(app, log_level="info", **uvicorn_options(settings))
    settle_before_serving()
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if control is not None:
            control.stop()
        if stop_sql is not None:
            stop_sql()


def app_from_env():
    """Factory for multi-worker serving (each worker reads CROSSTRACK_* itself)."""
    return create_app(get_settings())

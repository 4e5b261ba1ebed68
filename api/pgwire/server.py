"""Start the SQL surface: in a background thread next to the API, or alone in the foreground."""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable
from typing import Any

from crosstrack.api.compose import build_service
from crosstrack.api.pgwire.guard import LoginGuard
from crosstrack.api.pgwire.protocol import PgServer, tls_context
from crosstrack.api.pgwire.session import SqlSession, SqlSurface
from crosstrack.api.ports import PortTaken, port_taken_message
from crosstrack.api.ratelimit import TokenBuckets
from crosstrack.api.service import set_default_service

log = logging.getLogger("crosstrack.pgwire")


def make_server(settings: Any, service: Any, host: str | None = None, port: int | None = None) -> PgServer:
    """A bound (not yet serving) server; port 0 picks a free port (see ``server.server_address``)."""
    surface = SqlSurface(settings, service)
    tls = None
    if settings.pg_tls_cert or settings.pg_tls_key:
        if not (settings.pg_tls_cert and settings.pg_tls_key):
            raise ValueError("CROSSTRACK_PG_TLS_CERT and CROSSTRACK_PG_TLS_KEY must be set together")
        tls = tls_context(settings.pg_tls_cert, settings.pg_tls_key)
    if settings.pg_tls_required and tls is None:
        # Fail closed: refusing to start beats silently serving plain connections.
        raise ValueError("CROSSTRACK_PG_TLS_REQUIRED needs CROSSTRACK_PG_TLS_CERT and CROSSTRACK_PG_TLS_KEY")
    per_minute = settings.rate_limit_per_minute
    return PgServer((host or settings.pg_host, settings.pg_port if port is None else port),
                    lambda startup: SqlSession(surface, startup),
                    password=settings.pg_password, tls=tls, require_tls=settings.pg_tls_required,
                    max_connections=settings.pg_max_connections,
                    rate_limit=TokenBuckets(per_minute) if per_minute > 0 else None,
                    startup_timeout_s=settings.pg_startup_timeout_s,
                    max_startups_per_client=settings.pg_max_startups_per_client,
                    login_guard=LoginGuard(settings.pg_login_lockout_failures, settings.pg_login_lockout_s))


def start_sql_server(settings: Any, service: Any, *, host: str | None = None,
                     port: int | None = None) -> Callable[[], None]:
    """Serve Postgres clients in a background thread; returns a callable that stops it.

    The returned callable also carries ``.address`` (host, port) — useful when port 0 was asked.
    """
    server = make_server(settings, service, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="crosstrack-sql", daemon=True)
    thread.start()
    log.info("SQL surface listening on %s:%s", *server.server_address[:2])

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    stop.address = server.server_address[:2]  # type: ignore[attr-defined]
    stop.server = server  # type: ignore[attr-defined]
    return stop


def run_sql_server(settings: Any, host: str | None = None, port: int | None = None, console: Any = None,
                   start_control: Callable[[Any, Any, Any], Any] | None = None) -> None:
    """``crosstrack sql``: serve only the SQL surface until Ctrl-C."""
    service = build_service(settings)
    set_default_service(service)
    try:
        server = make_server(settings, service, host, port)
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        h, p = host or settings.pg_host, settings.pg_port if port is None else port
        raise PortTaken(port_taken_message(h, p, "CROSSTRACK_PG_PORT", "or --port <port>")) from None
    h, p = server.server_address[:2]
    tls = " with TLS" if server.tls else ""
    auth = " (password required)" if server.verifier else ""
    control = None
    if settings.is_embedded and start_control is not None:
        control = start_control(settings, service, console)  # `crosstrack load` publishes through this process
    msg = f"crosstrack SQL surface on {h}:{p}{tls}{auth}: psql -h {h} -p {p} -d crosstrack"
    if console is not None:
        console.print(msg)
    else:
        print(msg)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if control is not None:
            control.stop()

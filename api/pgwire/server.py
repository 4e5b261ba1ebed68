"""Start the SQL surface: in a background thread next to the API, or alone in the foreground."""

from __future__ import annotations

import errno
import logging
import socketserver
import ssl
import threading
from collections.abc import Callable
from typing import Any

from crosstrack.api.pgwire.guard import Deadlines, LoginGuard
from crosstrack.api.pgwire.handler import STARTUP_TIMEOUT_S, PgHandler
from crosstrack.api.pgwire.scram import ScramVerifier
from crosstrack.api.compose import build_service
from crosstrack.api.pgwire.session import SqlSession, SqlSurface
from crosstrack.api.ports import PortTaken, port_taken_message
from crosstrack.api.ratelimit import TokenBuckets
from crosstrack.api.service import set_default_service
from crosstrack.api.settle import settle_before_serving

log = logging.getLogger("crosstrack.pgwire")


class PgServer(socketserver.ThreadingTCPServer):
    """One thread per connection, bounded.

    ``max_connections`` sessions at once (a slot is taken once the client has authenticated, so
    the refusal is a proper 53300 ErrorResponse the driver can show, and clients that never
    authenticate hold no slot). Connections still in startup hold a thread; each has
    ``startup_timeout_s`` for all of TLS, startup and authentication, one address may have at
    most ``max_startups_per_client`` of them (more are closed at once), and beyond
    ``2 * max_connections + 16`` live handler threads a new connection is closed at once without
    a thread. ``rate_limit`` (a ``TokenBuckets`` or None) charges one token per query and per
    failed login to the client's address; ``login_guard`` delays and locks out repeated failures.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], session_factory, *, password: str = "",
                 tls: ssl.SSLContext | None = None, require_tls: bool = False,
                 max_connections: int = 64, rate_limit: Any = None,
                 startup_timeout_s: float = STARTUP_TIMEOUT_S, max_startups_per_client: int = 4,
                 login_guard: Any = None):
        if max_connections < 1:
            raise ValueError("max_connections must be >= 1")
        self.startup_timeout_s = startup_timeout_s
        self.max_startups_per_client = max_startups_per_client
        self.login_guard = login_guard or LoginGuard(10, 300.0)
        self.deadlines = Deadlines()
        self._starting: dict[str, int] = {}  # address -> connections still in startup
        self.session_factory = session_factory
        self.verifier = ScramVerifier(password) if password else None
        self.tls = tls
        self.require_tls = require_tls
        self.max_connections = max_connections
        self.max_threads = 2 * max_connections + 16
        self.rate_limit = rate_limit
        self._sessions = 0
        self._live_threads = 0
        self._count_lock = threading.Lock()
        super().__init__(address, PgHandler)

    @property
    def sessions(self) -> int:
        """Connections currently holding a slot (past startup, not yet closed)."""
        return self._sessions

    @property
    def live_threads(self) -> int:
        """Handler threads running (in startup or in a session)."""
        return self._live_threads

    def take_slot(self) -> bool:
        with self._count_lock:
            if self._sessions >= self.max_connections:
                return False
            self._sessions += 1
            return True

    def release_slot(self) -> None:
        with self._count_lock:
            self._sessions -= 1

    def end_startup(self, peer: str) -> None:
        with self._count_lock:
            n = self._starting.get(peer, 0) - 1
            if n > 0:
                self._starting[peer] = n
            else:
                self._starting.pop(peer, None)

    def process_request(self, request, client_address) -> None:
        peer = str(client_address[0]) if client_address else "unknown"
        with self._count_lock:
            crowded = self._starting.get(peer, 0) >= self.max_startups_per_client
            if crowded or self._live_threads >= self.max_threads:
                full = True
            else:
                full = False
                self._live_threads += 1
                self._starting[peer] = self._starting.get(peer, 0) + 1
        if full:
            if crowded:
                log.warning("SQL surface: %s already has %d connections authenticating; closing a new one",
                            peer, self.max_startups_per_client)
            else:
                log.warning("SQL surface: %d connection threads live; closing a new connection", self.max_threads)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            with self._count_lock:
                self._live_threads -= 1
            self.end_startup(peer)
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._count_lock:
                self._live_threads -= 1


    def server_close(self) -> None:
        self.deadlines.close()
        super().server_close()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


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
    settle_before_serving()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if control is not None:
            control.stop()

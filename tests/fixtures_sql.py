"""Fixtures for the SQL surface tests: the real Postgres-protocol server in a thread of this
process, answering through the same ``Service`` (and so the same chDB engine and synthetic
data) as the live URL API of ``fixtures_api.api_live``."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class LiveSql:
    host: str
    port: int
    api: Any  # fixtures_api.LiveApi

    def connect(self, **kw: Any):
        from crosstrack.api.pgwire.client import connect

        return connect(self.host, self.port, **kw)

    def query(self, sql: str, params: Sequence[Any] | None = None, *,
              prepare: bool | None = None) -> tuple[list[str], list[tuple]]:
        from crosstrack.api.pgwire.client import sql_query

        return sql_query(self.host, self.port, sql, params, prepare=prepare)

    def rows(self, sql: str, params: Sequence[Any] | None = None, *,
             prepare: bool | None = None) -> list[dict[str, Any]]:
        """One query's rows as dicts — the helper the attack suite's "shapes" test uses."""
        from crosstrack.api.pgwire.client import sql_rows

        return sql_rows(self.host, self.port, sql, params, prepare=prepare)


@pytest.fixture(scope="session")
def sql_live(api_live: Any) -> Iterator[LiveSql]:
    from crosstrack.api.pgwire.server import start_sql_server

    stop = start_sql_server(api_live.settings, api_live.service, host="127.0.0.1", port=0)
    host, port = stop.address  # type: ignore[attr-defined]
    try:
        yield LiveSql(host, port, api_live)
    finally:
        stop()


@pytest.fixture
def start_sql(api_live: Any) -> Iterator[Any]:
    """Start SQL servers on port 0 with some settings overridden (``start_sql(max_connections=2)``),
    answering through the session's ``Service``; each is stopped at the end of the test. The
    abuse and lock-out tests (tests/test_sql_limits.py, tests/test_sql_lockout.py) use it."""
    from crosstrack.api.pgwire.server import start_sql_server

    stops = []

    def _start(**update: Any):
        settings = api_live.settings.model_copy(update=update)
        stop = start_sql_server(settings, api_live.service, host="127.0.0.1", port=0)
        stops.append(stop)
        return stop

    yield _start
    for stop in stops:
        stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate and key for the SQL surface's TLS tests (Debian's openssl)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: scripts/test.sh installs it")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")], check=True, capture_output=True)
    return str(d / "cert.pem"), str(d / "key.pem")

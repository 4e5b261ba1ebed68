"""Fixtures for the API tests: synthetic data loaded into the process's chDB engine and the
real app served by uvicorn on a loopback port in a thread of this process (chDB belongs to one
process, so the server and the fixture share the ``chdb://memory`` engine).

``api_live`` is built once per session: ``generate_extracts(seed=7, scale=0.2)`` then
``run_load`` into ``chdb://memory`` under the database ``api_http``.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode, urlsplit

import httpx
import orjson
import pytest

from crosstrack.config import Settings, load_settings

API_DATABASE = "api_http"
SEED = 7
SCALE = 0.2


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """uvicorn on 127.0.0.1:<free port> in a daemon thread of this process, with the options
    ``crosstrack serve`` uses (``api.server.uvicorn_options``) when the app carries settings."""

    def __init__(self, app: Any, *, lifespan: str = "off", log_config: Any = None,
                 timeout_keep_alive: float | None = None):
        import uvicorn

        from crosstrack.api.server import uvicorn_options

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = getattr(getattr(app, "state", None), "settings", None)
        opts = uvicorn_options(settings) if settings is not None else {"access_log": False}
        if timeout_keep_alive is not None:
            opts["timeout_keep_alive"] = timeout_keep_alive
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan=lifespan, log_config=log_config, **opts)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"api-test-{self.port}", daemon=True)

    def start(self) -> "ThreadServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("API test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class LiveApi:
    url: str
    settings: Settings
    service: Any
    extracts: Path
    client: httpx.Client
    conn: http.client.HTTPConnection | None = field(default=None, repr=False)  # get_json's, opened on first use

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def get_json(self, path: str, params: Any = ()) -> tuple[int, Any]:
        """(status, parsed JSON body) of a GET over one keep-alive ``http.client`` connection: the
        attack suites' thousands of questions, at a third of httpx's client CPU per request
        (measured: 0.32 ms against 0.95 ms), which the suite's two cores share with the server."""
        target = path + ("?" + urlencode(params) if params else "")
        try:
            return self._get_once(target)
        except (http.client.RemoteDisconnected, ConnectionError):
            self._close_conn()  # the server closed the kept connection: once more on a fresh one
            return self._get_once(target)

    def _get_once(self, target: str) -> tuple[int, Any]:
        if self.conn is None:
            url = urlsplit(self.url)
            self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        self.conn.request("GET", target)
        response = self.conn.getresponse()
        return response.status, orjson.loads(response.read())

    def _close_conn(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def close(self) -> None:
        self.client.close()
        self._close_conn()

    def truth(self, dataset: str, dimensions: list[str], measures: list[str],
              filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """Unprotected values straight from the semantic layer (ground truth for attack tests)."""
        svc = self.service
        ds = svc.dataset(dataset)
        version = svc.version()
        query = {"dimensions": [ds.dimensions[d].member for d in dimensions],
                 "measures": [ds.measures[m].member for m in measures],
                 "filters": [{"member": ds.dimensions[d].member, "operator": "equals", "values": list(v)}
                             for d, v in (filters or {}).items()],
                 "limit": 1_000_000}
        res = svc.query_engine.load(query, database=version.database, internal=True)
        return [{**{d: r[ds.dimensions[d].member] for d in dimensions},
                 **{m: r[ds.measures[m].member] for m in measures}} for r in res.data]


def serve_loaded(settings: Settings, extracts: Path, *, seed: int, scale: float) -> Iterator[LiveApi]:
    """Generate synthetic extracts (``seed``, ``scale``, the settings' snapshot years) into
    ``extracts``, load them into the settings' engine, serve the real app over loopback HTTP and
    yield the live API; the server stops afterwards. Shared by ``api_live`` and the attack
    suite's ``api_s1`` (tests/fixtures_attack.py)."""
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.pipeline import run_load

    generate_extracts(extracts, seed=seed, scale=scale, fmt="csv", years=settings.snapshot_years)
    code = run_load(settings, extracts, max_rejects=1_000_000, rejects_report=extracts.parent / "rejects.csv",
                    console=None)
    assert code == 0, f"synthetic load (seed {seed}, scale {scale}) failed with exit code {code}"
    service = build_service(settings)
    server = ThreadServer(create_app(settings, service=service)).start()
    live = LiveApi(server.url, settings, service, extracts, httpx.Client(base_url=server.url, timeout=60))
    try:
        yield live
    finally:
        live.close()
        server.stop()


@pytest.fixture(scope="session")
def api_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    data_dir = tmp_path_factory.mktemp("api-data")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=data_dir, database=API_DATABASE,
                             person_key_secret="api-test-secret", k=5)
    yield from serve_loaded(settings, data_dir / "extracts", seed=SEED, scale=SCALE)

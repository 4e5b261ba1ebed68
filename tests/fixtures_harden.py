"""Fixtures for the hardening tests (rate limits, fuzzing, faults, identifier scans).

``serve_asgi`` runs any ASGI app on a loopback port with uvicorn in a thread, so tests talk to
it over real HTTP; every server it starts is stopped at the end of the test that asked.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import closing
from typing import Any, Callable, Iterator

import pytest


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, app: Any, *, log_config: Any = None):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, lifespan="on", log_config=log_config, timeout_keep_alive=30)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve_asgi() -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def _serve(app: Any, **kw: Any) -> LiveServer:
        srv = LiveServer(app, **kw).start()
        started.append(srv)
        return srv

    yield _serve
    for srv in started:
        srv.stop()

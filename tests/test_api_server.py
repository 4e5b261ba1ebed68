"""`crosstrack serve` end to end in a subprocess on an on-disk chDB (one process, threads; the
embedded engine belongs to that process), plus the server's loop/HTTP choices."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from crosstrack.api.server import _loop_options
from fixtures_api import free_port


def test_server_uses_uvloop_and_httptools():
    assert _loop_options() == {"loop": "uvloop", "http": "httptools"}


@pytest.mark.slow
def test_crosstrack_serve_subprocess_on_disk(tmp_path: Path):
    """The CLI serves the URL API over the embedded on-disk engine; SIGTERM stops it cleanly."""
    port = free_port()
    env = {**os.environ, "CROSSTRACK_DATA_DIR": str(tmp_path / "data"), "CROSSTRACK_PORT": str(port),
           "CROSSTRACK_PG_PORT": "0", "CROSSTRACK_PERSON_KEY_SECRET": "serve-test"}
    cli = [sys.executable, "-m", "crosstrack"]
    subprocess.run([*cli, "generate", "--out", str(tmp_path / "ext"), "--seed", "5", "--scale", "0.02"],
                   env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([*cli, "load", str(tmp_path / "ext"), "--max-rejects", "100000"], env=env, check=True,
                   capture_output=True, timeout=300)
    proc = subprocess.Popen([*cli, "serve", "--no-sql"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        r = httpx.get(base + "/api/v1/population", params={"dimensions": "race"}, timeout=30)
        assert r.status_code == 200 and r.json()["meta"]["data_version"] == "v1"
        assert all(row["suppressed"] or row["people"] >= 5 for row in r.json()["data"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""The attack suite's data at realistic strength (spec/disclosure.md items 8–10): scale-1
synthetic extracts (seed 5, the data the issue's reproductions used) loaded into this process's
chDB engine under its own database and served by the real app over HTTP."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from crosstrack.config import load_settings
from fixtures_api import LiveApi, ThreadServer

ATTACK_DATABASE = "attack_s1"
ATTACK_SEED = 5
ATTACK_SCALE = 1.0


@pytest.fixture(scope="session")
def api_s1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    from crosstrack.api.app import create_app
    from crosstrack.api.compose import build_service
    from crosstrack.loaders.generate import generate_extracts
    from crosstrack.loaders.pipeline import run_load

    data_dir = tmp_path_factory.mktemp("attack-data")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=data_dir, database=ATTACK_DATABASE,
                             person_key_secret="attack-test-secret", k=5)
    extracts = data_dir / "extracts"
    generate_extracts(extracts, seed=ATTACK_SEED, scale=ATTACK_SCALE, fmt="csv", years=settings.snapshot_years)
    code = run_load(settings, extracts, max_rejects=1_000_000, rejects_report=data_dir / "rejects.csv", console=None)
    assert code == 0, f"scale-1 synthetic load failed with exit code {code}"
    service = build_service(settings)
    server = ThreadServer(create_app(settings, service=service)).start()
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield LiveApi(server.url, settings, service, extracts, client)
    finally:
        client.close()
        server.stop()

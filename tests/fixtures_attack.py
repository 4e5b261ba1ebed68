"""The attack suite's data at realistic strength (spec/disclosure.md items 8–10): scale-1
synthetic extracts (seed 5, the data the issue's reproductions used) loaded into this process's
chDB engine under its own database and served by the real app over HTTP."""

from __future__ import annotations

from typing import Iterator

import pytest

from crosstrack.config import load_settings
from fixtures_api import LiveApi, serve_loaded

ATTACK_DATABASE = "attack_s1"
ATTACK_SEED = 5
ATTACK_SCALE = 1.0


@pytest.fixture(scope="session")
def api_s1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    data_dir = tmp_path_factory.mktemp("attack-data")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=data_dir, database=ATTACK_DATABASE,
                             person_key_secret="attack-test-secret", k=5)
    yield from serve_loaded(settings, data_dir / "extracts", seed=ATTACK_SEED, scale=ATTACK_SCALE)

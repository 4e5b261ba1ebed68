"""Shared fixtures for the semantic-layer tests: the process's in-memory chDB engine and the
project's model (models/*.yml), each built once per session. A module that needs its own
(seeded data, another model folder) defines a fixture of the same name, which overrides these."""

from __future__ import annotations

from pathlib import Path

import pytest

from crosstrack import cube
from crosstrack.config import load_settings
from crosstrack.engine import Engine

MODELS = Path(__file__).resolve().parent.parent / "models"


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine.from_settings(load_settings(clickhouse_url="chdb://memory"))


@pytest.fixture(scope="session")
def model() -> cube.Model:
    return cube.load_model(MODELS)

"""Fixtures for the API tests: synthetic data loaded into the process's chDB engine and the
real app served by uvicorn on a loopback port in a thread of this process (chDB belongs to one
process, so the server and the fixture share the ``chdb://memory`` engine).

``api_live`` is built once per session: ``generate_extracts(seed=7, scale=0.2)`` then
``run_load`` into ``chdb://memory`` under the database ``api_http``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from crosstrack.config import Settings, load_settings

API_DATABASE = "api_http"
SEED = 7
SCALE = 0.2


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThreadServer:
    """uvicorn on 127.0.0.1:<free port> in a daemon thread of this process."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="off")
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

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

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


def _load(settings: Settings, extracts: Path) -> Any:
    """Generate and load; returns a version provider only while loaders.pipeline is missing."""
    from loaders.generate import generate_extracts

    generate_extracts(extracts, seed=SEED, scale=SCALE, fmt="csv", years=settings.snapshot_years)
    try:
        from loaders.pipeline import run_load
    except ImportError:
        return _interim_facts(settings)
    if os.environ.get("CROSSTRACK_TEST_INTERIM_FACTS"):
        return _interim_facts(settings)
    code = run_load(settings, extracts, max_rejects=1_000_000, rejects_report=extracts.parent / "rejects.csv",
                    console=None)
    assert code == 0, f"synthetic load failed with exit code {code}"
    return None


def _interim_facts(settings: Settings) -> Any:
    """Random facts in the published schema, used only until loaders.pipeline exists."""
    import datetime as dt
    import random

    import pyarrow as pa

    from api.service import DataVersion
    from crosstrack.engine import Engine
    from loaders import schema

    engine = Engine.from_settings(settings)
    db = f"{settings.database}_v1"
    rng = random.Random(SEED)
    engine.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    for table, (cols, order) in schema.FACT_TABLES.items():
        engine.command(f"DROP TABLE IF EXISTS {db}.{table}")
        engine.command(f"CREATE TABLE {db}.{table} (" + ", ".join(f"{c} {t}" for c, t in cols.items())
                       + f") ENGINE = MergeTree ORDER BY ({', '.join(order)})")
    rows, crow = [], []
    for p in range(6000):
        rk = rng.getrandbits(32)
        base = dict(person_key=p, record_key=rk, agency=rng.choice(list(schema.AGENCIES)),
                    age_group=rng.choice(list(schema.AGE_GROUPS)),
                    assigned_sex=rng.choices(["M", "F", "U"], [90, 9, 1])[0],
                    gender_identity=rng.choices(list(schema.GENDER_IDENTITIES), [80, 10] + [1] * 11)[0],
                    race=rng.choices(list(schema.RACES), [1, 3, 30, 10, 56])[0],
                    ethnicity=rng.choice(list(schema.ETHNICITIES)))
        for y in rng.sample(settings.snapshot_years, rng.randint(1, 3)):
            st = rng.choice(["PRETRIAL", "SENTENCED"])
            fac = rng.choice(list(schema.FACILITY_TYPES))
            r = dict(base, snapshot_year=y, facility_type=fac, offender_status=st,
                     security_level=rng.choice(list(schema.SECURITY_LEVELS)), incarceration_days=rng.randint(1, 3000),
                     enrollments_beh=rng.randint(0, 2), enrollments_edu=rng.randint(0, 2), enrollments_sup=0,
                     enrollments_work=rng.randint(0, 1), enrollments_reinv=0, enrollments_relig=0,
                     governing_offense_type=rng.choice(["PERSON", "DRUG", "PROPERTY"]) if st == "SENTENCED" else "NOT_APPLICABLE",
                     governing_offense_subtype="OTHER" if st == "SENTENCED" else "NOT_APPLICABLE",
                     governing_offense_severity="F" if st == "SENTENCED" else "NOT_APPLICABLE",
                     leading_charge_type=rng.choice(["PERSON", "DRUG"]) if st == "PRETRIAL" else "NOT_APPLICABLE",
                     leading_charge_subtype="OTHER" if st == "PRETRIAL" else "NOT_APPLICABLE",
                     leading_charge_severity="M" if st == "PRETRIAL" else "NOT_APPLICABLE")
            r["enrollments_total"] = r["enrollments_beh"] + r["enrollments_edu"] + r["enrollments_work"]
            rows.append(r)
            if st == "SENTENCED":
                for _ in range(rng.randint(1, 3)):
                    crow.append(dict(base, snapshot_year=y, facility_type=fac, offense_type="DRUG",
                                     offense_subtype="OTHER_DRUG", severity="F",
                                     disposition=rng.choice(["CONVICTED", "DISMISSED"]), convicted=0))
    engine.insert_arrow("custody_facts", pa.Table.from_pylist(rows), database=db)
    engine.insert_arrow("charge_facts", pa.Table.from_pylist(crow), database=db)
    version = DataVersion("1", db, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    return lambda: version


@pytest.fixture(scope="session")
def api_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    from api.app import create_app
    from api.service import Service

    data_dir = tmp_path_factory.mktemp("api-data")
    settings = load_settings(clickhouse_url="chdb://memory", data_dir=data_dir, database=API_DATABASE,
                             person_key_secret="api-test-secret", k=5)
    extracts = data_dir / "extracts"
    provider = _load(settings, extracts)
    service = Service(settings, version_provider=provider)
    server = ThreadServer(create_app(settings, service=service)).start()
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield LiveApi(server.url, settings, service, extracts, client)
    finally:
        client.close()
        server.stop()

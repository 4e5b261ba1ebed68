"""API fuzzing: schemathesis generates requests for every operation of the live app's
/openapi.json (positive and negative data), sent over loopback HTTP to the real app on chDB
with synthetic data. Every answer must be non-5xx, valid against the schema, and every error
must be the standard envelope ({"error": {status, code, parameter, message, allowed}}).
Every byte received is scanned for identifiers (P3/K6) by ``harden_capture``.

The run is bounded: a fixed number of examples per operation and mode, derandomized, no
shrinking phase (a failure still shows the request that broke it). The total must reach
10,000 requests.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter

import pytest
import requests

MIN_TOTAL_REQUESTS = 10_000
# Engine or Python internals that must never reach an error message.
LEAK = re.compile(r"traceback|\bselect\b.*\bfrom\b|db::exception|code: \d+|clickhouse|sqlglot|file \"/")
ENVELOPE_KEYS = {"status", "code", "loc", "parameter", "message", "allowed"}

# examples per (operation, mode); dataset queries carry most of the budget
BUDGET = {
    "positive": {"dataset": 1000, "cube": 800, "metadata": 200, "other": 60},
    "negative": {"dataset": 700, "cube": 600, "metadata": 200, "other": 60},
}


# HARDEN_FUZZ_SCALE=0.05 for a quick local look; the suite runs the full budget.
SCALE = float(os.environ.get("HARDEN_FUZZ_SCALE", "1"))


def _kind(path: str) -> str:
    if path.startswith("/cubejs-api/v1/load"):
        return "cube"
    if path.endswith("/metadata"):
        return "metadata"
    if path.startswith("/api/v1/") and path.count("/") == 3:
        return "dataset"
    return "other"


CUBE_ENVELOPE_KEYS = {"error", "code", "loc", "parameter", "allowed", "status"}


def check_envelope(status: int, content_type: str, body: bytes, *, cube: bool = False) -> None:
    """Errors: one JSON envelope whose status matches the HTTP status; nothing else. Cube's paths use
    Cube's shape (``error`` is the message string, the same detail alongside, issue 15)."""
    if status < 400:
        return
    assert content_type.startswith("application/json"), f"{status} error is {content_type}, not JSON"
    doc = json.loads(body)
    if cube and isinstance(doc, dict) and set(doc) == CUBE_ENVELOPE_KEYS:
        assert isinstance(doc["error"], str)
        doc = {"error": {"status": doc["status"], "code": doc["code"], "loc": doc["loc"], "parameter": doc["parameter"],
                         "message": doc["error"], "allowed": doc["allowed"]}}
    assert isinstance(doc, dict) and set(doc) == {"error"}, f"not the error envelope: {body[:300]!r}"
    err = doc["error"]
    assert set(err) == ENVELOPE_KEYS, f"envelope keys {sorted(err)}"
    assert err["status"] == status
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert err["parameter"] is None or isinstance(err["parameter"], str)
    assert err["allowed"] is None or isinstance(err["allowed"], (str, list))
    # the user's own input echoed back in quotes is not a leak
    low = re.sub(r"'[^']*'|\"[^\"]*\"", "", err["message"]).lower()
    assert not LEAK.search(low), f"error message leaks internals: {err['message'][:200]}"


SHARDS = 6  # the operations are fuzzed in shards of equal budget so that pytest-xdist runs them side by side
# The budget above is per operation; it is scaled so that the dataset and Cube query operations
# together get this many requests, 3% above MIN_TOTAL_REQUESTS. Only those count towards the
# minimum: each has more distinct requests than its budget, while the small operations run out
# (/healthz has no parameters: one positive request and no negative one, whatever the budget) and
# are fuzzed on top. Each shard must send its share of the minimum on its counted operations, so
# the shards together send at least MIN_TOTAL_REQUESTS.
COUNTED = ("dataset", "cube")
PLANNED_TOTAL = 10_300


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_schemathesis_fuzz_every_operation(api_live, harden_capture, shard):
    """Fuzz (K2, K6): ≥10,000 schemathesis requests over all operations (dealt into
    ``SHARDS`` shards of equal budget); no 5xx, schema-valid, every error in the envelope, no identifier in any
    byte returned."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import CHECKS  # noqa: F401 - loads the built-in checks

    schema = schemathesis.openapi.from_url(api_live.url + "/openapi.json")
    session = requests.Session()
    statuses: Counter[int] = Counter()
    per_op: Counter[str] = Counter()
    failures: list[str] = []
    counted = [0]  # requests on the COUNTED operations

    every = sorted((r.ok() for r in schema.get_all_operations()), key=lambda o: o.label)
    assert len(every) >= 10, [o.label for o in every]
    planned = sum(BUDGET[m][_kind(o.path)] for o in every for m in ("positive", "negative") if _kind(o.path) in COUNTED)
    assert planned, f"no dataset or Cube query operation in {[o.label for o in every]}"
    fit = min(1.0, PLANNED_TOTAL / planned) * SCALE
    units = _shards(every)[shard]
    modes = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE}
    for op, mode_name in units:
        mode = modes[mode_name]
        budget = _budget((op, mode_name), fit)

        @settings(max_examples=budget, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                  report_multiple_bugs=False)
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case):
            response = case.call(session=session, base_url=api_live.url, timeout=60)
            statuses[response.status_code] += 1
            per_op[f"{op.label} {mode_name}"] += 1
            counted[0] += _kind(op.path) in COUNTED
            harden_capture.response(f"fuzz {op.label}", response.status_code, response.headers,
                                    response.content)
            try:
                assert response.status_code < 500, f"server error {response.status_code}"
                check_envelope(response.status_code, _header(response.headers, "content-type"),
                               response.content, cube=op.path.startswith("/cubejs-api/"))
                # Schema-valid questions may still be refused (R13, a snapshot year not in the
                # data), so positive_data_acceptance is not required; every answer must conform.
                case.validate_response(response, checks=_checks(negative=mode is GenerationMode.NEGATIVE))
            except (Exception, BaseExceptionGroup) as err:  # collected; reported together below
                if len(failures) < 30:
                    failures.append(f"{case.as_curl_command()} -> {response.status_code}: "
                                    f"{_why(err)}\n{response.content[:300]!r}")
                raise

        try:
            run()
        except (Exception, BaseExceptionGroup):  # noqa: BLE001 - first failure stops this operation only
            pass

    total = sum(statuses.values())
    print(f"schemathesis: {total} requests ({counted[0]} counted) over {len(units)} operations and modes; statuses {dict(sorted(statuses.items()))}")
    for k, v in sorted(per_op.items()):
        print(f"  {k}: {v}")
    assert not failures, "\n\n".join(failures)
    # every operation is exercised, the small ones too (not counted towards the minimum): each has
    # positive cases (an operation without parameters has no negative ones)
    silent = sorted(f"{op.label} {m}" for op, m in units if m == "positive" and not per_op[f"{op.label} {m}"])
    assert not silent, f"operations that generated no request: {silent}"
    assert not [s for s in statuses if s >= 500], statuses
    # this shard's share of the whole run's ≥ MIN_TOTAL_REQUESTS: every shard sending its share
    # means the run sent at least MIN_TOTAL_REQUESTS
    shares = [_share(shard_units, fit) for shard_units in _shards(every)]
    floor = MIN_TOTAL_REQUESTS * min(1.0, SCALE) * shares[shard] / sum(shares)
    assert counted[0] >= floor, (f"only {counted[0]} requests sent on the counted operations, fewer than this "
                                 f"shard's {floor:.0f} of {MIN_TOTAL_REQUESTS:,}")
    assert not harden_capture.hits, harden_capture.hits[:10]


def _shards(every: list) -> list[list[tuple]]:
    """Every (operation, mode) dealt into SHARDS shards of near-equal budget (largest first, each
    to the lightest shard so far), so no shard is left running alone at the end of the suite."""
    units = [(op, m) for op in every for m in ("positive", "negative")]
    shards: list[list[tuple]] = [[] for _ in range(SHARDS)]
    for unit in sorted(units, key=lambda u: (-_budget(u, 1.0), u[0].label, u[1])):
        min(shards, key=lambda us: sum(_budget(u, 1.0) for u in us)).append(unit)
    return shards


def _budget(unit: tuple, fit: float) -> int:
    """The requests planned for one (operation, mode): its budget scaled by ``fit``."""
    op, mode_name = unit
    return max(1, int(BUDGET[mode_name][_kind(op.path)] * fit))


def _share(units: list[tuple], fit: float) -> int:
    """The requests planned for ``units`` on the COUNTED operations."""
    return sum(_budget(u, fit) for u in units if _kind(u[0].path) in COUNTED)


def _why(err: BaseException) -> str:
    subs = getattr(err, "exceptions", None)
    if subs:
        return "; ".join(_why(e) for e in subs)[:800]
    return f"{type(err).__name__}: {str(err)[:400]}"


def _header(headers, name: str) -> str:
    value = headers.get(name) or headers.get(name.title()) or ""
    return value[0] if isinstance(value, list) else value


def _checks(*, negative: bool) -> list:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                                   response_schema_conformance, status_code_conformance)

    # negative_data_rejection is not asked for: an empty value (``race=``, ``dimensions=``) means
    # "no filter"/"no dimension" by design (canonical URLs carry ``dimensions=``), which the
    # schema's enums cannot express; every other negative case must still conform.
    return [not_a_server_error, status_code_conformance, content_type_conformance,
            response_headers_conformance, response_schema_conformance]

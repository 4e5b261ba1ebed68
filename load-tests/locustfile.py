"""Load test for the crosstrack URL API: a realistic mix of what consumers ask.

The mix follows the FAQ's question areas — who is incarcerated (population by year, agency,
status and demographics), where (custody by agency, facility type, security level), how long
(mean and median incarceration time), programs (PSI counts) and offenses (charges, governing
offense of sentenced people) — plus CSV downloads, metadata, random valid combinations drawn
from the API's own metadata, and some invalid requests, which count as successes when they
get the 4xx they deserve (and as failures on a 2xx or 5xx).

Run headless for a bounded time; the process exits non-zero when the 95th percentile latency
or the error rate crosses the thresholds given on the command line::

    locust -f load-tests/locustfile.py --headless --host http://127.0.0.1:8000 \\
        --users 200 --spawn-rate 50 --run-time 60s --max-p95-ms 50 --max-error-rate 0

Standalone on purpose: it imports nothing from crosstrack, so it can be pointed at any
deployment. Codes and dimensions are read from ``/api/v1/{dataset}/metadata`` at start.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.request
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, between, events, task

log = logging.getLogger("crosstrack.loadtest")

DATASETS = ("population", "custody", "incarceration_time", "charges", "programs")
# Used only when the metadata cannot be read at start (the requests will then tell why).
FALLBACK_YEARS = [str(y) for y in range(2017, 2025)]
AGENCIES = ["DOC", "BER", "BRI", "CAI", "ESS", "HMD", "MID", "NOR", "NWT", "PLY", "SUF", "WOR"]
DEMOGRAPHICS = ["age_group", "assigned_sex", "race", "ethnicity", "gender_identity"]
PSI_MEASURES = ["record_count", "total_enrollments", "enrollments_beh", "enrollments_edu", "enrollments_sup",
                "enrollments_work", "enrollments_reinv", "enrollments_relig"]
# Requests that must fail with a 4xx (the API's own validation), never 2xx or 5xx.
INVALID = [
    ("/api/v1/no_such_dataset", {}),
    ("/api/v1/population", {"dimensions": "shoe_size"}),
    ("/api/v1/population", {"dimensions": "race", "race": "PURPLE"}),
    ("/api/v1/population", {"measures": "max_days"}),
    ("/api/v1/population", {"limit": "100000000"}),
    ("/api/v1/population", {"offset": "-3"}),
    ("/api/v1/population", {"format": "xml"}),
    ("/api/v1/population", {"year": "2020"}),
    ("/api/v1/incarceration_time", {"order": "-person_id"}),
    # R13: governing offense without a single offender status selected.
    ("/api/v1/population", {"dimensions": "governing_offense_type"}),
    ("/api/v1/population", {"dimensions": "offender_status,leading_charge_type"}),
    ("/api/v1/population", {"dimensions": "snapshot_year,agency,offender_status,age_group,assigned_sex,race,"
                                          "ethnicity,gender_identity"}),
]

_catalog_lock = threading.Lock()
CATALOG: dict[str, dict[str, Any]] = {}  # dataset -> {"dimensions": {name: [codes]}, "measures": [...], "requires": {...}}
_samples_ms: list[float] = []  # every request's latency (float ms), for an exact p95


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--max-p95-ms", type=float, default=0.0, include_in_web_ui=False,
                        help="Exit non-zero when the 95th percentile latency (all requests) exceeds this many ms (0: no check).")
    parser.add_argument("--max-error-rate", type=float, default=None, include_in_web_ui=False,
                        help="Exit non-zero when failures/requests exceeds this fraction, e.g. 0.01 (default: any failure).")
    parser.add_argument("--wait-min", type=float, default=0.5, include_in_web_ui=False,
                        help="Least think time between a user's requests, seconds.")
    parser.add_argument("--wait-max", type=float, default=2.0, include_in_web_ui=False,
                        help="Most think time between a user's requests, seconds.")


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - the operator's own host
        return json.loads(resp.read())


def _load_catalog(host: str) -> None:
    """Dimensions, codes, measures and R13 requirements from the API's own metadata."""
    found: dict[str, dict[str, Any]] = {}
    try:
        names = [d["name"] for d in _get_json(host.rstrip("/") + "/api/v1")["datasets"]]
    except Exception as err:  # noqa: BLE001 - fall back; the requests themselves will report
        log.warning("could not list datasets (%s); using the built-in list", type(err).__name__)
        names = list(DATASETS)
    for name in names:
        try:
            meta = _get_json(f"{host.rstrip('/')}/api/v1/{name}/metadata")
        except Exception as err:  # noqa: BLE001
            log.warning("could not read metadata of %s (%s)", name, type(err).__name__)
            continue
        found[name] = {
            "dimensions": {d["name"]: [c["code"] for c in d.get("codes") or []] for d in meta["dimensions"]},
            "requires": {d["name"]: d["requires"] for d in meta["dimensions"] if d.get("requires")},
            "measures": [m["name"] for m in meta["measures"]],
            "years": [str(y) for y in meta.get("snapshot_years") or []],
        }
    with _catalog_lock:
        CATALOG.clear()
        CATALOG.update(found)


@events.test_start.add_listener
def _on_start(environment, **_: Any) -> None:
    if environment.host:
        _load_catalog(environment.host)
    log.info("catalog: %s", {k: len(v["dimensions"]) for k, v in CATALOG.items()})


@events.request.add_listener
def _on_request(response_time: float, **_: Any) -> None:
    _samples_ms.append(float(response_time))


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))
    return ordered[index]


def check_thresholds(environment) -> tuple[int, list[str]]:
    """Exit code and reasons from the run's totals and the thresholds on the command line."""
    opts = environment.parsed_options
    total = environment.stats.total
    requests, failures = total.num_requests, total.num_failures
    reasons: list[str] = []
    if requests == 0:
        return 1, ["no requests were made"]
    # Exact p95 from this process's samples; locust's own (rounded) one under a master/worker run.
    p95 = _percentile(_samples_ms, 0.95) if _samples_ms else float(total.get_response_time_percentile(0.95) or 0)
    error_rate = failures / requests
    max_p95 = getattr(opts, "max_p95_ms", 0.0) or 0.0
    max_err = getattr(opts, "max_error_rate", None)
    if max_p95 > 0 and p95 > max_p95:
        reasons.append(f"p95 latency {p95:.2f} ms > --max-p95-ms {max_p95:g}")
    if max_err is None:
        if failures:
            reasons.append(f"{failures} failed requests (no --max-error-rate given: none allowed)")
    elif error_rate > max_err:
        reasons.append(f"error rate {error_rate:.4f} > --max-error-rate {max_err:g}")
    summary = (f"crosstrack load test: {requests} requests, {failures} failures "
               f"(rate {error_rate:.4f}), p95 {p95:.2f} ms, p50 {_percentile(_samples_ms, 0.5):.2f} ms, "
               f"{total.total_rps:.1f} req/s")
    print(summary, flush=True)
    return (1 if reasons else 0), reasons


@events.quitting.add_listener
def _on_quit(environment, **_: Any) -> None:
    code, reasons = check_thresholds(environment)
    for r in reasons:
        print(f"THRESHOLD FAILED: {r}", flush=True)
    if not reasons:
        print("thresholds passed", flush=True)
    environment.process_exit_code = code


def _years(ds: str) -> list[str]:
    return (CATALOG.get(ds) or {}).get("years") or FALLBACK_YEARS


def _codes(ds: str, dim: str, fallback: list[str]) -> list[str]:
    return ((CATALOG.get(ds) or {}).get("dimensions") or {}).get(dim) or fallback


class ApiUser(FastHttpUser):
    """One consumer: a dashboard, a journalist's script or a researcher's notebook."""

    def wait_time(self) -> float:  # type: ignore[override]
        opts = self.environment.parsed_options
        lo = getattr(opts, "wait_min", 0.5) if opts else 0.5
        hi = getattr(opts, "wait_max", 2.0) if opts else 2.0
        return between(lo, max(lo, hi))(self)

    # --- helpers ------------------------------------------------------------------------------
    def _ask(self, dataset: str, params: dict[str, str], name: str) -> None:
        with self.client.get(f"/api/v1/{dataset}?{urlencode(params)}", name=name, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"status {resp.status_code}")
            elif params.get("format") == "csv":
                if not (resp.headers.get("content-type") or "").startswith("text/csv"):
                    resp.failure("not CSV")
            else:
                try:
                    body = resp.json()
                except Exception:  # noqa: BLE001
                    resp.failure("not JSON")
                    return
                if "data" not in body or "canonical_url" not in body.get("meta", {}):
                    resp.failure("no data/meta.canonical_url")

    # --- FAQ question areas -------------------------------------------------------------------
    @task(6)
    def population_by_year(self) -> None:
        self._ask("population", {"dimensions": "snapshot_year,offender_status"}, "population by year/status")

    @task(6)
    def custody_by_agency(self) -> None:
        year = random.choice(_years("custody"))
        dims = random.choice(["agency", "agency,facility_type", "agency,security_level", "facility_type"])
        self._ask("custody", {"dimensions": dims, "snapshot_year": year}, "custody by agency (year)")

    @task(8)
    def demographics(self) -> None:
        year = random.choice(_years("population"))
        demo = random.sample(DEMOGRAPHICS[:4], k=random.choice([1, 1, 2]))
        params = {"dimensions": ",".join(["offender_status", *demo]), "snapshot_year": year}
        if random.random() < 0.4:
            params["agency"] = random.choice(_codes("population", "agency", AGENCIES))
        self._ask("population", params, "population by demographics (year[, agency])")

    @task(5)
    def medians(self) -> None:
        dims = random.choice(["snapshot_year", "agency", "snapshot_year,offender_status", "facility_type",
                              "age_group", "race"])
        params = {"dimensions": dims, "measures": "mean_days,median_days"}
        if "snapshot_year" not in dims:
            params["snapshot_year"] = random.choice(_years("incarceration_time"))
        self._ask("incarceration_time", params, "incarceration time mean/median")

    @task(4)
    def psi_counts(self) -> None:
        dims = random.choice(["snapshot_year", "agency", "snapshot_year,facility_type", "offender_status"])
        self._ask("programs", {"dimensions": dims, "measures": ",".join(PSI_MEASURES)}, "programs PSI counts")

    @task(4)
    def offenses(self) -> None:
        year = random.choice(_years("charges"))
        dims = random.choice(["offense_type", "offense_type,severity", "offense_subtype", "offense_type,disposition"])
        self._ask("charges", {"dimensions": dims, "snapshot_year": year, "measures": "charges,convictions,people"},
                  "charges by offense (year)")

    @task(3)
    def governing_offense(self) -> None:
        # R13: the governing offense of sentenced people (exactly one status selected).
        status, dim = random.choice([("SENTENCED", "governing_offense_type"), ("PRETRIAL", "leading_charge_type")])
        self._ask("population", {"dimensions": f"offender_status,{dim}", "offender_status": status,
                                 "snapshot_year": random.choice(_years("population"))},
                  "population by governing/leading offense")

    @task(3)
    def csv_download(self) -> None:
        ds, dims = random.choice([("population", "snapshot_year,agency,offender_status"),
                                  ("custody", "snapshot_year,agency,facility_type"),
                                  ("incarceration_time", "snapshot_year,agency"),
                                  ("charges", "snapshot_year,offense_type,severity")])
        self._ask(ds, {"dimensions": dims, "format": "csv"}, "CSV download")

    @task(3)
    def metadata(self) -> None:
        if random.random() < 0.3:
            self.client.get("/api/v1", name="dataset list")
        else:
            ds = random.choice(list(CATALOG) or list(DATASETS))
            self.client.get(f"/api/v1/{ds}/metadata", name="dataset metadata")

    @task(5)
    def random_combination(self) -> None:
        """Any valid question: 1–3 dimensions, some filters, some measures, maybe ordered/paged."""
        if not CATALOG:
            return self.population_by_year()
        ds = random.choice(list(CATALOG))
        info = CATALOG[ds]
        plain = [d for d in info["dimensions"] if d not in info["requires"]]
        dims = random.sample(plain, k=min(len(plain), random.randint(1, 3)))
        params: dict[str, str] = {"dimensions": ",".join(dims)}
        for d in random.sample(plain, k=min(len(plain), random.randint(0, 2))):
            codes = info["dimensions"].get(d) or []
            if codes:
                params[d] = ",".join(random.sample(codes, k=min(len(codes), random.randint(1, 2))))
        measures = random.sample(info["measures"], k=min(len(info["measures"]), random.randint(1, 3)))
        if any("," in v for k, v in params.items() if k not in dims and k != "dimensions"):
            # a median does not combine over several codes of a filter (400 median_over_codes, K4)
            measures = [m for m in measures if not m.startswith("median")] or [info["measures"][0]]
        params["measures"] = ",".join(measures)
        if random.random() < 0.3:
            params["order"] = "-" + measures[0]
        if random.random() < 0.2:
            params["limit"] = str(random.choice([5, 10, 50]))
        self._ask(ds, params, f"random {ds}")

    @task(2)
    def invalid(self) -> None:
        path, params = random.choice(INVALID)
        url = path + ("?" + urlencode(params) if params else "")
        with self.client.get(url, name="invalid (expect 4xx)", catch_response=True) as resp:
            if 400 <= resp.status_code < 500:
                resp.success()
            else:
                resp.failure(f"expected a 4xx, got {resp.status_code}")

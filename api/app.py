"""The FastAPI application: thin routes over :mod:`api.service`.

Routes parse, call ``Service.answer`` and serialise; the logic lives in plain modules
(params, service, disclosure, formats). Every answer carries its canonical URL, an ETag from
the canonical question and the data version, and Cache-Control; errors use one envelope.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crosstrack.api import formats
from crosstrack.api.cache import RenderedBody
from crosstrack.api.catalog import WITHHELD_ALONE_KINDS, available_when, year_dimension
from crosstrack.api.compose import build_service
from crosstrack.api.cube_compat import install_cube_compat
from crosstrack.api.fastpath import CachedAnswers, note_answer
from crosstrack.api.errors import ApiError, error_response, install_handlers
from crosstrack.api.openapi_doc import install_openapi
from crosstrack.api.params import FORMATS, RESERVED, parse_params
from crosstrack.api.ratelimit import install_rate_limit
from crosstrack.api.service import QuestionCounts, Service, set_default_service
from crosstrack.api.web import mount_web
from crosstrack.api.workers import in_worker
from crosstrack.config import Settings
from crosstrack.engine import EngineUnavailable

log = logging.getLogger("crosstrack.api")

CACHE_CONTROL = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"  # answers pinned with data_version=vN
API_PREFIX = "/api/v1"
CSV_STREAM_ROWS = 5000  # larger CSV pages stream (and are not kept as bytes in the cache)


# Total bytes of request header names and values accepted (uvicorn's httptools parser takes far more).
MAX_HEADER_BYTES = 16 * 1024


class SecurityHeadersMiddleware:
    """Pure ASGI: ``X-Content-Type-Options: nosniff`` on every HTTP response that lacks it.

    (Starlette's ``@app.middleware("http")`` runs each request through a task group and memory
    streams; rewriting the start message costs next to nothing.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers") or []
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    message["headers"] = [*headers, (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeaderSizeGuard:
    """Pure ASGI: 431 in the standard error envelope when the request's headers total more than
    ``max_bytes`` (names and values); such a request never reaches routing or the engine."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            total = 0
            for name, value in scope["headers"]:
                total += len(name) + len(value)
            if total > self.max_bytes:
                err = ApiError(431, "http.headers_too_large",
                               f"The request's headers are too large; send at most {self.max_bytes} bytes "
                               "of header names and values.",
                               parameter="headers", allowed=f"at most {self.max_bytes} bytes of headers")
                await error_response(err)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _etag(*parts: str) -> str:
    return '"' + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32] + '"'


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    return bool(header) and _tag_matches(header, etag)


def _tag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def negotiate(accept: str | None) -> str:
    """json or csv from an Accept header (format= wins over it); 406 when neither is acceptable."""
    if not accept or not accept.strip():
        return "json"
    best: tuple[float, int, str] | None = None
    for pos, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        mtype, q = fields[0].lower(), 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        fmt = {"application/json": "json", "text/csv": "csv", "application/csv": "csv", "*/*": "json",
               "application/*": "json", "text/*": "csv"}.get(mtype)
        if fmt is None or q <= 0:
            continue
        cand = (q, -pos, fmt)
        if best is None or cand > best:
            best = cand
    if best is None:
        raise ApiError(406, "http.not_acceptable", "This endpoint returns application/json or text/csv; "
                       "set Accept to one of them or use format=json|csv.", parameter="Accept",
                       allowed=["application/json", "text/csv"])
    return best[2]


def create_app(settings: Settings, *, service: Service | None = None) -> FastAPI:
    """The HTTP app over ``service`` (built from ``settings`` by ``api/compose.py`` when not given)."""
    service = service or build_service(settings)
    set_default_service(service)
    cache = service.cache  # the process's result cache, shared by every surface (api/cache.py)
    app = FastAPI(
        title="Crosstrack API",
        version="1",
        description=(
            "Anonymized Massachusetts criminal-justice custody statistics (people in custody on "
            "January 1 of each year). Pick a dataset, dimensions, filters and measures; every answer "
            "carries its canonical URL. Cells with fewer than k people are suppressed and every published "
            "value is perturbed by a small, fixed amount (see each dataset's metadata)."),
        docs_url=None,  # /docs is served offline by api.openapi_doc.install_docs (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service
    app.state.settings = settings
    install_handlers(app)
    # innermost: cached answers before routing, inside the rate limit, CORS and header layers
    app.add_middleware(CachedAnswers, service=service, count=lambda key: asked.add(key))
    install_rate_limit(app, settings.rate_limit_per_minute)  # per-client token buckets when > 0 (api/ratelimit.py)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST"],
                       allow_headers=["*"], expose_headers=["ETag", "Content-Disposition", "Link"])

    app.add_middleware(HeaderSizeGuard, max_bytes=settings.max_header_bytes)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: on every response, the 431 too

    @app.get("/healthz", tags=["operations"], summary="Liveness and data version")
    def healthz() -> Response:
        try:
            ok = service.engine.ping()
        except EngineUnavailable:
            ok = False
        version = None
        if ok:
            try:
                version = service.version().version_id
            except ApiError:
                version = None
        body = {"status": "ok" if ok else "unavailable", "engine": "up" if ok else "down",
                "data_version": version}
        return _json(body, 200 if ok else 503, {"Cache-Control": "no-store"})

    @app.get(API_PREFIX, tags=["datasets"], summary="List the datasets")
    def list_datasets() -> Response:
        try:
            version = service.version()
        except (ApiError, EngineUnavailable):
            version = None
        body = {
            "datasets": [
                {"name": ds.name, "title": ds.title, "description": ds.description,
                 "dimensions": list(ds.dimensions), "measures": list(ds.measures),
                 "links": {"data": f"{API_PREFIX}/{ds.name}", "metadata": f"{API_PREFIX}/{ds.name}/metadata"}}
                for ds in service.catalog.values()
            ],
            "data_version": version.version_id if version else None,
            "loaded_at": version.loaded_at_iso if version else None,
            "links": {"openapi": "/openapi.json", "docs": "/docs"},
        }
        return _json(body, headers={"Cache-Control": CACHE_CONTROL})

    @app.get(API_PREFIX + "/{dataset}/metadata", tags=["datasets"], summary="Describe one dataset")
    def metadata(dataset: str, request: Request) -> Response:
        ds = service.dataset(dataset)
        try:
            version = service.version()
        except (ApiError, EngineUnavailable):
            version = None
        etag = _etag("metadata", ds.name, version.version_id if version else "-", str(settings.k))
        headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
        if _not_modified(request, etag):
            return Response(status_code=304, headers=headers)
        if version is None:
            return _json(describe_dataset(service, ds, None, {}), headers=headers)
        url = f"{API_PREFIX}/{ds.name}/metadata"
        hit = cache.get_rendered(version.version_id, url, "metadata")
        if hit is not None:  # the description is a function of the model, the version and k
            return Response(hit.body, media_type=hit.media_type, headers=headers)
        body = orjson.dumps(describe_dataset(service, ds, version, service.extra_codes(ds, version)))
        cache.put_rendered(version.version_id, url, "metadata", RenderedBody(body, "application/json", etag))
        return Response(body, media_type="application/json", headers=headers)

    def _default_format(request: Request) -> str:
        if any(k == "format" for k, _ in request.query_params.multi_items()):
            return "json"
        return negotiate(request.headers.get("accept"))

    def _answer_headers(version_id: str, url: str, pinned: bool = False) -> tuple[str, dict[str, str]]:
        etag = _etag(version_id, url, str(settings.k))
        # An answer pinned with data_version= never changes while that version is kept (a removed
        # one answers 410), so it may be cached for good; unpinned answers follow the publishes.
        return etag, {"ETag": etag, "Cache-Control": IMMUTABLE if pinned else CACHE_CONTROL, "Vary": "Accept",
                      "Link": f'<{url}>; rel="canonical"'}

    def _query_known(dataset: str, request: Request) -> Response | tuple[Any, Any] | None:
        """The answer when it needs no engine work: the version is known exactly without a look-up
        and the rendered body is cached (or the client's ETag matches). Runs on the event loop, so
        cached answers never wait for a worker thread behind slow first-time questions. None: go
        the full way (in a worker thread). Same checks, errors and bytes as the full way. When the
        question was parsed but its body is not kept, (version, question) is returned so the full
        way does not parse it again."""
        ds = service.dataset(dataset)
        default_format = _default_format(request)
        items = request.query_params.multi_items()
        if any(k == "data_version" for k, _ in items):
            return None  # a kept version's answer is looked up the full way
        # Known exactly without asking the engine (api/versions.py); only worth it when bodies are kept.
        version = service.clock.peek() if cache.enabled else None
        if version is None:
            return None
        extra = service.known_extra_codes(ds, version)
        if extra is None:
            return None
        question = parse_params(ds, items, service.settings, default_format=default_format,
                                extra_codes=extra)
        url = question.url()
        etag, headers = _answer_headers(version.version_id, url)
        if _not_modified(request, etag):
            return Response(status_code=304, headers=headers)
        hit = cache.get_rendered(version.version_id, url, question.format)
        if hit is None:
            return version, question
        asked.add((ds.name, tuple(items), default_format))
        note_answer(request.scope, version.version_id, (ds.name, tuple(items), default_format))
        return Response(hit.body, media_type=hit.media_type, headers={**headers, **dict(hit.headers)})

    def _query(dataset: str, request: Request, parsed: tuple[Any, Any] | None = None) -> Response:
        ds = service.dataset(dataset)
        items = list(request.query_params.multi_items())
        default_format = _default_format(request)
        pinned = [v for k, v in items if k == "data_version"]
        version = service.version_for(pinned[0] if pinned else None)
        # the event loop's parse is reused only for the version it was parsed against (a publish
        # in between changes the codes a question may name)
        question = parsed[1] if parsed is not None and parsed[0].version_id == version.version_id else None
        response = _render(ds.name, items, default_format, version, request.headers.get("if-none-match"),
                           question=question)
        if not pinned and response.status_code == 200:
            asked.add((ds.name, tuple(items), default_format))
            note_answer(request.scope, version.version_id, (ds.name, tuple(items), default_format))
        return response

    def _render(dataset: str, items: list[tuple[str, str]], default_format: str, version: Any,
                if_none_match: str | None = None, question: Any = None) -> Response:
        if question is None:
            question = service.parse(dataset, items, default_format=default_format, version=version)
        etag, headers = _answer_headers(version.version_id, question.url(), question.data_version is not None)
        if if_none_match and _tag_matches(if_none_match, etag):
            return Response(status_code=304, headers=headers)
        hit = cache.get_rendered(version.version_id, question.url(), question.format)
        if hit is not None:  # the same bytes as last time, served without recomputing or rendering
            return Response(hit.body, media_type=hit.media_type, headers={**headers, **dict(hit.headers)})
        result = service.answer(dataset, question, version=version)
        if question.format == "csv":
            headers["Content-Disposition"] = f'attachment; filename="{formats.csv_filename(result)}"'
            if len(result.rows) > CSV_STREAM_ROWS:
                return StreamingResponse(formats.csv_chunks(result), media_type="text/csv; charset=utf-8",
                                         headers=headers)
            body, media = b"".join(formats.csv_chunks(result)), "text/csv; charset=utf-8"
            extra: tuple[tuple[str, str], ...] = (("Content-Disposition", headers["Content-Disposition"]),)
        else:
            body, media, extra = formats.to_json(result), "application/json", ()
        cache.put_rendered(version.version_id, question.url(), question.format, RenderedBody(body, media, etag, extra))
        return Response(body, media_type=media, headers=headers)

    asked = QuestionCounts()  # URL API requests by spelling, to warm rendered bodies (api/live.py)

    def warm_bodies(version: Any, n: int) -> int:
        done = 0
        for dataset, items, default_format in asked.top(n):
            try:
                _render(dataset, list(items), default_format, version)
                done += 1
            except ApiError:
                continue
        return done

    service.warmers.append(warm_bodies)

    @app.get(API_PREFIX + "/{dataset}", tags=["datasets"], summary="Query a dataset",
             include_in_schema=False)
    async def query(dataset: str, request: Request) -> Response:
        if dataset.endswith(".csv") and not request.query_params.get("format"):
            # /api/v1/<dataset>.csv is ?format=csv under its own path, so OpenAPI can give CSV its own
            # operation (generated clients parse one media type per operation).
            dataset = dataset.removesuffix(".csv")
            qs = request.scope.get("query_string", b"")
            request = Request({**request.scope, "query_string": qs + (b"&" if qs else b"") + b"format=csv"},
                              request.receive)
        known = _query_known(dataset, request)
        if isinstance(known, Response):
            return known
        return await in_worker(_query, dataset, request, known)

    install_cube_compat(app, service)
    mount_web(app)
    install_openapi(app, service)
    return app


def _counting(ds) -> dict[str, Any]:
    """Which measure counts records and which distinct people, over several snapshots (R1, P1):
    the view's meta.disclosure names them (records, people)."""
    disc = (ds.meta or {}).get("disclosure") or {}
    distinct = str(disc.get("people") or ds.people_measure)
    records = str(disc.get("records") or distinct)
    return {"records": records, "distinct_people": distinct,
            "rule": f"R1: over several snapshot years a person is counted once per snapshot in '{records}' (the "
                    f"FAQ's records); '{distinct}' counts each person once. Within one snapshot they are equal. "
                    f"A cell is published only when at least k distinct people contribute to it (P1)."}


def describe_dataset(service: Service, ds, version, extra: dict[str, list[str]]) -> dict[str, Any]:
    settings = service.settings
    dims = []
    for d in ds.dimensions.values():
        codes = ([{"code": c, "label": lab} for c, lab in d.codes] if d.codes
                 else [{"code": c, "label": c} for c in extra.get(d.name, [])])
        entry: dict[str, Any] = {"name": d.name, "title": d.title, "description": d.description, "type": d.type,
                                 "codes": codes, "filter": f"{d.name}=CODE[,CODE...]"}
        if d.requires:
            target = str(d.requires.get("dimension", "")).split(".")[-1]
            entry["requires"] = {
                "dimension": target, "single_filter": bool(d.requires.get("single_filter")),
                "rule": f"R13: only with {target} among the dimensions and exactly one {target} selected."}
        entry["available_when"] = available_when(ds, d, extra)
        dims.append(entry)
    measures = []
    unavailable = service.unavailable(ds, version) if version else {}
    for m in ds.measures.values():
        gov = next((x.name for x in ds.measures.values() if x.member == m.governed_by), None)
        entry = {"name": m.name, "title": m.title, "description": m.description, "type": m.type,
                 "format": m.format, "disclosure_kind": m.kind, "published_with": gov,
                 "withheld_alone": m.kind in WITHHELD_ALONE_KINDS}
        if m.name in unavailable:  # docs/recidivism.md: unavailable in this data version, not zero
            entry["available"] = False
            entry["unavailable_because"] = unavailable[m.name]
        measures.append(entry)
    snapshot = next((d for d in dims if d["name"] == "snapshot_year"), None)
    return {
        "dataset": ds.name,
        "title": ds.title,
        "description": ds.description,
        "data_version": version.version_id if version else None,
        "loaded_at": version.loaded_at_iso if version else None,
        "snapshot_years": [c["code"] for c in snapshot["codes"]] if snapshot else [],
        "snapshot_date": "January 1 of each snapshot year" if snapshot else None,
        "year_dimension": year_dimension(ds),
        "dimensions": dims,
        "measures": measures,
        "default_measures": [ds.people_measure],
        "counting": _counting(ds),
        **({"unavailable_measures": sorted(unavailable)} if unavailable else {}),
        **({"rules": "docs/recidivism.md (RC1-RC12)", "cohort": "release",
            "release_years": [c["code"] for d in dims if d["name"] == "release_year" for c in d["codes"]],
            "windows": ("1, 2 and 3 years from the release date, both ends counted; a window is published only for "
                        "cohorts whose window has fully passed by the data's last date (RC7, RC8)"),
            "event_rule": (f"an event count is published only when at least {service.disclosure.k} releases had the "
                           f"event and at least {service.disclosure.k + 2 * service.disclosure.table.max_noise} did "
                           "not, so no group shows that all or none of its members had one and no rate is shown as "
                           "100%; rates are computed from the published counts only, and only when both are "
                           "published (RC12)")}
           if ds.meta.get("cohort") == "release" else {}),
        "disclosure": service.disclosure.describe(),
        "parameters": {
            "dimensions": "comma-separated dimension names to group by (model order is used)",
            "measures": f"comma-separated measure names (default {ds.people_measure})",
            "<dimension>": "filter: repeated or comma-separated codes, e.g. race=W&race=B or race=W,B",
            "order": "comma-separated selected dimensions/measures, '-' for descending; ties break on the dimensions",
            "limit": f"page size, 1..{settings.max_page_size} (default {min(1000, settings.max_page_size)})",
            "offset": f"rows to skip, 0..{settings.max_offset}",
            "format": "json or csv (or send Accept: text/csv)",
        },
        "reserved_parameters": list(RESERVED),
        "formats": list(FORMATS),
        "limits": {"max_dimensions": settings.max_dimensions, "max_page_size": settings.max_page_size,
                   "max_filter_values": settings.max_filter_values, "max_offset": settings.max_offset},
        "links": {"data": f"{API_PREFIX}/{ds.name}?dimensions=&measures={ds.people_measure}",
                  "datasets": API_PREFIX},
    }

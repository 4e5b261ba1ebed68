"""A Cube-compatible REST surface: ``/cubejs-api/v1/load``, ``/meta``, ``/dry-run`` and ``/sql``.

Cube's client libraries and tools can query crosstrack with Cube's query syntax; every query is
translated to a :class:`Question` and answered by ``Service.answer`` — the same disclosure
control as the URL API (K2). Only public views and their public members are visible; hidden
members (the cell key) are unknown here. Each data row also carries ``<view>.suppressed``.

What Cube's clients rely on, as Cube's REST API does it: ``queryType=multi`` (what
``@cubejs-client/core`` 0.35 and 1.x send on every ``load()``) answers ``{queryType, results: [...],
pivotQuery}``; an error is ``{"error": "<message>"}`` — a string, which the clients test with
``includes`` — with the structured detail (``code``, ``parameter``, ``allowed``, ``status``) in
extra fields. The API is public: the ``Authorization`` header Cube's clients always send (their
``apiToken``) is accepted and ignored, since no answer depends on who asks.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from sqlglot import exp

from crosstrack.api.catalog import Dataset
from crosstrack.api.errors import ApiError, as_api_error
from crosstrack.api.params import build_question
from crosstrack.api.service import Service
from crosstrack.api.workers import in_worker

PREFIX = "/cubejs-api/v1"
SUPPORTED_OPERATORS = ("equals", "notEquals")


def _json(body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


def _member_view(member: Any, parameter: str) -> str:
    if not isinstance(member, str) or "." not in member:
        raise ApiError(400, "query.invalid", f"{parameter} members are written view.member; got {str(member)[:60]!r}.",
                       parameter=parameter)
    return member.split(".", 1)[0]


def _check_shapes(query: dict) -> None:
    """Reject wrongly shaped query fields with a 400 naming them (never a 500 from iterating them)."""
    for key in ("measures", "dimensions", "filters"):
        value = query.get(key)
        if value is not None and not isinstance(value, list):
            raise ApiError(400, "query.invalid", f"{key} must be a list.", parameter=f"query.{key}")
    for f in query.get("filters") or []:
        if isinstance(f, dict) and f.get("values") is not None and not isinstance(f.get("values"), list):
            raise ApiError(400, "query.invalid", "filter values must be a list.", parameter="query.filters")
    order = query.get("order")
    if order is not None and not isinstance(order, dict) and not (
            isinstance(order, list) and all(isinstance(p, list) and len(p) == 2 for p in order)):
        raise ApiError(400, "query.invalid", "order must be an object {member: 'asc'|'desc'} or a list of "
                       "[member, direction] pairs.", parameter="query.order")


def _whole(query: dict, key: str, lo: int, hi: int, default: int, code: str) -> int:
    """``limit``/``offset`` as strictly as the URL API: a JSON integer or a string of ASCII digits
    within range; true, 1.5, "٣" and 0 (for limit) are errors naming the field, never a guess."""
    raw = query.get(key)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or (
            isinstance(raw, str) and not (raw.strip().isascii() and raw.strip().isdigit())):
        raise ApiError(400, "query.invalid_value", f"{key} must be a whole number; got {orjson.dumps(raw).decode()[:40]}.",
                       parameter=f"query.{key}", allowed=f"{lo}..{hi}")
    value = int(raw)
    if not lo <= value <= hi:
        raise ApiError(400, code if value > hi else "query.invalid_value", f"{key} must be between {lo} and {hi}; got {value}.",
                       parameter=f"query.{key}", allowed=f"{lo}..{hi}")
    return value


def to_question(service: Service, query: Any, data_version: str | None = None):
    """Translate a Cube query object into (dataset, Question); errors name the query field."""
    if not isinstance(query, dict):
        raise ApiError(400, "query.invalid", "query must be one JSON object in Cube's query format.", parameter="query",
                       allowed="{\"measures\": [...], \"dimensions\": [...], \"filters\": [...]}")
    for unsupported in ("timeDimensions", "segments"):
        if query.get(unsupported):
            raise ApiError(400, "query.unsupported", f"{unsupported} are not supported; use dimensions and filters "
                           "(snapshot_year is an ordinary dimension).", parameter=f"query.{unsupported}")
    if query.get("ungrouped"):
        raise ApiError(400, "query.unsupported", "ungrouped queries would publish person-level rows and are not allowed.",
                       parameter="query.ungrouped")
    _check_shapes(query)
    members = [*(query.get("measures") or []), *(query.get("dimensions") or [])]
    members += [f.get("member") or f.get("dimension") for f in query.get("filters", []) or [] if isinstance(f, dict)]
    views = {_member_view(m, "query") for m in members}
    if not views:
        raise ApiError(400, "query.invalid", "query names no measure or dimension.", parameter="query.measures",
                       allowed=sorted(service.catalog))
    if len(views) > 1:
        raise ApiError(400, "query.invalid", "all members of one query must come from one view.", parameter="query",
                       allowed=sorted(service.catalog))
    ds = service.dataset(views.pop())

    def short(member: str, kind: str) -> str:
        name = member.split(".", 1)[1]
        pool = ds.dimensions if kind == "dimensions" else ds.measures
        if name not in pool:
            raise ApiError(400, "query.unknown_member", f"{member[:80]!r} is not a public {kind[:-1]} of {ds.name}.",
                           parameter=f"query.{kind}", allowed=[f"{ds.name}.{n}" for n in pool])
        return name

    dims = [short(m, "dimensions") for m in query.get("dimensions", []) or []]
    meas = [short(m, "measures") for m in query.get("measures", []) or []]
    filters: dict[str, list[str]] = {}
    for f in query.get("filters", []) or []:
        if not isinstance(f, dict) or ("or" in f or "and" in f):
            raise ApiError(400, "query.unsupported", "only simple member filters are supported (no and/or groups).",
                           parameter="query.filters")
        name = short(f.get("member") or f.get("dimension"), "dimensions")
        op = f.get("operator")
        values = [str(v) for v in f.get("values", []) or []]
        if op == "equals":
            chosen = values
        elif op == "notEquals" and ds.dimensions[name].codes:
            chosen = [c for c, _ in ds.dimensions[name].codes if c not in values]
        else:
            raise ApiError(400, "query.unsupported", f"filter operator {str(op)[:30]!r} is not supported here.",
                           parameter="query.filters", allowed=list(SUPPORTED_OPERATORS))
        if name in filters:  # two filters on one member: their intersection
            chosen = [c for c in filters[name] if c in chosen]
        filters[name] = chosen
        if not chosen:
            raise ApiError(400, "query.invalid", f"the filters on {name} select no code.", parameter="query.filters")
    order = query.get("order") or {}
    pairs = list(order.items()) if isinstance(order, dict) else [tuple(p) for p in order]
    order_spec = []
    for member, direction in pairs:
        name = member.split(".", 1)[1] if isinstance(member, str) and "." in member else str(member)
        order_spec.append(("-" if str(direction).lower() == "desc" else "") + name)
    settings = service.settings
    limit = _whole(query, "limit", 1, settings.max_page_size, min(10_000, settings.max_page_size), "query.page_too_large")
    offset = _whole(query, "offset", 0, settings.max_offset, 0, "query.offset_too_large")
    version = service.version_for(data_version)
    question = build_question(ds, settings, dimensions=dims, measures=meas, filters=filters, order=order_spec,
                              limit=limit, offset=offset, extra_codes=service.extra_codes(ds, version),
                              data_version=data_version or None)
    return ds, question, version


def _annotation(ds: Dataset, question) -> dict[str, Any]:
    return {
        "measures": {f"{ds.name}.{m}": {"title": ds.measures[m].title, "shortTitle": ds.measures[m].title,
                                         "type": ds.measures[m].type} for m in question.measures},
        "dimensions": {f"{ds.name}.{d}": {"title": ds.dimensions[d].title, "shortTitle": ds.dimensions[d].title,
                                           "type": ds.dimensions[d].type} for d in question.dimensions},
        "segments": {},
        "timeDimensions": {},
    }


def load_response(service: Service, query: Any, data_version: str | None = None) -> dict[str, Any]:
    ds, question, version = to_question(service, query, data_version)
    result = service.answer(ds.name, question, version=version)
    data = []
    for row in result.rows:
        out = {f"{ds.name}.{d}": row[d] for d in question.dimensions}
        out.update({f"{ds.name}.{m}": row[m] for m in question.measures})
        out[f"{ds.name}.suppressed"] = row["suppressed"]
        data.append(out)
    body: dict[str, Any] = {
        "query": {"measures": [f"{ds.name}.{m}" for m in question.measures],
                  "dimensions": [f"{ds.name}.{d}" for d in question.dimensions],
                  "filters": [{"member": f"{ds.name}.{d}", "operator": "equals", "values": list(c)}
                              for d, c in question.filters],
                  "order": [[f"{ds.name}.{f}", "desc" if desc else "asc"] for f, desc in question.order],
                  "limit": question.limit, "offset": question.offset},
        "data": data,
        "annotation": _annotation(ds, question),
        "lastRefreshTime": version.loaded_at_iso,
        "dataSource": "default",
        "dbType": "clickhouse",
        "crosstrack": {"canonical_url": question.url(), "data_version": version.version_id,
                       "total_row_count": result.total_rows, "suppressed_count": result.suppressed_count,
                       "disclosure": {"k": result.disclosure.get("k"), "method": result.disclosure.get("method"),
                                      "details": f"/api/v1/{ds.name}/metadata"}},
    }
    if isinstance(query, dict) and query.get("total"):
        body["total"] = result.total_rows
    return body


def _queries(query: Any) -> list[Any]:
    return list(query) if isinstance(query, list) and query else [query]


def _pivot_query(normalized: dict[str, Any], query_type: str) -> dict[str, Any]:
    return {**normalized, "queryType": query_type}


def multi_response(service: Service, query: Any, data_version: str | None = None) -> dict[str, Any]:
    """Cube's ``queryType=multi`` answer: one result per query (Cube's clients read ``results``)."""
    results = [load_response(service, q, data_version) for q in _queries(query)]
    query_type = "regularQuery" if len(results) == 1 else "blendingQuery"
    return {"queryType": query_type, "results": results,
            "pivotQuery": _pivot_query(results[0]["query"], query_type), "slowQuery": False}


def dry_run_response(service: Service, query: Any, data_version: str | None = None) -> dict[str, Any]:
    """Cube's ``/dry-run``: the normalised queries, validated exactly as ``load`` would, not run."""
    normalized = []
    for q in _queries(query):
        ds, question, _ = to_question(service, q, data_version)
        normalized.append(_normalized(ds, question))
    query_type = "regularQuery" if len(normalized) == 1 else "blendingQuery"
    return {"queryType": query_type, "normalizedQueries": normalized,
            "queryOrder": [{m: d} for m, d in normalized[0]["order"]],
            "pivotQuery": _pivot_query(normalized[0], query_type), "transformedQueries": [None] * len(normalized)}


def sql_response(service: Service, query: Any, data_version: str | None = None) -> dict[str, Any]:
    """Cube's ``/sql``: the statement that asks the same question on crosstrack's SQL surface (the
    engine's own SQL stays private: it names hidden members). ``sql.sql`` is ``[text, params]`` as in Cube."""
    ds, question, _ = to_question(service, query if not isinstance(query, list) else _queries(query)[0], data_version)
    tree = exp.select(*[exp.column(d) for d in question.dimensions],
                      *[exp.alias_(exp.Anonymous(this="MEASURE", expressions=[exp.column(m)]), m)
                        for m in question.measures], exp.column("suppressed")).from_(ds.name)
    for dim, codes in question.filters:
        tree = tree.where(exp.column(dim).isin(*[exp.Literal.string(c) for c in codes]))
    if question.dimensions:
        tree = tree.group_by(*[exp.Literal.number(i) for i in range(1, len(question.dimensions) + 1)])
    if question.order:
        tree = tree.order_by(*[exp.Ordered(this=exp.column(f), desc=desc) for f, desc in question.order])
    tree = tree.limit(question.limit).offset(question.offset) if question.offset else tree.limit(question.limit)
    text = tree.sql(dialect="postgres")
    return {"sql": {"sql": [text, []], "dataSource": "default", "status": "ok",
                    "crosstrack": {"surface": "postgres wire protocol (crosstrack serve --sql)",
                                   "canonical_url": question.url()}}}


def _normalized(ds: Dataset, question) -> dict[str, Any]:
    return {"measures": [f"{ds.name}.{m}" for m in question.measures],
            "dimensions": [f"{ds.name}.{d}" for d in question.dimensions],
            "timeDimensions": [], "segments": [],
            "filters": [{"member": f"{ds.name}.{d}", "operator": "equals", "values": list(c)}
                        for d, c in question.filters],
            "order": [[f"{ds.name}.{f}", "desc" if desc else "asc"] for f, desc in question.order],
            "limit": question.limit, "offset": question.offset}


def cube_error(err: ApiError) -> Response:
    """Cube's error shape: ``error`` is the message string (Cube's clients test it with
    ``includes``); the problem's structured fields (``code``, ``loc``, ``allowed``) and the
    ``parameter`` and ``status`` ride alongside."""
    body = {"error": err.message, **{k: v for k, v in err.problem.as_dict().items() if k != "message"},
            "parameter": err.parameter, "status": err.status}
    return Response(orjson.dumps(body), status_code=err.status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **err.headers})


def _answer(fn, *args: Any, headers: dict[str, str] | None = None) -> Response:
    try:
        return _json(fn(*args), headers)
    except Exception as err:  # noqa: BLE001 - every known failure becomes Cube's error shape
        mapped = as_api_error(err, short_members=False)
        if mapped is None:
            raise  # the app's handler logs its type and answers a generic 500
        return cube_error(mapped)


def public_meta(service: Service) -> dict[str, Any]:
    """Cube's /v1/meta restricted to published views and their public members."""
    cubes = []
    for cube in service.meta.get("cubes", []):
        ds = service.catalog.get(cube.get("name"))
        if ds is None:
            continue
        entry = {k: v for k, v in cube.items() if k not in ("measures", "dimensions", "segments")}
        entry["measures"] = [m for m in cube.get("measures", []) if m["name"].split(".")[-1] in ds.measures
                             and m.get("public") is not False]
        entry["dimensions"] = [d for d in cube.get("dimensions", []) if d["name"].split(".")[-1] in ds.dimensions
                               and d.get("public") is not False]
        entry["segments"] = []
        vmeta = dict(entry.get("meta") or {})
        if isinstance(vmeta.get("disclosure"), dict):  # the hidden cell-key member is not named publicly
            vmeta["disclosure"] = {k: v for k, v in vmeta["disclosure"].items() if k != "cell_key"}
        vmeta.pop("availability_measure", None)  # a hidden member (docs/recidivism.md): not named publicly
        entry["meta"] = vmeta
        cubes.append(entry)
    return {"cubes": cubes}


def _query_from_get(request: Request) -> Any:
    raw = request.query_params.get("query")
    if raw is None:
        raise ApiError(400, "query.invalid", "GET needs a query parameter holding a Cube query as JSON.",
                       parameter="query")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "query.invalid", "query is not valid JSON.", parameter="query") from None


def _data_version(request: Request, body: Any = None) -> str | None:
    """``data_version=vN`` from the URL (GET and POST) or next to ``query`` in a POST body."""
    value = request.query_params.get("data_version")
    if value is None and isinstance(body, dict) and body.get("data_version") is not None:
        value = str(body["data_version"])
    return value or None


def _cache_headers(pinned: str | None) -> dict[str, str]:
    from crosstrack.api.app import CACHE_CONTROL, IMMUTABLE

    return {"Cache-Control": IMMUTABLE if pinned else CACHE_CONTROL}


def _body_query(raw: bytes) -> tuple[Any, str | None, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "query.invalid", "The body is not valid JSON.", parameter="body") from None
    query = body.get("query") if isinstance(body, dict) else None
    if isinstance(query, str):
        try:
            query = orjson.loads(query)
        except orjson.JSONDecodeError:
            raise ApiError(400, "query.invalid", "query is not valid JSON.", parameter="query") from None
    query_type = body.get("queryType") if isinstance(body, dict) else None
    return query, query_type if isinstance(query_type, str) else None, body


def _load(service: Service, query: Any, query_type: str | None, data_version: str | None = None) -> dict[str, Any]:
    if query_type == "multi":
        return multi_response(service, query, data_version)
    if isinstance(query, list):
        raise ApiError(400, "query.invalid", "several queries need queryType=multi.", parameter="queryType",
                       allowed=["multi"])
    return load_response(service, query, data_version)


def install_cube_compat(app: FastAPI, service: Service) -> None:
    def from_get(request: Request) -> tuple[Any, str | None, str | None]:
        return _query_from_get(request), request.query_params.get("queryType"), _data_version(request)

    async def from_post(request: Request) -> tuple[Any, str | None, str | None]:
        query, query_type, body = _body_query(await request.body())
        return query, query_type, _data_version(request, body)

    def get_route(path: str, fn, op: str, summary: str) -> None:
        def handler(request: Request) -> Response:
            try:
                query, query_type, pinned = from_get(request)
            except ApiError as err:
                return cube_error(err)
            return _answer(fn, service, query, query_type, pinned, headers=_cache_headers(pinned))

        app.add_api_route(PREFIX + path, handler, methods=["GET"], tags=["cube-compatible"], summary=summary,
                          operation_id=op)

    def post_route(path: str, fn, op: str, summary: str) -> None:
        async def handler(request: Request) -> Response:
            try:
                query, query_type, pinned = await from_post(request)
            except ApiError as err:
                return cube_error(err)
            return await in_worker(_answer, fn, service, query, query_type, pinned,
                                   headers=_cache_headers(pinned) if pinned else None)

        app.add_api_route(PREFIX + path, handler, methods=["POST"], tags=["cube-compatible"], summary=summary,
                          operation_id=op)

    get_route("/load", _load, "cubeLoad", "Cube-compatible load (GET ?query=JSON[&queryType=multi][&data_version=vN])")
    post_route("/load", _load, "cubeLoadPost",
               "Cube-compatible load (POST {\"query\": ..., \"queryType\"?, \"data_version\"?})")
    get_route("/dry-run", lambda s, q, _t, v: dry_run_response(s, q, v), "cubeDryRun", "Cube-compatible dry run")
    post_route("/dry-run", lambda s, q, _t, v: dry_run_response(s, q, v), "cubeDryRunPost", "Cube-compatible dry run")
    get_route("/sql", lambda s, q, _t, v: sql_response(s, q, v), "cubeSql",
              "The SQL-surface statement asking the same question")
    post_route("/sql", lambda s, q, _t, v: sql_response(s, q, v), "cubeSqlPost",
               "The SQL-surface statement asking the same question")

    @app.get(PREFIX + "/meta", tags=["cube-compatible"], summary="Cube-compatible meta", operation_id="cubeMeta")
    @app.post(PREFIX + "/meta", include_in_schema=False)
    def meta() -> Response:
        return _json(public_meta(service), {"Cache-Control": "public, max-age=300"})

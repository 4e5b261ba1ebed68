"""OpenAPI for the URL API, generated from the catalog (one path per dataset, enums of codes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from crosstrack.api.service import Service

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["status", "code", "loc", "message"], "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string", "pattern": r"^[a-z]+\.[a-z0-9_]+$",
                 "description": "the problem's dotted code, family.reason (param.unknown_value, query.unknown_member, "
                                "data.unknown_version, engine.unavailable, ...)"},
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "description": "where in the request, pydantic-style: [\"query\", \"race\"]; empty when the "
                               "request as a whole is at fault"},
        "parameter": {"type": ["string", "null"], "description": "the parameter at fault (loc without its root)"},
        "message": {"type": "string"},
        "allowed": {"description": "allowed values or form", "anyOf": [
            {"type": "array", "items": {}}, {"type": "string"}, {"type": "null"}]},
    }}},
    "example": {"error": {"status": 400, "code": "param.unknown_dimension", "loc": ["query", "dimensions"],
                          "parameter": "dimensions",
                          "message": "'colour' is not a dimension of population.",
                          "allowed": ["snapshot_year", "agency", "race"]}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


CSV_CONTEXT_PARAM = {
    "name": "csv_context", "in": "query", "required": False,
    "description": "comments (with format=csv only): the CSV opens with '#' lines naming the dataset, measures, "
                   "dimensions, every filter (the year included), the data version, the canonical URL, the rows "
                   "and the disclosure note, then the header and rows (read it with e.g. pandas "
                   "read_csv(..., comment='#')). Without it the CSV is the header and rows only. Part of the "
                   "canonical URL when given.",
    "schema": {"type": "string", "enum": ["comments"]}, "example": "comments"}


def _dataset_path(ds, settings, extra_codes: dict[str, list[str]]) -> dict[str, Any]:
    dims = list(ds.dimensions)
    meas = list(ds.measures)
    order_items = [*dims, *meas, *(f"-{x}" for x in [*dims, *meas])]
    params: list[dict[str, Any]] = [
        {"name": "dimensions", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "Dimensions to group by, comma-separated. Allowed: " + ", ".join(dims),
         "schema": {"type": "array", "items": {"type": "string", "enum": dims}},
         "example": dims[:2]},
        {"name": "measures", "in": "query", "required": False, "style": "form", "explode": False,
         "description": f"Measures, comma-separated (default {ds.people_measure}). Allowed: " + ", ".join(meas),
         "schema": {"type": "array", "items": {"type": "string", "enum": meas}}, "example": [ds.people_measure]},
        {"name": "order", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "Selected dimensions/measures, comma-separated; prefix '-' for descending "
                        "(naming one that is not selected is a 400).",
         "schema": {"type": "array", "items": {"type": "string", "enum": order_items}},
         "example": [f"-{ds.people_measure}"]},
        {"name": "limit", "in": "query", "required": False, "description": "Page size.",
         "schema": {"type": "integer", "minimum": 1, "maximum": settings.max_page_size}, "example": 100},
        {"name": "offset", "in": "query", "required": False, "description": "Rows to skip.",
         "schema": {"type": "integer", "minimum": 0, "maximum": settings.max_offset}, "example": 0},
        {"name": "format", "in": "query", "required": False, "description": "json (default) or csv; Accept works too.",
         "schema": {"type": "string", "enum": ["json", "csv"]}, "example": "json"},
        CSV_CONTEXT_PARAM,
    ]
    for d in ds.dimensions.values():
        schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        if d.codes:
            schema["items"]["enum"] = [c for c, _ in d.codes]
        elif d.name in extra_codes:
            schema["items"]["enum"] = list(extra_codes[d.name])
        desc = f"Filter on {d.title}: one or more codes, repeated or comma-separated. {d.description}".strip()
        if d.requires:
            desc += " (R13: needs offender_status as a dimension and exactly one status selected.)"
        params.append({"name": d.name, "in": "query", "required": False, "style": "form", "explode": True,
                       "description": desc, "schema": schema})
    row_props: dict[str, Any] = {}
    for d in ds.dimensions.values():
        row_props[d.name] = {"type": ["string", "integer"], "description": d.title}
        row_props[f"{d.name}_label"] = {"type": "string"}
    for m in ds.measures.values():
        row_props[m.name] = {"type": ["number", "null"], "description": m.description or m.title}
    row_props["suppressed"] = {"type": "boolean", "description": "true: fewer than k people; every measure is null"}
    example_row = {dims[0]: (next(iter(ds.dimensions.values())).codes or (("CODE", "Label"),))[0][0],
                   f"{dims[0]}_label": (next(iter(ds.dimensions.values())).codes or (("CODE", "Label"),))[0][1],
                   ds.people_measure: 1234, "suppressed": False} if dims else {ds.people_measure: 1234, "suppressed": False}
    return {"get": {
        "tags": ["datasets"],
        "operationId": "query" + "".join(w.capitalize() for w in ds.name.split("_")),
        "summary": f"{ds.title}",
        "description": (ds.description + "\n\nCells with fewer than k people are suppressed (measures null, "
                        "suppressed=true); published values are perturbed slightly (see /metadata)."),
        "parameters": params,
        "responses": {
            "200": {"description": "Rows with codes, labels, measures and a suppressed flag.",
                    "headers": {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}},
                    "content": {
                        "application/json": {"schema": {"type": "object", "required": ["meta", "data"], "properties": {
                            "meta": {"$ref": "#/components/schemas/AnswerMeta"},
                            "data": {"type": "array", "items": {"type": "object", "properties": row_props}}}},
                            "example": {"meta": {"canonical_url": f"/api/v1/{ds.name}?dimensions={dims[0] if dims else ''}",
                                                 "dataset": ds.name}, "data": [example_row]}},
                        "text/csv": {"schema": {"type": "string"},
                                     "example": ",".join(example_row) + "\r\n" + ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in example_row.values()) + "\r\n"}}},
            "304": {"description": "Not modified (If-None-Match matched the ETag)."},
            "400": _error("Unknown dimension, measure, code or parameter; bad format; too many dimensions; page too large."),
            "404": _error("Unknown dataset."),
            "406": _error("Accept names neither JSON nor CSV."),
            "422": _error("R13: governing/leading charge dimension without a single offender status."),
            "503": _error("Engine unavailable or a query limit was hit."),
        }}}


def _csv_path(json_path: dict[str, Any]) -> dict[str, Any]:
    """The same question as CSV under its own path: one media type per operation, which generated
    clients need to return text instead of parsing JSON."""
    op = json_path["get"]
    ok = op["responses"]["200"]
    return {"get": {
        **{k: v for k, v in op.items() if k not in ("operationId", "parameters", "responses", "summary")},
        "operationId": op["operationId"] + "Csv", "summary": op["summary"] + " (CSV)",
        "parameters": [p for p in op["parameters"] if p["name"] != "format"],
        "responses": {**op["responses"], "200": {
            "description": "RFC 4180 CSV with a header row; withheld measures are empty cells.",
            "headers": {**ok.get("headers", {}), "Content-Disposition": {"schema": {"type": "string"}}},
            "content": {"text/csv": ok["content"]["text/csv"]}}}}}


def _metadata_path() -> dict[str, Any]:
    return {"get": {
        "tags": ["datasets"], "operationId": "describeDataset", "summary": "Describe one dataset",
        "parameters": [{"name": "dataset", "in": "path", "required": True, "schema": {"type": "string"},
                        "example": "population"}],
        "responses": {"200": {"description": "Dimensions (codes, labels, definitions), measures, snapshot years, "
                                             "disclosure rules and the data version.",
                              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DatasetMetadata"}}}},
                      "304": {"description": "Not modified."},
                      "404": _error("Unknown dataset."),
                      "503": _error("Engine unavailable.")}}}


CUBE_QUERY_SCHEMA = {
    "type": "object",
    "description": "A Cube query: members are written view.member; filters support equals and notEquals.",
    "properties": {
        "measures": {"type": "array", "items": {"type": "string"}},
        "dimensions": {"type": "array", "items": {"type": "string"}},
        "filters": {"type": "array", "items": {"type": "object", "properties": {
            "member": {"type": "string"}, "operator": {"type": "string", "enum": ["equals", "notEquals"]},
            "values": {"type": "array", "items": {"type": "string"}}}}},
        "order": {"description": "{member: 'asc'|'desc'} or a list of [member, direction] pairs", "oneOf": [
            {"type": "object", "additionalProperties": {"type": "string", "enum": ["asc", "desc"]}},
            {"type": "array", "items": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}}]},
        "limit": {"type": "integer", "minimum": 1},
        "offset": {"type": "integer", "minimum": 0},
        "total": {"type": "boolean"},
    },
    "example": {"measures": ["population.people"], "dimensions": ["population.race"],
                "filters": [{"member": "population.snapshot_year", "operator": "equals", "values": ["2024"]}]},
}


def _cube_error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CubeError"}}}}


CUBE_ERRORS = {
    "400": _cube_error("The query is not valid JSON or names an unknown member, operator or code."),
    "404": _cube_error("The query names an unknown view."),
    "422": _cube_error("R13: governing/leading charge dimension without a single offender status."),
    "503": _cube_error("Engine unavailable or a query limit was hit."),
}
QUERY_PARAMS = [
    {"name": "query", "in": "query", "required": True, "description": "A Cube query as JSON text.",
     "schema": {"type": "string"},
     "example": '{"measures":["population.people"],"dimensions":["population.race"]}'},
    {"name": "queryType", "in": "query", "required": False,
     "description": "multi (what Cube's clients send): the answer is {queryType, results: [...], pivotQuery}.",
     "schema": {"type": "string", "enum": ["multi"]}},
]
QUERY_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["query"], "properties": {
        "query": CUBE_QUERY_SCHEMA,
        "queryType": {"type": "string", "enum": ["multi"]}}}}}}


def _json_ok(description: str, ref: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _cube_paths() -> dict[str, Any]:
    def pair(op: str, summary: str, ok: dict[str, Any]) -> dict[str, Any]:
        return {
            "get": {"tags": ["cube-compatible"], "operationId": op, "summary": summary + " (GET ?query=JSON)",
                    "parameters": QUERY_PARAMS, "responses": {"200": ok, **CUBE_ERRORS}},
            "post": {"tags": ["cube-compatible"], "operationId": op + "Post", "summary": summary + " (POST)",
                     "requestBody": QUERY_BODY, "responses": {"200": ok, **CUBE_ERRORS}},
        }

    load_ok = {"description": "Cube's load response (with queryType=multi: {queryType, results, pivotQuery}); "
                              "each row also carries <view>.suppressed.",
               "content": {"application/json": {"schema": {"oneOf": [
                   {"$ref": "#/components/schemas/CubeLoadResult"}, {"$ref": "#/components/schemas/CubeMultiResult"}]}}}}
    return {
        "/cubejs-api/v1/load": pair("cubeLoad", "Cube-compatible load", load_ok),
        "/cubejs-api/v1/dry-run": pair("cubeDryRun", "Cube-compatible dry run: the normalised query, not run",
                                       _json_ok("The normalised queries.", "CubeDryRun")),
        "/cubejs-api/v1/sql": pair("cubeSql", "The SQL-surface statement asking the same question",
                                   _json_ok("{sql: {sql: [text, params]}}", "CubeSql")),
        "/cubejs-api/v1/meta": {"get": {"tags": ["cube-compatible"], "operationId": "cubeMeta",
                                        "summary": "Cube-compatible meta: the public views and members",
                                        "responses": {"200": _json_ok("Cube's meta.", "CubeMeta")}}},
    }


_OBJ = {"type": "object"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
COMPONENTS: dict[str, Any] = {
    "Health": {"type": "object", "required": ["status", "engine"], "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]}, "engine": {"type": "string", "enum": ["up", "down"]},
        "data_version": _NSTR}},
    "DatasetSummary": {"type": "object", "required": ["name", "title", "dimensions", "measures", "links"], "properties": {
        "name": _STR, "title": _STR, "description": _NSTR,
        "dimensions": {"type": "array", "items": _STR}, "measures": {"type": "array", "items": _STR},
        "links": {"type": "object", "properties": {"data": _STR, "metadata": _STR}}}},
    "DatasetList": {"type": "object", "required": ["datasets"], "properties": {
        "datasets": {"type": "array", "items": {"$ref": "#/components/schemas/DatasetSummary"}},
        "data_version": _NSTR, "loaded_at": _NSTR,
        "links": {"type": "object", "properties": {"openapi": _STR, "docs": _STR}}}},
    "Code": {"type": "object", "required": ["code", "label"], "properties": {"code": _STR, "label": _STR}},
    "DimensionInfo": {"type": "object", "required": ["name", "title", "codes", "available_when"], "properties": {
        "name": _STR, "title": _STR, "description": _NSTR, "type": _STR, "filter": _STR,
        "codes": {"type": "array", "items": {"$ref": "#/components/schemas/Code"}},
        "requires": {"type": "object", "description": "R13: the dimension this one needs",
                     "properties": {"dimension": _STR, "single_filter": {"type": "boolean"}, "rule": _STR}},
        "available_when": {
            "description": "null: always available. Else R13 as data: the dimension may be grouped by or filtered "
                           "on only in a question matching one entry, i.e. grouping by every one of its "
                           "`dimensions` and filtering each of its `filters` to exactly those codes.",
            "anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/components/schemas/Availability"}}]}}},
    "Availability": {"type": "object", "required": ["dimensions", "filters"], "properties": {
        "dimensions": {"type": "array", "items": _STR},
        "filters": {"type": "object", "additionalProperties": {"type": "array", "items": _STR}}}},
    "MeasureInfo": {"type": "object", "required": ["name", "title", "withheld_alone"], "properties": {
        "name": _STR, "title": _STR, "description": _NSTR, "type": _STR, "format": _NSTR,
        "disclosure_kind": _NSTR, "published_with": _NSTR,
        "withheld_alone": {"type": "boolean", "description": "true: may be null in a published row, withheld on "
                                                             "its own (docs/recidivism.md RC8, RC12)"},
        "available": {"type": "boolean", "description": "false: this data version cannot answer it (absent: true)"},
        "unavailable_because": _STR}},
    "YearDimension": {"type": "object", "required": ["name", "legend"], "properties": {
        "name": {"type": "string", "description": "the dimension holding the year (snapshot or release cohort)"},
        "legend": {"type": "string", "description": "how to title a control choosing years"}}},
    "Counting": {"type": "object", "required": ["records", "distinct_people", "rule"], "properties": {
        "records": _STR, "distinct_people": _STR, "rule": _STR}},
    "DatasetMetadata": {"type": "object", "required": ["dataset", "dimensions", "measures"], "properties": {
        "dataset": _STR, "title": _STR, "description": _NSTR, "data_version": _NSTR, "loaded_at": _NSTR,
        "snapshot_years": {"type": "array", "items": _STR}, "snapshot_date": _NSTR,
        "year_dimension": {"anyOf": [{"type": "null"}, {"$ref": "#/components/schemas/YearDimension"}]},
        "dimensions": {"type": "array", "items": {"$ref": "#/components/schemas/DimensionInfo"}},
        "measures": {"type": "array", "items": {"$ref": "#/components/schemas/MeasureInfo"}},
        "default_measures": {"type": "array", "items": _STR},
        "counting": {"$ref": "#/components/schemas/Counting"},
        "unavailable_measures": {"type": "array", "items": _STR},
        "disclosure": {"type": "object", "description": "the disclosure rules as text (k, method, suppression, "
                                                        "perturbation, ...): a note to show as it is",
                       "properties": {"k": {"type": "integer"}}, "additionalProperties": True},
        "parameters": {"type": "object", "description": "each URL parameter and how to write it",
                       "additionalProperties": _STR},
        "reserved_parameters": {"type": "array", "items": _STR}, "formats": {"type": "array", "items": _STR},
        "limits": {"type": "object", "properties": {
            k: {"type": "integer"} for k in ("max_dimensions", "max_page_size", "max_filter_values", "max_offset")}},
        "links": {"type": "object", "properties": {"data": _STR, "datasets": _STR}},
        # the release cohort (docs/recidivism.md)
        "rules": _STR, "cohort": _STR, "release_years": {"type": "array", "items": _STR}, "windows": _STR,
        "event_rule": _STR}},
    "AnswerQuery": {"type": "object", "description": "the question as answered (canonical)", "properties": {
        "dimensions": {"type": "array", "items": _STR}, "measures": {"type": "array", "items": _STR},
        "filters": {"type": "object", "additionalProperties": {"type": "array", "items": _STR}},
        "order": {"type": "array", "items": _STR}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
        "format": _STR}},
    "AnswerLinks": {"type": "object", "properties": {
        "self": _STR, "first": _STR, "next": _NSTR, "prev": _NSTR, "metadata": _STR,
        "json": {"type": "string", "description": "this page as JSON"},
        "csv": {"type": "string", "description": "this page as CSV (header and rows)"},
        "csv_with_context": {"type": "string", "description": "this page as CSV opening with '#' context lines "
                                                              "(csv_context=comments)"}}},
    "AnswerMeta": {"type": "object", "description": "canonical_url, dataset, data_version, loaded_at, query, "
                   "row_count, total_row_count, suppressed_count, disclosure, links", "properties": {
                       "canonical_url": _STR, "dataset": _STR, "data_version": _NSTR, "loaded_at": _NSTR,
                       "query": {"$ref": "#/components/schemas/AnswerQuery"},
                       "row_count": {"type": "integer"}, "total_row_count": {"type": "integer"},
                       "suppressed_count": {"type": "integer"},
                       "disclosure": {"type": "object", "properties": {"k": {"type": "integer"}},
                                      "additionalProperties": True},
                       "links": {"$ref": "#/components/schemas/AnswerLinks"}}},
    "CubeLoadResult": {"type": "object", "required": ["query", "data", "annotation"], "properties": {
        "query": _OBJ, "data": {"type": "array", "items": _OBJ}, "annotation": _OBJ,
        "lastRefreshTime": _NSTR, "dataSource": _STR, "dbType": _STR, "total": {"type": "integer"}}},
    "CubeMultiResult": {"type": "object", "required": ["queryType", "results"], "properties": {
        "queryType": _STR, "results": {"type": "array", "items": {"$ref": "#/components/schemas/CubeLoadResult"}},
        "pivotQuery": _OBJ, "slowQuery": {"type": "boolean"}}},
    "CubeDryRun": {"type": "object", "required": ["queryType", "normalizedQueries"], "properties": {
        "queryType": _STR, "normalizedQueries": {"type": "array", "items": _OBJ}, "pivotQuery": _OBJ,
        "queryOrder": {"type": "array", "items": _OBJ}}},
    "CubeSql": {"type": "object", "required": ["sql"], "properties": {"sql": {"type": "object", "properties": {
        "sql": {"type": "array", "items": {}, "description": "[statement, parameters]"}, "dataSource": _STR}}}},
    "CubeMeta": {"type": "object", "required": ["cubes"], "properties": {"cubes": {"type": "array", "items": _OBJ}}},
    "CubeError": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string", "description": "the message (Cube's clients read a string)"},
        "code": _STR, "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "parameter": _NSTR, "status": {"type": "integer"},
        "allowed": {"anyOf": [{"type": "array", "items": {}}, {"type": "string"}, {"type": "null"}]}}},
}


def _operations_paths() -> dict[str, Any]:
    return {
        "/healthz": {"get": {"tags": ["operations"], "operationId": "getHealth", "summary": "Liveness and data version",
                             "responses": {"200": _json_ok("The engine answers.", "Health"),
                                           "503": _json_ok("The engine is down.", "Health")}}},
        "/api/v1": {"get": {"tags": ["datasets"], "operationId": "listDatasets", "summary": "List the datasets",
                            "responses": {"200": _json_ok("Every dataset with its dimensions, measures and links.",
                                                          "DatasetList")}}},
    }


def install_openapi(app: FastAPI, service: Service) -> None:
    built: dict[str, Any] = {}

    def custom() -> dict[str, Any]:
        # Snapshot years come from the published data, so the schema follows the data version.
        try:
            version = service.version()
        except Exception:  # noqa: BLE001 - no data or no engine: describe without data-driven enums
            version = None
        key = version.version_id if version else "-"
        if key in built:
            return built[key]
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        schemas.update(COMPONENTS)
        paths = schema.setdefault("paths", {})
        # Every operation is described here with its response schema and a user-facing operationId;
        # FastAPI's generated entries (empty schemas, names like list_datasets_api_v1_get) are replaced.
        paths.update(_operations_paths())
        paths["/api/v1/{dataset}/metadata"] = _metadata_path()
        paths.update(_cube_paths())
        for ds in service.catalog.values():
            extra = service.extra_codes(ds, version) if version else {}
            paths[f"/api/v1/{ds.name}"] = _dataset_path(ds, service.settings, extra)
            paths[f"/api/v1/{ds.name}.csv"] = _csv_path(paths[f"/api/v1/{ds.name}"])
        built.clear()
        built[key] = schema
        app.openapi_schema = schema
        return schema

    app.openapi = custom  # type: ignore[method-assign]
    install_docs(app)


DOCS_ASSETS = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    """Swagger UI at ``/docs`` from the swagger-ui-bundle-v2 package's files, served by the app itself,
    so the page renders with no network beyond this server (no CDN)."""
    import swagger_ui_bundle

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    async def docs(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
                                   swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
                                   swagger_ui_parameters={"displayOperationId": True})

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False, name="docs")

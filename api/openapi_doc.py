"""OpenAPI for the URL API, generated from the catalog (one path per dataset, enums of codes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.service import Service

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["status", "code", "message"], "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "machine-readable error code"},
        "parameter": {"type": ["string", "null"], "description": "the parameter at fault"},
        "message": {"type": "string"},
        "allowed": {"description": "allowed values or form", "anyOf": [
            {"type": "array", "items": {}}, {"type": "string"}, {"type": "null"}]},
    }}},
    "example": {"error": {"status": 400, "code": "unknown_dimension", "parameter": "dimensions",
                          "message": "'colour' is not a dimension of population.",
                          "allowed": ["snapshot_year", "agency", "race"]}},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


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
        "operationId": f"query_{ds.name}",
        "summary": f"{ds.title}",
        "description": (ds.description + "\n\nCells with fewer than k people are suppressed (measures null, "
                        "suppressed=true); published values are perturbed slightly (see /metadata)."),
        "parameters": params,
        "responses": {
            "200": {"description": "Rows with codes, labels, measures and a suppressed flag.",
                    "headers": {"ETag": {"schema": {"type": "string"}}, "Cache-Control": {"schema": {"type": "string"}}},
                    "content": {
                        "application/json": {"schema": {"type": "object", "properties": {
                            "meta": {"type": "object", "description": "canonical_url, dataset, data_version, loaded_at, "
                                     "query, row_count, total_row_count, suppressed_count, disclosure, links"},
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


def _metadata_path() -> dict[str, Any]:
    return {"get": {
        "tags": ["datasets"], "operationId": "dataset_metadata", "summary": "Describe one dataset",
        "parameters": [{"name": "dataset", "in": "path", "required": True, "schema": {"type": "string"},
                        "example": "population"}],
        "responses": {"200": {"description": "Dimensions (codes, labels, definitions), measures, snapshot years, "
                                             "disclosure rules and the data version.",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
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
        "order": {"anyOf": [{"type": "object"}, {"type": "array"}]},
        "limit": {"type": "integer", "minimum": 1},
        "offset": {"type": "integer", "minimum": 0},
        "total": {"type": "boolean"},
    },
    "example": {"measures": ["population.people"], "dimensions": ["population.race"],
                "filters": [{"member": "population.snapshot_year", "operator": "equals", "values": ["2024"]}]},
}


def _cube_load_path() -> dict[str, Any]:
    responses = {
        "200": {"description": "Cube's load response; each row also carries <view>.suppressed.",
                "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "query": {"type": "object"}, "data": {"type": "array", "items": {"type": "object"}},
                    "annotation": {"type": "object"}}}}}},
        "400": _error("The query is not valid JSON or names an unknown member, operator or code."),
        "404": _error("The query names an unknown view."),
        "422": _error("R13: governing/leading charge dimension without a single offender status."),
        "503": _error("Engine unavailable or a query limit was hit."),
    }
    return {
        "get": {"tags": ["cube-compatible"], "operationId": "cube_load_get",
                "summary": "Cube-compatible load (GET ?query=JSON)",
                "parameters": [{"name": "query", "in": "query", "required": True,
                                "description": "A Cube query as JSON text.",
                                "schema": {"type": "string"},
                                "example": '{"measures":["population.people"],"dimensions":["population.race"]}'}],
                "responses": responses},
        "post": {"tags": ["cube-compatible"], "operationId": "cube_load_post",
                 "summary": "Cube-compatible load (POST {\"query\": ...})",
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["query"], "properties": {"query": CUBE_QUERY_SCHEMA}}}}},
                 "responses": responses},
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
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        paths = schema.setdefault("paths", {})
        paths["/api/v1/{dataset}/metadata"] = _metadata_path()
        paths["/cubejs-api/v1/load"] = _cube_load_path()
        for ds in service.catalog.values():
            extra = service.extra_codes(ds, version) if version else {}
            paths[f"/api/v1/{ds.name}"] = _dataset_path(ds, service.settings, extra)
        built.clear()
        built[key] = schema
        app.openapi_schema = schema
        return schema

    app.openapi = custom  # type: ignore[method-assign]

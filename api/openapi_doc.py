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


def _dataset_path(ds) -> dict[str, Any]:
    dims = list(ds.dimensions)
    meas = list(ds.measures)
    params: list[dict[str, Any]] = [
        {"name": "dimensions", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "Dimensions to group by, comma-separated. Allowed: " + ", ".join(dims),
         "schema": {"type": "array", "items": {"type": "string", "enum": dims}},
         "example": dims[:2]},
        {"name": "measures", "in": "query", "required": False, "style": "form", "explode": False,
         "description": f"Measures, comma-separated (default {ds.people_measure}). Allowed: " + ", ".join(meas),
         "schema": {"type": "array", "items": {"type": "string", "enum": meas}}, "example": [ds.people_measure]},
        {"name": "order", "in": "query", "required": False,
         "description": "Selected dimensions/measures, comma-separated; prefix '-' for descending.",
         "schema": {"type": "string"}, "example": f"-{ds.people_measure}"},
        {"name": "limit", "in": "query", "required": False, "description": "Page size.",
         "schema": {"type": "integer", "minimum": 1}, "example": 100},
        {"name": "offset", "in": "query", "required": False, "description": "Rows to skip.",
         "schema": {"type": "integer", "minimum": 0}, "example": 0},
        {"name": "format", "in": "query", "required": False, "description": "json (default) or csv; Accept works too.",
         "schema": {"type": "string", "enum": ["json", "csv"]}, "example": "json"},
    ]
    for d in ds.dimensions.values():
        schema: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        if d.codes:
            schema["items"]["enum"] = [c for c, _ in d.codes]
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


def install_openapi(app: FastAPI, service: Service) -> None:
    def custom() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        paths = schema.setdefault("paths", {})
        for ds in service.catalog.values():
            paths[f"/api/v1/{ds.name}"] = _dataset_path(ds)
        app.openapi_schema = schema
        return schema

    app.openapi = custom  # type: ignore[method-assign]

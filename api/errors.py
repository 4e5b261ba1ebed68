"""One error envelope for every failure the API reports.

``{"error": {"status", "code", "parameter", "message", "allowed"}}`` — the status, a
machine-readable code, the parameter at fault (or null), a sentence for people, and the
allowed values or form. Messages never carry a stack trace, SQL text or an identifier: the
handlers below turn anything unexpected into a generic 500 and log only its type.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from crosstrack.engine import EngineBusy, EngineError, EngineUnavailable, QueryLimitExceeded

log = logging.getLogger("crosstrack.api")

# Allowed-values lists longer than this are cut (the metadata endpoint has the full list).
MAX_ALLOWED_LISTED = 200


class ApiError(Exception):
    """A user-facing error; every field is safe to publish."""

    def __init__(self, status: int, code: str, message: str, *, parameter: str | None = None,
                 allowed: Sequence[Any] | str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter
        if isinstance(allowed, (list, tuple)):
            allowed = list(allowed)[:MAX_ALLOWED_LISTED]
        self.allowed = allowed
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "code": self.code, "parameter": self.parameter,
                          "message": self.message, "allowed": self.allowed}}


def error_response(err: ApiError) -> Response:
    headers = {"Cache-Control": "no-store", **err.headers}
    return Response(orjson.dumps(err.body()), status_code=err.status, media_type="application/json",
                    headers=headers)


def from_engine_error(err: Exception) -> ApiError:
    """Map engine failures to safe errors (the engine's own text is never shown)."""
    if isinstance(err, EngineBusy):  # the bounded queue is full: refuse now, never queue without end
        return ApiError(503, "engine_busy", "The statistics engine is busy right now; try again shortly.",
                        headers={"Retry-After": str(err.retry_after_s)})
    if isinstance(err, EngineUnavailable):
        return ApiError(503, "engine_unavailable",
                        "The statistics engine is unavailable right now; try again shortly.",
                        headers={"Retry-After": "5"})
    if isinstance(err, QueryLimitExceeded):
        # The engine's message names only which limit was hit (time, memory, rows).
        return ApiError(503, "query_limit_exceeded",
                        f"This question is too expensive to answer: {err}. "
                        "Ask for fewer dimensions or add filters.",
                        allowed="fewer dimensions, narrower filters or a single snapshot_year",
                        headers={"Retry-After": "1"})
    if isinstance(err, EngineError):
        log.error("engine error (code %s)", err.code)
    return ApiError(500, "internal_error", "The server could not answer this request.")


def _allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"}) if hasattr(route, "matches") else (None, None)
        if match in (Match.FULL, Match.PARTIAL) and getattr(route, "methods", None):
            methods |= set(route.methods)
    if "GET" in methods:
        methods.add("HEAD")
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


_STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 406: "not_acceptable", 400: "bad_request"}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> Response:
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(err.status_code, "http_error")
        message = {404: "There is nothing at this address; GET /api/v1 lists the datasets.",
                   405: "This address does not accept that method."}.get(err.status_code, "The request could not be served.")
        headers = dict(err.headers or {})
        allowed: Any = "GET /api/v1" if err.status_code == 404 else None
        if err.status_code == 405:
            # RFC 9110 15.5.6: a 405 lists the methods the address accepts — of every route at
            # this path (Starlette names only the first route that matched the path).
            methods = _allowed_methods(request) or [m.strip() for m in headers.get("Allow", "").split(",") if m.strip()]
            headers["Allow"] = ", ".join(methods)
            allowed = methods
        return error_response(ApiError(err.status_code, code, message, allowed=allowed, headers=headers))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, err: RequestValidationError) -> Response:
        first = err.errors()[0] if err.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "body", "path")]
        return error_response(ApiError(400, "bad_parameter", str(first.get("msg", "invalid request"))[:200],
                                       parameter=".".join(loc) or None))

    @app.exception_handler(EngineUnavailable)
    @app.exception_handler(QueryLimitExceeded)
    @app.exception_handler(EngineError)
    async def _engine(_: Request, err: Exception) -> Response:
        return error_response(from_engine_error(err))

    try:
        from crosstrack.cube import QueryError
    except ImportError:  # pragma: no cover - the semantic layer is part of every build
        QueryError = None  # type: ignore[assignment]
    if QueryError is not None:
        @app.exception_handler(QueryError)
        async def _query_error(_: Request, err: Exception) -> Response:
            # The semantic layer's messages name members and allowed values, never SQL.
            member = getattr(err, "member", None)
            return error_response(ApiError(400, getattr(err, "code", "invalid_query") or "invalid_query",
                                           str(getattr(err, "message", "invalid query"))[:300],
                                           parameter=member.split(".")[-1] if isinstance(member, str) else None,
                                           allowed=[str(a).split(".")[-1] for a in getattr(err, "allowed", [])]))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception) -> Response:
        # Only the exception type is logged: its text may hold SQL or values.
        log.error("unexpected %s while serving a request", type(err).__name__)
        return error_response(ApiError(500, "internal_error", "The server could not answer this request."))

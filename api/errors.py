"""One error envelope for every failure the API reports: a ``crosstrack.problem.Problem``.

``{"error": {"status", "code", "loc", "parameter", "message", "allowed"}}`` — the HTTP status,
the problem's dotted code (``param.unknown_value``), its ``loc`` path (``["query", "race"]``),
the parameter at fault (or null; kept from before ``loc`` for clients that read it), a sentence
for people, and the allowed values or form. Messages never carry a stack trace, SQL text or an
identifier: the handlers below turn anything unexpected into a generic 500 and log only its type.

Every known failure becomes an :class:`ApiError` in one place, :func:`as_api_error` (engine
failures in :func:`from_engine_error`); the URL API, Cube's endpoint and the SQL surface all
render what it returns.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Sequence

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from crosstrack.cube.errors import QueryError
from crosstrack.engine import EngineBusy, EngineError, EngineUnavailable, QueryLimitExceeded
from crosstrack.problem import LocPart, Problem, ProblemError

log = logging.getLogger("crosstrack.api")

# Where a parameter name points: these roots name a part of the request; the URL API's one path
# parameter and the header it negotiates on are named as such; any other name is a URL query
# parameter (``race`` -> ``("query", "race")``).
_LOC_ROOTS = ("query", "body", "headers", "path", "url")
_NAMED = {"dataset": ("path", "dataset"), "Accept": ("headers", "accept")}


def parameter_loc(parameter: str | None) -> tuple[LocPart, ...]:
    """``race`` -> ``("query", "race")``; ``query.measures`` -> ``("query", "measures")``;
    ``dataset`` -> ``("path", "dataset")``."""
    if not parameter:
        return ()
    if parameter in _NAMED:
        return _NAMED[parameter]
    parts = tuple(parameter.split("."))
    return parts if parts[0] in _LOC_ROOTS else ("query", *parts)


class ApiError(ProblemError):
    """A user-facing problem and the HTTP status that answers it; every field is safe to publish."""

    def __init__(self, status: int, code: str, message: str, *, parameter: str | None = None,
                 allowed: Sequence[Any] | str | None = None, headers: dict[str, str] | None = None,
                 loc: Iterable[LocPart] | None = None):
        super().__init__([Problem(code, message, parameter_loc(parameter) if loc is None else loc, allowed)])
        self.status = status
        self.parameter = parameter
        self.headers = headers or {}

    @classmethod
    def of(cls, status: int, problem: Problem, *, parameter: str | None = None,
           headers: dict[str, str] | None = None) -> ApiError:
        return cls(status, problem.code, problem.message, parameter=parameter, allowed=problem.allowed,
                   headers=headers, loc=problem.loc)

    @property
    def allowed(self) -> list[Any] | str | None:  # type: ignore[override]
        allowed = self.problem.allowed
        return list(allowed) if isinstance(allowed, tuple) else allowed

    def body(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "parameter": self.parameter, **self.problem.as_dict()}}


def error_response(err: ApiError) -> Response:
    headers = {"Cache-Control": "no-store", **err.headers}
    return Response(orjson.dumps(err.body()), status_code=err.status, media_type="application/json",
                    headers=headers)


def from_engine_error(err: Exception) -> ApiError:
    """Map engine failures to safe errors (the engine's own text is never shown). The one place
    an engine failure gets its code: every surface renders what this returns."""
    if isinstance(err, EngineBusy):  # the bounded queue is full: refuse now, never queue without end
        return ApiError(503, "engine.busy", "The statistics engine is busy right now; try again shortly.",
                        headers={"Retry-After": str(err.retry_after_s)})
    if isinstance(err, EngineUnavailable):
        return ApiError(503, "engine.unavailable",
                        "The statistics engine is unavailable right now; try again shortly.",
                        headers={"Retry-After": "5"})
    if isinstance(err, QueryLimitExceeded):
        # The engine's message names only which limit was hit (time, memory, rows).
        return ApiError(503, "engine.query_limit",
                        f"This question is too expensive to answer: {err}. "
                        "Ask for fewer dimensions or add filters.",
                        allowed="fewer dimensions, narrower filters or a single snapshot_year",
                        headers={"Retry-After": "1"})
    if isinstance(err, EngineError):
        log.error("engine error (code %s)", err.code)
    return ApiError(500, "server.internal", "The server could not answer this request.")


def as_api_error(err: Exception, *, short_members: bool = True) -> ApiError | None:
    """The API's problem for a known failure, or None for anything unexpected. A query error
    from the semantic layer names members and allowed values, never SQL; the URL API names
    members as parameters (``race``), Cube's endpoint as ``view.member`` (``short_members=False``)."""
    if isinstance(err, ApiError):
        return err
    if isinstance(err, (EngineError, EngineUnavailable, QueryLimitExceeded)):
        return from_engine_error(err)
    if isinstance(err, QueryError):
        member = err.member.split(".")[-1] if short_members and err.member else err.member
        allowed = [str(a).split(".")[-1] if short_members else str(a) for a in err.allowed]
        return ApiError(400, err.code, err.message[:300], parameter=member, allowed=allowed,
                        loc=("query", member) if member else ("query",))
    return None


def _allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match in (Match.FULL, Match.PARTIAL) and getattr(route, "methods", None):
            methods |= set(route.methods)
    if "GET" in methods:
        methods.add("HEAD")
    order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return sorted(methods, key=lambda m: order.index(m) if m in order else len(order))


_STATUS_CODES = {404: "http.not_found", 405: "http.method_not_allowed", 406: "http.not_acceptable",
                 400: "http.bad_request"}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, err: ApiError) -> Response:
        return error_response(err)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(err.status_code, "http.error")
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
        loc = tuple(first.get("loc", ()))  # pydantic's own loc: ("query", "limit")
        name = [str(p) for p in loc if p not in ("query", "body", "path")]
        return error_response(ApiError(400, "param.invalid", str(first.get("msg", "invalid request"))[:200],
                                       parameter=".".join(name) or None, loc=loc))

    @app.exception_handler(EngineUnavailable)
    @app.exception_handler(QueryLimitExceeded)
    @app.exception_handler(EngineError)
    async def _engine(_: Request, err: Exception) -> Response:
        return error_response(from_engine_error(err))

    @app.exception_handler(QueryError)
    async def _query_error(_: Request, err: QueryError) -> Response:
        mapped = as_api_error(err)
        assert mapped is not None
        return error_response(mapped)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, err: Exception) -> Response:
        # Only the exception type is logged: its text may hold SQL or values.
        log.error("unexpected %s while serving a request", type(err).__name__)
        return error_response(ApiError(500, "server.internal", "The server could not answer this request."))

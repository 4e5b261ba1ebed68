"""Problems on the SQL surface: every ErrorResponse carries one ``crosstrack.problem.Problem``.

The SQLSTATE is the problem's (``SQLSTATES``), else its family's (``FAMILY_SQLSTATES``), so a
driver sees a real Postgres class: 42601 for a syntax error, 22023 for a bad value, 57P03 when
the engine is down. The problem itself rides in the fields psql and the drivers show:
``detail`` is ``error[<code>] <loc>`` (``error[param.unknown_value] query.race``), ``hint``
the allowed values, and ``column_name`` the parameter at fault when there is one.
"""

from __future__ import annotations

import struct
from typing import Any, Iterable, Sequence

from crosstrack.api.errors import ApiError, as_api_error
from crosstrack.problem import LocPart, Problem, ProblemError, path_text

SQLSTATES = {
    "sql.syntax_error": "42601", "sql.unsupported_statement": "0A000", "sql.unsupported_feature": "0A000",
    "sql.read_only": "25006", "sql.not_allowed": "42501", "sql.protected_setting": "42501",
    "sql.unknown_relation": "42P01", "sql.unknown_column": "42703", "sql.unknown_setting": "42704",
    "sql.unknown_function": "42883", "sql.grouping_error": "42803", "sql.invalid_column_reference": "42P10",
    "sql.duplicate_alias": "42712", "sql.invalid_value": "22023", "sql.invalid_text": "22P02",
    "sql.invalid_limit": "2201W", "sql.invalid_offset": "2201X", "sql.transaction_aborted": "25P02", "sql.unknown_statement": "26000",
    "sql.unknown_portal": "34000", "sql.protocol_violation": "08P01", "sql.auth_refused": "28000",
    "sql.auth_failed": "28P01", "sql.too_many_connections": "53300", "sql.rate_limited": "53400",
    "http.rate_limited": "53400", "data.unknown_dataset": "42P01", "data.not_published": "57P03",
    "engine.unavailable": "57P03", "engine.query_limit": "54000", "server.internal": "XX000",
}
# invalid_parameter_value for what a question asked; internal_error for what failed on our side
FAMILY_SQLSTATES = {"param": "22023", "query": "22023", "data": "22023", "http": "22023", "sql": "42000",
                    "engine": "XX000", "server": "XX000"}


def sqlstate_for(code: str) -> str:
    return SQLSTATES.get(code) or FAMILY_SQLSTATES[code.split(".", 1)[0]]


class PgError(ProblemError):
    """A problem to send as an ErrorResponse. ``hint`` replaces the allowed-values hint where a
    sentence says it better; ``severity`` FATAL ends the connection (startup refusals)."""

    def __init__(self, code: str, message: str, *, loc: Iterable[LocPart] = ("sql",),
                 allowed: Sequence[Any] | str | None = None, hint: str | None = None, severity: str = "ERROR",
                 parameter: str | None = None):
        super().__init__([Problem(code, message, loc, allowed)])
        self.sqlstate = sqlstate_for(code)
        self.hint = hint if hint is not None else _allowed_hint(self.problem.allowed)
        self.severity = severity
        self.parameter = parameter

    @classmethod
    def of(cls, problem: Problem, *, parameter: str | None = None) -> PgError:
        return cls(problem.code, problem.message, loc=problem.loc, allowed=problem.allowed, parameter=parameter)

    @property
    def detail(self) -> str:
        path = path_text(self.problem.loc)
        return f"error[{self.problem.code}]" + (f" {path}" if path else "")

    def fields(self) -> bytes:
        """The ErrorResponse body: severity, SQLSTATE, message, detail, hint, column name."""
        out = [(b"S", self.severity), (b"V", self.severity), (b"C", self.sqlstate), (b"M", self.message),
               (b"D", self.detail)]
        if self.hint:
            out.append((b"H", self.hint))
        if self.parameter:
            out.append((b"c", self.parameter))
        return b"".join(k + v.encode("utf-8") + b"\x00" for k, v in out) + b"\x00"

    def message_bytes(self) -> bytes:
        body = self.fields()
        return b"E" + struct.pack("!i", len(body) + 4) + body


def _allowed_hint(allowed: tuple[Any, ...] | str | None) -> str | None:
    if not allowed:
        return None
    return "allowed: " + (", ".join(str(a) for a in allowed) if isinstance(allowed, tuple) else str(allowed))


def from_api_error(err: ApiError) -> PgError:
    """The URL API's problem, unchanged, as a Postgres error (the SQL surface asks the URL API's
    questions, so its parameter is the column the statement named)."""
    return PgError.of(err.problem, parameter=err.parameter)


def known_error(err: Exception) -> PgError | None:
    """Any known failure (API, query or engine error) as a Postgres error, through the API's one
    mapping (``api.errors.as_api_error``); None for anything unexpected."""
    if isinstance(err, PgError):
        return err
    mapped = as_api_error(err)
    return from_api_error(mapped) if mapped is not None else None

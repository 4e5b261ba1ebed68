"""Errors raised by the semantic layer, as ``crosstrack.problem`` problems: model errors point at
the file, line, column and key path, query errors at the query field and member."""

from __future__ import annotations

from typing import Any, Iterable

from crosstrack.problem import LocPart, Problem, ProblemError


class Diagnostic(Problem):
    """One model problem. ``loc`` is ``(file, line, col, *keys)`` (``keys`` the path into the
    YAML document, list positions as numbers: ``("cubes", 0, "measures", 3, "sql")``); ``path``
    is the same place as people read it (``cubes[custody].measures[median_days].sql``) and is
    what the CLI line shows: ``file:line:col: error[model.unknown_key] path: message``."""

    def __init__(self, file: str, line: int, col: int, code: str, path: str, message: str,
                 keys: Iterable[LocPart] = ()):
        super().__init__(code, message, (file, line, col, *keys))
        object.__setattr__(self, "path", path)

    @property
    def file(self) -> str:
        return str(self.loc[0])

    @property
    def line(self) -> int:  # type: ignore[override]
        return int(self.loc[1])

    @property
    def col(self) -> int:
        return int(self.loc[2])

    def cli_line(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: error[{self.code}] {self.path}: {self.message}"


class ModelError(ProblemError):
    """The model could not be loaded; ``problems`` lists every problem found, not just the first
    (``diagnostics`` holds their CLI lines)."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(diagnostics)
        self.diagnostics = [d.cli_line() for d in diagnostics]
        self.items = list(diagnostics)

    def __str__(self) -> str:
        return "\n".join(self.diagnostics) or "invalid model"


class QueryError(ProblemError, ValueError):
    """A query asked for something the model does not offer.

    ``member`` names the offending member (``view.member``) or query key, ``allowed`` lists what
    would have been accepted there; the problem's ``code`` is ``query.<reason>`` (a bare reason
    such as ``unknown_member`` is put in the ``query`` family) and its ``loc`` is
    ``("query", member)``.
    """

    def __init__(self, message: str, member: str | None = None, allowed: list[Any] | None = None,
                 code: str = "query.invalid"):
        code = code if "." in code else f"query.{'invalid' if code == 'invalid_query' else code}"
        super().__init__([Problem(code, message, ("query", member) if member else ("query",), list(allowed or []))])
        self.member = member

    @property
    def allowed(self) -> list[Any]:  # type: ignore[override]
        return list(self.problem.allowed or [])

    def __str__(self) -> str:
        return self.message

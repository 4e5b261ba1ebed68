"""Errors raised by the semantic layer: model errors point at the file, query errors at the member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Diagnostic:
    """One model problem, rendered ``file:line:col: error[code] path: message``."""

    file: str
    line: int
    col: int
    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: error[{self.code}] {self.path}: {self.message}"


class ModelError(Exception):
    """The model could not be loaded; ``diagnostics`` lists every problem found, not just the first."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = [str(d) for d in diagnostics]
        self.items = list(diagnostics)
        super().__init__("\n".join(self.diagnostics) or "invalid model")


class QueryError(ValueError):
    """A query asked for something the model does not offer.

    ``member`` names the offending member (``view.member``) or query key, ``allowed`` lists what
    would have been accepted there, ``code`` is a stable machine-readable reason.
    """

    def __init__(self, message: str, member: str | None = None, allowed: list[Any] | None = None,
                 code: str = "invalid_query"):
        super().__init__(message)
        self.message = message
        self.member = member
        self.allowed = list(allowed or [])
        self.code = code

    def __str__(self) -> str:
        return self.message

"""One problem type for every error crosstrack reports, on every surface.

A :class:`Problem` is what went wrong, where, and what would have been accepted — pydantic's
``type``/``loc``/``msg`` triple plus the allowed values:

- ``code``: ``family.reason`` from one dotted namespace. The family says which input was at
  fault: ``model`` (a model file), ``extract`` (an agency extract), ``query`` (a Cube-style
  query), ``param`` (a URL API parameter), ``data`` (the published data: dataset, version),
  ``http`` (the request itself), ``sql`` (a statement on the SQL surface), ``engine`` (the
  statistics engine) and ``server`` (anything unexpected).
- ``loc``: a path into the input in pydantic's style — ``("models/custody.yml", 12, 5, "cubes",
  0, "measures")`` for a model key, ``("people.csv", 17, "date_of_birth")`` for an extract cell,
  ``("query", "race")`` for a URL parameter.
- ``message``: a sentence for people. Never a value from an extract, SQL text or a stack trace.
- ``allowed``: the values or form that would have been accepted there, or None.

Each surface renders the same problem: the CLI as a ``file:line: error[code] path: message``
line, the URL API as its JSON envelope, Cube's endpoint as ``{"error": message, ...}``, the SQL
surface as an ErrorResponse with a SQLSTATE and the code and loc in ``detail``. This module is
the lowest layer: it imports nothing from crosstrack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence, Union

LocPart = Union[str, int]
Loc = tuple[LocPart, ...]

FAMILIES = ("model", "extract", "query", "param", "data", "http", "sql", "engine", "server")

# Allowed-values lists longer than this are cut (the metadata endpoints have the full lists).
MAX_ALLOWED_LISTED = 200


def _allowed(value: Sequence[Any] | str | None) -> tuple[Any, ...] | str | None:
    if value is None or isinstance(value, str):
        return value
    return tuple(value)[:MAX_ALLOWED_LISTED]


@dataclass(frozen=True, init=False)
class Problem:
    """One error: a dotted ``code``, a ``loc`` path, a ``message`` and the ``allowed`` values."""

    code: str
    message: str
    loc: Loc
    allowed: tuple[Any, ...] | str | None

    def __init__(self, code: str, message: str, loc: Iterable[LocPart] = (),
                 allowed: Sequence[Any] | str | None = None):
        family, _, reason = code.partition(".")
        if family not in FAMILIES or not reason:
            raise ValueError(f"problem code {code!r} is not family.reason with a family of {', '.join(FAMILIES)}")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "message", message)
        object.__setattr__(self, "loc", tuple(loc))
        object.__setattr__(self, "allowed", _allowed(allowed))

    @property
    def family(self) -> str:
        return self.code.split(".", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        """The JSON form every HTTP surface embeds: ``code``, ``loc`` (a list), ``message``, ``allowed``."""
        allowed = list(self.allowed) if isinstance(self.allowed, tuple) else self.allowed
        return {"code": self.code, "loc": list(self.loc), "message": self.message, "allowed": allowed}

    # --- text renderings (CLI lines, the SQL surface's detail field) ---------------------------
    def where(self) -> tuple[str, str]:
        """``loc`` split into a position (``file:line:col``, or ``file:row``) and a path
        (``cubes[0].measures``): a leading name followed by numbers (a file and its line and
        column, or its row) is the position, the rest is the path."""
        parts = list(self.loc)
        position: list[str] = []
        if len(parts) > 1 and isinstance(parts[0], str) and isinstance(parts[1], int):
            position.append(parts.pop(0))
            while parts and isinstance(parts[0], int):
                position.append(str(parts.pop(0)))
        return ":".join(position), path_text(parts)

    def cli_line(self) -> str:
        """The CLI line: ``models/a.yml:12:5: error[model.unknown_key] cubes[0].measures: message``."""
        position, path = self.where()
        head = f"{position}: " if position else ""
        return f"{head}error[{self.code}] {path + ': ' if path else ''}{self.message}"

    def __str__(self) -> str:
        return self.cli_line()


def path_text(parts: Sequence[LocPart]) -> str:
    """``("cubes", 0, "measures")`` as ``cubes[0].measures``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += f".{p}" if out else str(p)
    return out


class ProblemError(Exception):
    """An exception carrying one or more problems (a model or an extract reports all it found)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(p.cli_line() for p in self.problems) or "invalid input")

    @property
    def problem(self) -> Problem:
        return self.problems[0]

    # The first problem's fields, for the surfaces that report one problem per answer.
    @property
    def code(self) -> str:
        return self.problem.code

    @property
    def message(self) -> str:
        return self.problem.message

    @property
    def loc(self) -> Loc:
        return self.problem.loc

    @property
    def allowed(self) -> tuple[Any, ...] | str | None:
        return self.problem.allowed

"""The question a SQL statement asks (the URL API's parameters), statement parameters ($1) bound
as literals, and the refusal every unsupported shape gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError

ALLOWED_SHAPE = (
    "allowed: SELECT <dimensions>, MEASURE(<measure>) [, suppressed] FROM <dataset> "
    "[WHERE <dimension> =, <>, IN, NOT IN, <, <=, >, >=, BETWEEN, LIKE <constant> combined with AND/OR/NOT] "
    "GROUP BY <the selected dimensions> [ORDER BY <selected columns>] [LIMIT n] [OFFSET n]"
)

def refuse(message: str, code: str = "sql.not_allowed", hint: str | None = ALLOWED_SHAPE) -> PgError:
    """A statement shape the surface does not answer (it could reach rows or undo protection)."""
    return PgError(code, message, hint=hint)



@dataclass(frozen=True)
class OutCol:
    name: str
    role: str  # "dimension" | "measure" | "suppressed"
    member: str


@dataclass
class Question:
    dataset: str
    dimensions: list[str]
    measures: list[str]
    filters: dict[str, list[str]]
    order: list[tuple[str, bool]] = field(default_factory=list)  # (member, descending)
    limit: int | None = None
    offset: int = 0
    output: list[OutCol] = field(default_factory=list)
    suppressed_filter: bool | None = None  # keep only rows whose suppressed flag equals this
    empty: bool = False  # the filters select no category at all
    values_only: bool = False  # SELECT DISTINCT <one dimension>: its published code list, no data

    def params(self, *, with_paging: bool = True) -> dict[str, str]:
        """The URL API's parameters for this question (one value per filtered dimension)."""
        p: dict[str, str] = {}
        if self.dimensions:
            p["dimensions"] = ",".join(self.dimensions)
        p["measures"] = ",".join(self.measures)
        for dim in sorted(self.filters):
            p[dim] = ",".join(self.filters[dim])
        if self.order:
            p["order"] = ",".join(("-" if desc else "") + m for m, desc in self.order)
        if with_paging and self.limit is not None:
            p["limit"] = str(self.limit)
        if with_paging and self.offset:
            p["offset"] = str(self.offset)
        return p

    def url(self) -> str:
        return f"/api/v1/{self.dataset}?" + urlencode(self.params(), safe=",")


# --- parameters --------------------------------------------------------------------------------
def bind_parameters(tree: exp.Expression, params: list[Any]) -> exp.Expression:
    """Replace $n with literal values in the tree (server-side binding; never text pasting)."""
    if not params:
        return tree

    def lit(v: Any) -> exp.Expression:
        if v is None:
            return exp.Null()
        if isinstance(v, bool):
            return exp.Boolean(this=v)
        if isinstance(v, (int, float)):
            return exp.Literal.number(v)
        return exp.Literal.string(str(v))

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Parameter):
            inner = node.this
            text = inner.name if isinstance(inner, exp.Expression) else str(inner)
            if text.isdigit():
                i = int(text) - 1
                if not 0 <= i < len(params):
                    raise PgError("sql.protocol_violation", f"there is no parameter ${i + 1}")
                return lit(params[i])
        return node

    return tree.transform(swap)


def parameter_count(tree: exp.Expression) -> int:
    n = 0
    for p in tree.find_all(exp.Parameter):
        inner = p.this
        text = inner.name if isinstance(inner, exp.Expression) else str(inner)
        if text.isdigit():
            n = max(n, int(text))
    return n

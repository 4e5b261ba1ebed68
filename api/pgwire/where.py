"""WHERE -> code lists: every predicate is evaluated against a dimension's published code list and
becomes an inclusion list of codes (``<>``, ``NOT``, ranges and ``LIKE`` included), so a question
has one canonical form however it is spelled (K3)."""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp

from crosstrack.api.pgwire.errors import PgError
from crosstrack.api.pgwire.question import Question, refuse
from crosstrack.api.pgwire.tables import SUPPRESSED, Table


def no_column(name: str, table: Table) -> PgError:
    """A column the dataset's table does not have: the problem names it (loc and column_name)
    and lists the table's columns as the allowed values."""
    return PgError("sql.unknown_column", f"column \"{name}\" does not exist in {table.name}",
                   loc=("sql", table.name, name[:63]), allowed=[c for c, _, _ in table.columns],
                   hint="columns: " + ", ".join(c for c, _, _ in table.columns), parameter=name[:63])


def read_where(cond: exp.Expression, table: Table, q: Question) -> None:
    sets: dict[str, set[str]] = {}
    for conj in _conjuncts(cond):
        flag = _suppressed_predicate(conj)
        if flag is not None:
            if q.suppressed_filter is not None and q.suppressed_filter != flag:
                q.empty = True
            q.suppressed_filter = flag
            continue
        dim, codes = predicate(conj, table)
        if dim is None:
            continue
        sets[dim] = sets[dim] & codes if dim in sets else codes
    for dim, codes in sets.items():
        d = table.dimensions[dim]
        if not codes:
            q.empty = True
        elif d.codes and codes >= set(d.codes):
            continue  # every category: the same question as no filter (K3)
        q.filters[dim] = [c for c in d.codes if c in codes] if d.codes else sorted(codes)


def predicate(node: exp.Expression, table: Table) -> tuple[str | None, set[str]]:
    """(dimension, the set of its codes the predicate keeps); (None, ...) for TRUE."""
    if isinstance(node, exp.Paren):
        return predicate(node.this, table)
    if isinstance(node, exp.Boolean):
        if node.this:
            return None, set()
        return _any_dim(table), set()
    if isinstance(node, exp.Not):
        dim, codes = predicate(node.this, table)
        if dim is None:
            return _any_dim(table), set()
        return dim, set(_all_codes(table, dim, "NOT")) - codes
    if isinstance(node, (exp.And, exp.Or)):
        ld, lc = predicate(node.left, table)
        rd, rc = predicate(node.right, table)
        if isinstance(node, exp.And):
            if ld is None:
                return rd, rc
            if rd is None:
                return ld, lc
            if ld == rd:
                return ld, lc & rc
            raise refuse("AND inside OR/NOT must combine conditions on the same dimension")
        if ld is None or rd is None:
            return None, set()
        if ld != rd:
            raise refuse("OR may only combine conditions on the same dimension (e.g. race = 'W' OR race = 'B')")
        return ld, lc | rc
    if isinstance(node, exp.In):
        if node.args.get("query") or node.args.get("unnest"):
            raise refuse("subqueries are not allowed in IN; list constants")
        dim = _dim(node.this, table)
        return dim, set().union(*(_match(table, dim, v, "=") for v in node.expressions))
    if isinstance(node, exp.Between):
        dim = _dim(node.this, table)
        return dim, _match(table, dim, node.args["low"], ">=") & _match(table, dim, node.args["high"], "<=")
    if isinstance(node, (exp.Like, exp.ILike)):
        dim = _dim(node.this, table)
        pat = _value(node.expression)
        rx = _like_regex(str(pat), isinstance(node, exp.ILike))
        values = _all_codes(table, dim, "LIKE")
        labels = table.dimensions[dim].labels
        return dim, {c for c in values if rx.fullmatch(c) or rx.fullmatch(labels.get(c, c))}
    if isinstance(node, exp.Is):
        dim = _dim(node.this, table)
        if isinstance(node.expression, exp.Null):
            return dim, set()  # dimensions are never NULL
        raise refuse("IS is only allowed as IS NULL / IS NOT NULL on dimensions")
    ops = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
    for cls, op in ops.items():
        if isinstance(node, cls):
            left, right = node.left, node.right
            if not isinstance(_strip_cast(left), exp.Column) and isinstance(_strip_cast(right), exp.Column):
                left, right = right, left
                op = {">": "<", "<": ">", ">=": "<=", "<=": ">="}.get(op, op)
            dim = _dim(left, table)
            return dim, _match(table, dim, right, op)
    raise refuse("WHERE may only compare dimensions with constants (=, <>, IN, NOT IN, <, <=, >, >=, "
                 "BETWEEN, LIKE, IS NULL) combined with AND, OR on one dimension, and NOT")


def _any_dim(table: Table) -> str:
    return next(iter(table.dimensions))


def _dim(node: exp.Expression, table: Table) -> str:
    node = _strip_cast(node)
    if not isinstance(node, exp.Column):
        raise refuse("WHERE conditions must have a dimension column on one side and constants on the other")
    name = node.name.lower()
    if name in table.measures:
        raise refuse(f"filtering on measure \"{name}\" is not allowed (it would reveal values around "
                     f"the threshold); filter on dimensions")
    if name == SUPPRESSED:
        raise refuse("suppressed may only be used as a top-level condition: suppressed = false, NOT suppressed")
    if name not in table.dimensions:
        raise no_column(node.name, table)
    return name


def _all_codes(table: Table, dim: str, what: str) -> tuple[str, ...]:
    codes = table.dimensions[dim].codes
    if not codes:
        raise refuse(f"{what} is not available on \"{dim}\", which has no published code list; use = or IN")
    return codes


def _value(node: exp.Expression) -> Any:
    node = _strip_cast(node)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -float(node.this.this)
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else (int(node.this) if re.fullmatch(r"-?\d+", node.this) else float(node.this))
    if isinstance(node, exp.Boolean):
        return node.this
    if isinstance(node, exp.Null):
        return None
    raise refuse("WHERE conditions compare dimensions with constants only (no expressions or columns)")


def _match(table: Table, dim: str, node: exp.Expression, op: str) -> set[str]:
    d = table.dimensions[dim]
    value = _value(node)
    if value is None:
        return set()  # comparison with NULL is never true
    if not d.codes:
        if op != "=":
            raise refuse(f"only = and IN are available on \"{dim}\", which has no published code list")
        return {str(value)}
    numeric = d.oid != 25
    if op in ("=", "<>"):
        hit = _code_of(d, value)
        return {hit} if op == "=" else set(d.codes) - {hit}
    key = (lambda c: float(c)) if numeric else (lambda c: c)
    try:
        v = float(value) if numeric else str(value)
    except ValueError:
        raise PgError("sql.invalid_text", f"invalid value for {dim}: {str(value)[:40]!r}",
                      hint="allowed: " + ", ".join(d.codes)) from None
    cmp = {">": lambda a: a > v, ">=": lambda a: a >= v, "<": lambda a: a < v, "<=": lambda a: a <= v}[op]
    return {c for c in d.codes if cmp(key(c))}


def _code_of(d, value: Any) -> str:
    text = str(value)
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    if text in d.codes:
        return text
    for code, label in d.labels.items():
        if label == text:
            return code
    lowered = {c.lower(): c for c in d.codes} | {lab.lower(): c for c, lab in d.labels.items()}
    if text.lower() in lowered:
        return lowered[text.lower()]
    raise PgError("sql.invalid_value", f"{text[:40]!r} is not a value of {d.name}",
                  hint=f"allowed values of {d.name}: " + ", ".join(d.codes))


def _strip_cast(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Cast, exp.Paren)):
        node = node.this
    return node


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    node = node.this if isinstance(node, exp.Paren) and isinstance(node.this, exp.And) else node
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _suppressed_predicate(node: exp.Expression) -> bool | None:
    """suppressed / NOT suppressed / suppressed = true|false / IS [NOT] TRUE|FALSE: the flag kept."""
    negate = False
    while isinstance(node, (exp.Not, exp.Paren)):
        if isinstance(node, exp.Not):
            negate = not negate
        node = node.this
    value: bool | None = None
    if isinstance(node, exp.Column) and node.name.lower() == SUPPRESSED:
        value = True
    elif isinstance(node, (exp.EQ, exp.NEQ, exp.Is)) and isinstance(node.left, exp.Column) \
            and node.left.name.lower() == SUPPRESSED and isinstance(node.right, exp.Boolean):
        value = bool(node.right.this) if not isinstance(node, exp.NEQ) else not node.right.this
    if value is None:
        return None
    return (not value) if negate else value


def _like_regex(pattern: str, ci: bool) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL if ci else re.DOTALL)


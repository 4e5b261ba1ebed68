"""Plan filters as sqlglot conditions. Values enter only as literals; nothing is validated here
(the planner did): an operator a plan cannot hold is a KeyError, not a user error."""

from __future__ import annotations

from typing import Callable

from crosstrack.cube.members import lit
from crosstrack.cube.plan import And, Condition, Filter, MemberRef
from sqlglot import exp

ExprOf = Callable[[MemberRef], exp.Expression]
_CMP = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE, "beforeDate": exp.LT,
        "beforeOrOnDate": exp.LTE, "afterDate": exp.GT, "afterOrOnDate": exp.GTE}
_LIKE = ("contains", "notContains", "startsWith", "notStartsWith", "endsWith", "notEndsWith")


def time_lit(v: str, end: bool) -> exp.Expression:
    """A date or date-time as a UTC DateTime64; a bare date is its day's first (or, as an end, last) millisecond."""
    text = v.replace("T", " ")
    if len(text) == 10:
        text += " 23:59:59.999" if end else " 00:00:00.000"
    return exp.func("toDateTime64", exp.Literal.string(text), exp.Literal.number(3), exp.Literal.string("UTC"))


def render_filter(f: Filter, expr_of: ExprOf) -> exp.Expression:
    """``expr_of(member)``: the expression a member stands for where the condition is used."""
    if not isinstance(f, Condition):
        parts = [render_filter(x, expr_of) for x in f.parts]
        if not parts:
            return exp.true()
        return exp.Paren(this=(exp.and_ if isinstance(f, And) else exp.or_)(*parts))
    r, op, values = f.member, f.operator, f.values
    col = expr_of(r)
    lits = [lit(v) for v in values]
    if r.is_time:
        lits = [time_lit(v, end=op in ("beforeOrOnDate", "lte") or (op.endswith("DateRange") and i == 1))
                for i, v in enumerate(values)]

    def like(pattern_parts):
        return exp.ILike(this=col.copy(), expression=exp.func("concat", *pattern_parts))

    if op == "equals":
        return col.isin(*lits) if len(lits) > 1 else exp.EQ(this=col, expression=lits[0])
    if op == "notEquals":
        base = exp.Not(this=col.isin(*lits)) if len(lits) > 1 else exp.NEQ(this=col, expression=lits[0])
        return exp.Paren(this=exp.or_(base, exp.Is(this=col.copy(), expression=exp.Null())))
    if op in _LIKE:
        pct = exp.Literal.string("%")
        base = op[3].lower() + op[4:] if op.startswith("not") else op
        shape = {"contains": lambda x: [pct, x, pct.copy()], "startsWith": lambda x: [x, pct.copy()],
                 "endsWith": lambda x: [pct.copy(), x]}[base]
        if op.startswith("not"):
            inner = exp.and_(*[exp.Not(this=like(shape(x))) for x in lits])
            return exp.Paren(this=exp.or_(exp.Paren(this=inner), exp.Is(this=col.copy(), expression=exp.Null())))
        return exp.Paren(this=exp.or_(*[like(shape(x)) for x in lits]))
    if op == "set":
        return exp.Not(this=exp.Is(this=col, expression=exp.Null()))
    if op == "notSet":
        return exp.Is(this=col, expression=exp.Null())
    if op == "inDateRange":
        return exp.Paren(this=exp.and_(exp.GTE(this=col, expression=lits[0]),
                                       exp.LTE(this=col.copy(), expression=lits[1])))
    if op == "notInDateRange":
        return exp.Paren(this=exp.or_(exp.LT(this=col, expression=lits[0]),
                                      exp.GT(this=col.copy(), expression=lits[1])))
    return _CMP[op](this=col, expression=lits[0])

"""SQL snippets of the model (``sql:``) as sqlglot trees with ``{CUBE}``/``{member}`` placeholders.

A snippet is parsed once at load time with the ClickHouse dialect (so bad SQL is a model
error with a position), with each reference replaced by a placeholder identifier; the compiler
later swaps placeholders for table aliases or member expressions, tree to tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from crosstrack.sql import DIALECT

REF_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\}")
CUBE_PH = "__cube__"
_REF_PH = re.compile(r"^__ref_(\d+)__$")


@dataclass
class Template:
    text: str
    tree: exp.Expression
    refs: list[str]
    # filled by the loader: ("table", cube) or ("member", cube, member) per ref
    resolved: list[tuple] = field(default_factory=list)
    # whether the snippet calls an aggregate itself (not only through referenced measures): read
    # by the planner, which decides fan-out without looking into trees
    has_aggregate: bool = False


class TemplateError(ValueError):
    pass


def parse_template(text: str) -> Template:
    refs: list[str] = []

    def sub(m: re.Match) -> str:
        r = m.group(1)
        if r == "CUBE":
            return CUBE_PH
        refs.append(r)
        return f"__ref_{len(refs) - 1}__"

    body = REF_RE.sub(sub, str(text))
    if "{" in body or "}" in body:
        raise TemplateError("malformed reference: use {CUBE}, {member} or {cube.member}")
    try:
        trees = sqlglot.parse(body, read=DIALECT)
    except sqlglot.errors.ParseError as err:
        first = err.errors[0]["description"] if getattr(err, "errors", None) else str(err)
        raise TemplateError(f"invalid ClickHouse SQL: {first}") from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise TemplateError("expected exactly one SQL expression")
    tree = trees[0]
    return Template(str(text), tree, refs, has_aggregate=any(isinstance(n, exp.AggFunc) for n in tree.walk()))


def ref_index(name: str) -> int | None:
    m = _REF_PH.match(name)
    return int(m.group(1)) if m else None


def placeholder_refs(tpl: Template) -> tuple[list[int], list[int]]:
    """(refs used as table qualifiers, refs used as values)."""
    tables, values = [], []
    for col in tpl.tree.find_all(exp.Column):
        if col.table and (i := ref_index(col.table)) is not None:
            tables.append(i)
        if not col.table and (i := ref_index(col.name)) is not None:
            values.append(i)
    return tables, values


def substitute(tpl: Template, cube: str, member_expr) -> exp.Expression:
    """Copy of the snippet of ``cube`` with placeholders replaced.

    Every cube is aliased by its own name in a query, so ``{CUBE}``, ``{other_cube}`` and
    unqualified columns (which belong to the snippet's own cube) become columns of those aliases;
    ``member_expr(cube, member) -> exp.Expression`` gives the expression of a referenced member.
    """
    tree = tpl.tree.copy()

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            t = node.table
            if t == CUBE_PH:
                return exp.column(node.name, table=cube, quoted=True)
            if t and (i := ref_index(t)) is not None:
                kind = tpl.resolved[i]
                if kind[0] == "table":
                    return exp.column(node.name, table=kind[1], quoted=True)
                raise TemplateError(f"{{{tpl.refs[i]}}} is not a cube")
            if not t and (i := ref_index(node.name)) is not None:
                kind = tpl.resolved[i]
                if kind[0] == "member":
                    return exp.Paren(this=member_expr(kind[1], kind[2]))
                raise TemplateError(f"{{{tpl.refs[i]}}} is a cube, not a member")
            if not t:
                return exp.column(node.name, table=cube, quoted=True)
        return node

    return tree.transform(fix, copy=False)


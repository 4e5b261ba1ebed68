"""The query shapes BI tools wrap around a dataset, read as the plain question they ask.

Superset (and Metabase, Redash...) treat a "virtual dataset" as a subquery and wrap every chart
query around it: ``SELECT race, SUM(people) AS "SUM(people)" FROM (SELECT * FROM population) AS
virtual_table GROUP BY race ORDER BY 2 DESC LIMIT 100``. When the inner query is only a view of one
dataset — ``SELECT *`` or columns ``FROM <dataset> [WHERE ...]``, with no aggregate, grouping or
paging — the wrapper is the same question asked of the dataset directly, so it is rewritten into
that question and answered by the one translation (``api.pgwire.translate``) under the same
disclosure control. Anything else in FROM stays refused, with the query to write instead.
"""

from __future__ import annotations

from sqlglot import exp

from crosstrack.api.pgwire.question import refuse

WRITE_INSTEAD = ("put the aggregates in the outer query over a plain view of one dataset, e.g. "
                 "SELECT race, SUM(people) AS \"SUM(people)\" FROM (SELECT * FROM population) AS virtual_table "
                 "GROUP BY race, or query the dataset directly: SELECT race, MEASURE(people) FROM population GROUP BY 1")


def _plain_view(inner: exp.Select) -> dict[str, str] | None:
    """{output name: dataset column} when ``inner`` only selects columns of one table, else None."""
    for key in ("joins", "group", "having", "order", "limit", "offset", "distinct", "with_", "with", "laterals"):
        if inner.args.get(key):
            return None
    src = inner.args.get("from_") or inner.args.get("from")
    if src is None or not isinstance(src.this, exp.Table) or not isinstance(src.this.this, exp.Identifier):
        return None
    names: dict[str, str] = {}
    for item in inner.expressions:
        node = item.this if isinstance(item, exp.Alias) else item
        if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
            names["*"] = "*"
        elif isinstance(node, exp.Column):
            names[(item.alias or node.name).lower()] = node.name.lower()
        else:
            return None
    return names


def flatten_from_subquery(tree: exp.Expression) -> exp.Expression:
    """``SELECT ... FROM (SELECT cols FROM dataset WHERE p) AS t WHERE q`` -> ``SELECT ... FROM dataset
    WHERE (p) AND (q)``; other trees are returned unchanged."""
    if not isinstance(tree, exp.Select):
        return tree
    src = tree.args.get("from_") or tree.args.get("from")
    if src is None or not isinstance(src.this, exp.Subquery):
        return tree
    inner = src.this.this
    if isinstance(inner, exp.Select):
        inner = flatten_from_subquery(inner)
    names = _plain_view(inner) if isinstance(inner, exp.Select) else None
    if names is None:
        raise refuse("this subquery in FROM aggregates, joins, groups or pages, which would re-aggregate published "
                     "cells; a subquery in FROM may only be SELECT * or columns FROM <dataset> [WHERE ...]",
                     hint=WRITE_INSTEAD)
    outer = tree.copy()
    alias = src.this.alias
    output_names = {e.alias.lower() for e in outer.expressions if isinstance(e, exp.Alias)}

    def rename(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            if node.table and node.table != alias:
                return node
            target = names.get(node.name.lower())
            if target is None and not node.table and node.name.lower() in output_names:
                return node  # ORDER BY "SUM(people)": the outer query's own output column
            if target is None and "*" not in names:
                raise refuse(f"column \"{node.name[:63]}\" is not selected by the subquery in FROM", hint=WRITE_INSTEAD)
            return exp.column(target or node.name, quoted=node.this.quoted if target is None else False)
        return node

    for key in ("expressions", "where", "group", "order"):
        value = outer.args.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            outer.set(key, [v.transform(rename) for v in value])
        else:
            outer.set(key, value.transform(rename))
    outer.set("from_", exp.From(this=(inner.args.get("from_") or inner.args.get("from")).this.copy()))
    inner_where = inner.args.get("where")
    if inner_where is not None:
        combined = inner_where.this.copy() if outer.args.get("where") is None else exp.and_(
            exp.Paren(this=inner_where.this.copy()), exp.Paren(this=outer.args["where"].this))
        outer.set("where", exp.Where(this=combined))
    return outer

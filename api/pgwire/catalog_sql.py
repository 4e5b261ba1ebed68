"""Catalogue SQL as SQLite: Postgres-only constructs (``OPERATOR(pg_catalog.~)``, ``::regclass``,
``COLLATE``, ``pg_catalog.`` function prefixes, ``unnest``) rewritten in the sqlglot tree, then
generated for SQLite; and which statements are catalogue queries at all."""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres

from crosstrack.api.pgwire.catalog_schema import INFO_TABLES, PG_TABLES

# --- tree rewrites: Postgres catalogue SQL -> SQLite ---------------------------------------------
_STRIP_CASTS = {"oid", "regtype", "regproc", "regprocedure", "name", "text", "varchar", "regnamespace",
                "char", '"char"', "regrole", "character varying"}


def _unnest_source(node: exp.Expression) -> exp.Expression | None:
    """``unnest(arr) [WITH ORDINALITY] AS x(a, n)`` in FROM as a derived table over json_each."""
    if isinstance(node, exp.Table) and isinstance(node.this, (exp.Explode, exp.Unnest)):
        fn, alias = node.this, node.args.get("alias")
    elif isinstance(node, exp.Unnest) and isinstance(node.parent, (exp.From, exp.Join)):
        fn, alias = node, node.args.get("alias")
    else:
        return None
    arg = fn.this if isinstance(fn, exp.Explode) else (fn.expressions[0] if fn.expressions else exp.null())
    if isinstance(arg, exp.Array) and not isinstance(next(iter(arg.expressions), None), exp.Select):
        arg = exp.Literal.string("{" + ",".join(e.name for e in arg.expressions) + "}")
    name = alias.name if alias is not None and alias.name else "unnest"
    cols = [c.name for c in alias.args.get("columns") or []] if alias is not None else []
    offset = fn.args.get("offset") if isinstance(fn, exp.Unnest) else None
    if offset:  # WITH ORDINALITY: the position column, named by the alias list or "ordinality"
        cols = cols or [name]
        if len(cols) < 2:
            cols.append(offset.name if isinstance(offset, exp.Identifier) else "ordinality")
    value_name = cols[0] if cols else name
    select = exp.select(exp.alias_(exp.column("value"), value_name, quoted=True)).from_(
        exp.Table(this=exp.Anonymous(this="json_each", expressions=[exp.Anonymous(this="pg_array_json",
                                                                                  expressions=[arg])])))
    if offset:
        select = select.select(exp.alias_(exp.Add(this=exp.column("key"), expression=exp.Literal.number(1)),
                                          cols[-1], quoted=True))
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(name, quoted=True)))


def _rewrite(node: exp.Expression) -> exp.Expression:
    # pg_index, pg_constraint and pg_attrdef are always empty here (the dataset tables have no keys,
    # indexes or defaults), so set-returning calls over their arrays in a select list never produce a
    # row: the element itself stands in, which keeps the query valid SQLite with the same (empty) answer.
    if isinstance(node, exp.Explode) and isinstance(node.parent, (exp.Alias, exp.Select)):
        return node.this
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "generate_subscripts":
        return exp.Literal.number(1)
    if isinstance(node, exp.ArrayAgg):  # SQLite 3.40 has no ORDER BY inside an aggregate; arrays are '{a,b}' text
        inner = node.this.this if isinstance(node.this, exp.Order) else node.this
        return exp.DPipe(this=exp.DPipe(this=exp.Literal.string("{"), expression=exp.GroupConcat(
            this=inner, separator=exp.Literal.string(","))), expression=exp.Literal.string("}"))
    unnest = _unnest_source(node)
    if unnest is not None:
        return unnest
    if isinstance(node, exp.ByteString):  # E'...' escape string: its value, as a plain string
        return exp.Literal.string(str(node.this))
    if isinstance(node, (exp.Alias, exp.TableAlias)) and isinstance(node.args.get("alias") if isinstance(node, exp.Alias)
                                                                     else node.this, exp.Identifier):
        ident = node.args["alias"] if isinstance(node, exp.Alias) else node.this
        if not ident.quoted:  # Postgres folds unquoted names; quoting keeps words like DEFAULT legal in SQLite
            ident.set("this", ident.name.lower())
            ident.set("quoted", True)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in ("to_regtype", "to_regclass",
                                                                       "json_build_object", "jsonb_build_object"):
        node.set("this", str(node.this).lower().replace("jsonb_", "json_"))
    if isinstance(node, exp.Operator):
        op = str(node.args.get("operator", "")).replace("pg_catalog.", "").strip()
        fn = {"~": "pg_regex", "~*": "pg_iregex", "!~": "pg_regex", "!~*": "pg_iregex"}.get(op)
        if fn:
            call = exp.Anonymous(this=fn, expressions=[node.this, node.expression])
            return exp.Not(this=call) if op.startswith("!") else call
        if op in ("=", "<>", "<", ">", "<=", ">="):
            cls = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, ">": exp.GT, "<=": exp.LTE, ">=": exp.GTE}[op]
            return cls(this=node.this, expression=node.expression)
    if isinstance(node, exp.RegexpLike):
        return exp.Anonymous(this="pg_regex", expressions=[node.this, node.expression])
    if isinstance(node, exp.RegexpILike):
        return exp.Anonymous(this="pg_iregex", expressions=[node.this, node.expression])
    if isinstance(node, exp.Collate):
        return node.this
    if isinstance(node, exp.Array):
        inner = node.expressions[0] if len(node.expressions) == 1 else None
        if isinstance(inner, exp.Select):  # ARRAY(SELECT x ...) -> 'a,b' (catalogue arrays are text)
            sub = inner.copy()
            first = sub.expressions[0]
            sub.set("expressions", [exp.GroupConcat(this=first.this if isinstance(first, exp.Alias) else first)])
            sub.set("order", None)
            return exp.Subquery(this=sub)
        return exp.Literal.string("{" + ",".join(e.name for e in node.expressions) + "}")
    if isinstance(node, exp.EQ) and isinstance(node.expression, exp.Any):
        arr = node.expression.this
        return exp.Anonymous(this="pg_any", expressions=[node.this, arr.this if isinstance(arr, exp.Paren) else arr])
    if isinstance(node, exp.Cast):
        to = node.to.sql(dialect="postgres").lower().replace("pg_catalog.", "")
        inner = node.this
        if to in ("text", "name", "varchar") and isinstance(inner, exp.Cast) and \
                inner.to.sql(dialect="postgres").lower().replace("pg_catalog.", "") == "regtype":
            return exp.Anonymous(this="regtype_name", expressions=[inner.this])  # oid::regtype::text: the type name
        if to == "regclass" and isinstance(inner, exp.Literal) and inner.is_string and inner.name.isdigit():
            return exp.Literal.number(inner.name)
        if to == "regclass":
            return exp.Anonymous(this="regclass", expressions=[node.this])
        if to in _STRIP_CASTS or to.endswith("[]"):
            return node.this
    if isinstance(node, exp.CurrentUser) or (isinstance(node, exp.Column) and node.name.lower() in ("current_user", "session_user", "user") and not node.table):
        return exp.Anonymous(this="current_user_fn", expressions=[])
    if isinstance(node, exp.CurrentSchemas):  # the search path pgcli completes from
        return exp.Literal.string("{pg_catalog,public}")
    if isinstance(node, exp.CurrentSchema):
        return exp.Anonymous(this="current_schema", expressions=[])
    if isinstance(node, exp.CurrentVersion):
        return exp.Anonymous(this="version", expressions=[])
    if isinstance(node, exp.Dot) and isinstance(node.this, exp.Identifier) and node.this.name.lower() == "pg_catalog":
        return node.expression
    if isinstance(node, exp.Table) and node.db and node.db.lower() == "pg_catalog":
        return node
    return node


def _pg_output_name(node: exp.Expression) -> str:
    """The column name Postgres gives an unaliased select-list expression."""
    while isinstance(node, exp.Dot) and isinstance(node.expression, exp.Expression):
        node = node.expression
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Cast):
        inner = node.this
        return _pg_output_name(inner) if not isinstance(inner, exp.Literal) else node.to.sql(dialect="postgres").lower()
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.CurrentVersion):
        return "version"
    if isinstance(node, (exp.CurrentUser, exp.CurrentSchema)):
        return node.key.replace("current", "current_")
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    if isinstance(node, exp.Case):
        return "case"
    return "?column?"


def to_sqlite(tree: exp.Expression) -> str:
    tree = tree.copy()
    first = tree
    while isinstance(first, (exp.Union, exp.Intersect, exp.Except)):
        first = first.this
    if isinstance(first, exp.Select):
        first.set("expressions", [e if isinstance(e, (exp.Alias, exp.Star)) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
                                  else exp.alias_(e, _pg_output_name(e), quoted=True) for e in first.expressions])
    sql = ""
    for _ in range(6):  # transform does not descend into the nodes it replaced: repeat to a fixpoint
        tree = tree.transform(_rewrite)
        new = tree.sql(dialect="sqlite")
        if new == sql:
            break
        sql = new
    # sqlglot keeps a schema-qualified function as "pg_catalog.fn(...)" text in some versions.
    return re.sub(r"\bpg_catalog\.(?=[a-z_]+\s*\()", "", sql)


def without_reg_array_casts(sql: str) -> str:
    """``x::regtype[]`` (pgcli's function list) as ``x::regtype``: sqlglot cannot parse a cast to an
    array of an object-identifier type, and the catalogue keeps arrays as text either way. Done on
    tokens, so text inside string literals is never touched."""
    try:
        tokens = Postgres().tokenize(sql)
    except Exception:  # noqa: BLE001 - not tokenizable: leave it for the parser to report
        return sql
    cut: list[tuple[int, int]] = []
    for a, b, c, d in zip(tokens, tokens[1:], tokens[2:], tokens[3:]):
        if a.token_type.name == "DCOLON" and b.text.lower().startswith("reg") and \
                c.token_type.name == "L_BRACKET" and d.token_type.name == "R_BRACKET":
            cut.append((c.start, d.end + 1))
    for start, end in reversed(cut):
        sql = sql[:start] + sql[end:]
    return sql


def syntax_error(err: Exception) -> str:
    """Postgres's wording for a parse error: the token at fault and where, never the parser's internals."""
    errors = getattr(err, "errors", None) or []
    first = errors[0] if errors else {}
    token = str(first.get("highlight") or "").strip()[:40]
    where = f" at line {first['line']}, column {first['col']}" if first.get("line") else ""
    return f'syntax error at or near "{token}"{where}' if token else f"syntax error{where}"


def is_catalog_query(tree: exp.Expression, dataset_names: set[str]) -> bool:
    """True when the statement reads catalogue tables (or no table) and no dataset."""
    for t in tree.find_all(exp.Table):
        name = t.name.lower()
        if name in dataset_names and (not t.db or t.db.lower() in ("public", "crosstrack")):
            return False
    return True


def known_catalog_table(t: exp.Table) -> bool:
    name, db = t.name.lower(), (t.db or "").lower()
    if db == "information_schema":
        return name in INFO_TABLES
    if db in ("", "pg_catalog"):
        return name in PG_TABLES
    return False

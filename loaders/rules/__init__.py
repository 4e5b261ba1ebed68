"""The fact build's business rules, one named ``.sql`` file per R-step, read as sqlglot trees.

Each file is one SELECT in ClickHouse SQL that reads ``stage.<table>`` (and writes nothing); it is
parsed once with sqlglot and bound per load by tree edits only, never by formatting text:

* ``stage.x`` becomes the load's staging database (an identifier, quoted when its name needs it);
  a table in any other database is an error;
* a call of a code mapping (``race_group(race)``, ``age_group(age)``, ``codes('NAME')``...)
  becomes the tree ``loaders.mappings`` generates from ``loaders/schema.py``;
* a call named in ``values`` (``snapshot_dates()``, ``section_pattern()``, ``person_hash(id)``)
  becomes that tree, so settings and constants enter as literals.

Every file has its own test on chDB (tests/test_rules_steps.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Callable

import sqlglot
from sqlglot import exp

from crosstrack.engine import DIALECT
from crosstrack.loaders import mappings

RULES_DIR = Path(__file__).resolve().parent
STAGE = "stage"  # the database name the files use for the load's staging database


class RuleError(ValueError):
    """A rule file refers to something it may not (a table outside the staging database)."""


def rule_names() -> list[str]:
    return sorted(p.stem for p in RULES_DIR.glob("*.sql"))


def rule_text(name: str) -> str:
    return (RULES_DIR / f"{name}.sql").read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def _parsed(name: str) -> exp.Query:
    tree = sqlglot.parse_one(rule_text(name), read=DIALECT)
    if not isinstance(tree, exp.Query):
        raise RuleError(f"loaders/rules/{name}.sql: must be one SELECT")
    for node in tree.walk():  # the files' comments are for their readers, not for the engine
        node.comments = None
    return tree


Value = exp.Expression | Callable[..., exp.Expression]


def rule(name: str, stage: str, values: dict[str, Value] | None = None) -> exp.Query:
    """The SELECT of ``loaders/rules/<name>.sql`` bound to the staging database ``stage``; a call
    ``f(...)`` with ``f`` in ``values`` becomes that tree (or what that builder makes of the
    call's arguments)."""
    return bind(name, _parsed(name).copy(), stage, values or {})


def bind(name: str, tree: exp.Query, stage: str, values: dict[str, Value]) -> exp.Query:
    """Bind a parsed rule in place (see the module's docstring)."""

    def edit(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not isinstance(node.parent, exp.Func):
            if node.db != STAGE:
                raise RuleError(f"loaders/rules/{name}.sql: table {node.sql(DIALECT)} is not in {STAGE}")
            return exp.table_(node.name, db=stage, alias=node.alias or None)
        if isinstance(node, exp.Anonymous):
            fn = node.name
            if fn in values:
                value = values[fn]
                return value.copy() if isinstance(value, exp.Expression) else value(*[a.copy() for a in node.expressions])
            if fn == "codes":
                return mappings.codes(node.expressions[0].name)
            if fn in mappings.MAPPINGS:
                return mappings.MAPPINGS[fn](*[a.copy() for a in node.expressions])
        return node

    return tree.transform(edit, copy=False)


def create_table(database: str, table: str, query: exp.Query) -> exp.Create:
    """``CREATE TABLE database.table ENGINE = Memory AS <query>`` (a staging table)."""
    return exp.Create(this=exp.table_(table, db=database), kind="TABLE", expression=query,
                      properties=exp.Properties(expressions=[exp.EngineProperty(this=exp.var("Memory"))]))


def insert(database: str, table: str, query: exp.Query) -> exp.Insert:
    """``INSERT INTO database.table <query>`` (a fact table of the version being built)."""
    return exp.insert(query, exp.table_(table, db=database))


def output_names(query: exp.Query) -> list[str]:
    return list(query.named_selects)

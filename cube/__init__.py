"""Crosstrack's semantic layer: Cube-syntax models compiled to ClickHouse SQL trees.

``load_model`` reads and validates ``models/*.yml``; ``QueryEngine`` compiles Cube REST
queries into sqlglot trees, picks a rollup when one fits, and runs them through
``crosstrack.engine.Engine``.
"""

from cube.errors import ModelError, QueryError
from cube.loader import load_model
from cube.model import Model

__all__ = ["ModelError", "QueryError", "load_model", "Model", "QueryEngine", "LoadResult"]


def __getattr__(name: str):
    if name in ("QueryEngine", "LoadResult"):
        from cube import query

        return getattr(query, name)
    raise AttributeError(name)

"""Crosstrack's semantic layer: Cube-syntax models compiled to ClickHouse SQL trees.

``load_model`` reads and validates ``models/*.yml``; ``QueryEngine`` compiles Cube REST
queries into sqlglot trees, picks a rollup when one fits, and runs them through
``crosstrack.engine.Engine``.
"""

from crosstrack.cube.errors import ModelError, QueryError
from crosstrack.cube.loader import load_model
from crosstrack.cube.model import Model

__all__ = ["ModelError", "QueryError", "load_model", "Model", "QueryEngine", "LoadResult"]


def __getattr__(name: str):
    if name in ("QueryEngine", "LoadResult"):
        from crosstrack.cube import query

        return getattr(query, name)
    raise AttributeError(name)

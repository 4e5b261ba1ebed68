"""Load and validate model files (Cube's data-model syntax in YAML).

Every problem is collected, not just the first, and each points at the offending key:
``file:line:col: error[code] path: message`` with a "did you mean" where a near name exists.
One module per step: ``load_keys`` (what a file may say), ``load_base`` (state and diagnostics),
``load_shapes`` (phase 1: each file's entries), ``load_refs`` (phase 2: references, cycles,
rollups), ``load_views`` (views, after every cube), ``load_disclosure`` (disclosure meta),
``factcheck`` (columns against the published fact tables).
"""

from __future__ import annotations

import os
from pathlib import Path

from crosstrack.cube.errors import Diagnostic, ModelError
from crosstrack.cube.factcheck import check_fact_columns
from crosstrack.cube.load_disclosure import DisclosureChecks
from crosstrack.cube.load_refs import ReferenceResolver
from crosstrack.cube.load_shapes import ShapeLoader
from crosstrack.cube.load_views import ViewLoader
from crosstrack.cube.model import Model


class _Loader(ShapeLoader, ReferenceResolver, ViewLoader, DisclosureChecks):
    """One load: files are read (``load_file``), then resolved (``resolve_all``)."""


def _display(path: Path) -> str:
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else str(path)


def model_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        return sorted([*path.glob("*.yml"), *path.glob("*.yaml")])
    return [path]


def collect(path: Path | str) -> tuple[Model | None, list[Diagnostic]]:
    path = Path(path)
    ld = _Loader()
    files = model_files(path)
    if not path.exists():
        return None, [Diagnostic(str(path), 1, 1, "model.not_found", "<file>", "no such model file or folder")]
    if not files:
        return None, [Diagnostic(str(path), 1, 1, "model.not_found", "<folder>", "no .yml or .yaml model files")]
    texts = {}
    for f in files:
        texts[_display(f)] = f.read_text(encoding="utf-8")
        ld.load_file(_display(f), texts[_display(f)])
    ld.resolve_all()
    check_fact_columns(ld, texts)  # cube/factcheck.py: columns against the published fact schema
    model = Model(ld.cubes, ld.views, [_display(f) for f in files])
    return model, sorted(ld.diags, key=lambda d: (d.file, d.line, d.col))


def load_model(path: Path | str) -> Model:
    model, diags = collect(path)
    if diags or model is None:
        raise ModelError(diags)
    return model

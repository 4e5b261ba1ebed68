"""``crosstrack model validate``: report every model problem, exit non-zero on any."""

from __future__ import annotations

from pathlib import Path

from crosstrack.cube.loader import collect


def validate_cli(models_dir: Path, console) -> int:
    model, diags = collect(models_dir)
    for d in diags:
        console.print(str(d), markup=False, highlight=False, soft_wrap=True)
    if diags:
        console.print(f"{len(diags)} error{'s' if len(diags) != 1 else ''} in {models_dir}", markup=False,
                      highlight=False, soft_wrap=True)
        return 1
    assert model is not None
    n_members = sum(len(c.measures) + len(c.dimensions) + len(c.segments) for c in model.cubes.values())
    console.print(f"ok: {len(model.files)} files, {len(model.cubes)} cubes, {len(model.views)} views, "
                  f"{n_members} members", markup=False, highlight=False, soft_wrap=True)
    return 0

"""The wheel installs one import name, ``crosstrack`` (issue 17: a namespaced install).

The design fixes the top-level folders ``api/``, ``cube/`` and ``loaders/``; pyproject maps them to
``crosstrack.api``, ``crosstrack.cube`` and ``crosstrack.loaders``. This builds the real wheel,
installs it (without dependencies) into a fresh venv and lists what landed in its site-packages.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    # The build runs on a copy of the tracked sources, so nothing is written into the checkout.
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    src = work / "src"
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work / "dist"),
                    str(src)], check=True, capture_output=True)
    wheels = list((work / "dist").glob("crosstrack-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    # pip of this interpreter installs into the fresh venv's site-packages (no dependencies: only
    # what crosstrack itself puts there is looked at).
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q",
                    "--target", str(site), str(wheels[0])], check=True, capture_output=True)
    return site


def test_only_crosstrack_lands_at_the_top_level(installed: Path) -> None:
    top = {p.name for p in installed.iterdir()
           if not p.name.endswith((".dist-info", ".pth")) and p.name not in {"bin", "__pycache__"}}
    assert top == {"crosstrack"}, top


def test_the_layers_install_under_crosstrack_with_their_data(installed: Path) -> None:
    pkg = installed / "crosstrack"
    for layer in ("api", "cube", "loaders"):
        assert (pkg / layer / "__init__.py").is_file(), layer
    assert (pkg / "api" / "pgwire" / "__init__.py").is_file()
    assert (pkg / "api" / "static" / "index.html").is_file()
    assert (pkg / "api" / "static" / "js" / "main.js").is_file()  # the page's ES modules
    assert (pkg / "loaders" / "reference" / "statutes.csv").is_file()
    for name in ("api", "cube", "loaders"):
        assert not (installed / name).exists(), name


def test_the_installed_package_imports_from_the_venv(installed: Path) -> None:
    # -S: no site-packages processing, so the development install's editable finder (a .pth hook)
    # is absent; the venv's copy comes first and this interpreter's packages give the dependencies.
    deps = [p for p in sys.path if p.endswith("site-packages")]
    code = (f"import sys; sys.path[:0] = {[str(installed), *deps]!r};"
            "import crosstrack.loaders.schema, crosstrack.cube.model, crosstrack.api.formats as f;"
            f"assert f.__file__.startswith({str(installed)!r}), f.__file__;"
            "import importlib.util as u;"
            "assert all(u.find_spec(n) is None for n in ('api', 'cube', 'loaders'))")
    subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True, cwd=installed)

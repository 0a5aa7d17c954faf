"""The layers of the package, enforced by import-linter with the contracts in ``pyproject.toml``.

``test_contracts_are_kept`` lints the real package. The other tests lint a copy of the package
with one deliberate breakage each, and check that the contracts catch it: an upward import, an
import between independent siblings, an import circle, and a new subpackage left out of the
layers (the layers contract is exhaustive). See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import importlinter  # noqa: F401  (a dev dependency: fail here, not with a confusing subprocess error)
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs import-linter in a fresh interpreter, so the package it analyses is the one under `cwd`
# (cwd comes first on sys.path) rather than one this process has already imported.
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
)


def python(root: Path, code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )


def lint(root: Path) -> subprocess.CompletedProcess:
    return python(root, LINT)


def test_contracts_are_kept():
    proc = lint(ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "3 kept, 0 broken" in out, out


def test_layers_contract_names_every_subpackage():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["type"] == "layers"]
    assert layers["containers"] == ["cib_sim"]
    assert layers["exhaustive"] is True
    named = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    subpackages = {p.parent.name for p in (ROOT / "cib_sim").glob("*/__init__.py")}
    modules = {p.stem for p in (ROOT / "cib_sim").glob("*.py") if p.stem != "__init__"}  # e.g. errors
    assert named == subpackages | modules


def test_the_package_root_is_only_a_facade():
    """``cib_sim/__init__.py`` finds its public names lazily (``import_module``), so an import of
    the root would hide a dependency from the contracts: inside the package, import from the
    subpackage that defines the name."""
    code = ("import grimp; g = grimp.build_graph('cib_sim', cache_dir=None); "
            "print(sorted(g.find_modules_that_directly_import('cib_sim')))")
    proc = python(ROOT, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the package's Python source and the import-linter config, to break on purpose."""
    shutil.copytree(ROOT / "cib_sim", tmp_path / "cib_sim",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + "\n" + line + "\n")


@pytest.mark.parametrize("module, line, broken", [
    # (an upward import also closes a circle, so it breaks both contracts; `broken` is the one
    # that must be among the broken)
    # the bottom layer imports one above it
    ("cib_sim/scenario/library.py", "import cib_sim.results  # noqa", "Subpackages are layered"),
    # the engine imports the run planner
    ("cib_sim/engine/arrays.py", "from cib_sim.run import plan  # noqa", "Subpackages are layered"),
    # two independent siblings of one layer
    ("cib_sim/deals/indigo.py", "import cib_sim.learning  # noqa", "Subpackages are layered"),
    ("cib_sim/app/state.py", "from cib_sim.cli import args  # noqa", "Subpackages are layered"),
    # an import circle inside one layer: loop imports arrays
    ("cib_sim/engine/arrays.py", "import cib_sim.engine.loop  # noqa", "No import circles"),
    # the compiler loaded outside the kernels (import cib_sim and validate would load it)
    ("cib_sim/engine/delivery.py", "import numba  # noqa", "Only the compiled kernels load numba"),
])
def test_a_deliberate_breakage_is_caught(copy, module, line, broken):
    assert lint(copy).returncode == 0, "the untouched copy should pass"
    append(copy / module, line)
    proc = lint(copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert broken in out.split("Broken contracts", 1)[-1], out


def test_a_new_subpackage_outside_the_layers_is_caught(copy):
    (copy / "cib_sim" / "extras").mkdir()
    (copy / "cib_sim" / "extras" / "__init__.py").write_text("")
    proc = lint(copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "cib_sim.extras" in out.split("Broken contracts", 1)[-1], out

"""The wheel carries everything the package needs: build it, install it into a fresh virtual
environment, and from there (not the source tree) load every shipped scenario, the INDIGO data and
the app's scenario library, and run a tiny simulation.

No network is needed: the wheel is built without build isolation from a copy of the sources (so
nothing is written into the checkout, and no stale ``build/`` folder can hide a missing file), and
installed with ``--no-deps --no-index``. The new environment sees the current interpreter's
site-packages (numpy, pandas, ...) through a ``.pth`` file, which works whether or not the current
interpreter is itself a virtual environment (``venv --system-site-packages`` would only reach the
base interpreter's). Any ``cib_sim`` there (an editable install of the checkout) comes after the
environment's own site-packages, and the check asserts that ``cib_sim`` is imported from the
installed wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import venv
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cib_sim"

CHECK = r"""
import json, sys
from pathlib import Path

venv_dir, expected = Path(sys.argv[1]).resolve(), json.loads(sys.argv[2])

import cib_sim
where = Path(cib_sim.__file__).resolve()
assert where.is_relative_to(venv_dir), f"cib_sim imported from {where}, not the installed wheel"

from cib_sim.scenario.library import library_folder, load_shipped, shipped_scenarios
assert library_folder().resolve().is_relative_to(venv_dir), library_folder()
names = sorted(shipped_scenarios())
assert names == expected["scenarios"], names
scenarios = {name: load_shipped(name) for name in names}
observed = sorted(p.name for p in (library_folder() / "observed").glob("*.csv"))
assert observed == expected["observed"], observed

from cib_sim.deals import headline_terms, load_deals, load_pricings
deals, pricings = load_deals(), load_pricings()
assert len(deals) > 100 and len(pricings) > 100, (len(deals), len(pricings))

from cib_sim.app.state import LIBRARY, library
assert Path(LIBRARY).resolve().is_relative_to(venv_dir), LIBRARY
assert sorted(p.stem for p in library().values()) == names, library()

from cib_sim import simulate
res = simulate(scenarios[names[0]], n_paths=64, seed=1, path_store="memory")
summary = res.summary()
assert len(summary) > 0, summary
print("installed wheel ok:", where.parent, len(names), "scenarios,", len(deals), "deals")
"""


def copy_sources(dest: Path) -> Path:
    """The files a wheel is built from: pyproject, README (the long description) and the package."""
    dest.mkdir()
    shutil.copy(ROOT / "pyproject.toml", dest)
    shutil.copy(ROOT / "README.md", dest)
    shutil.copytree(PACKAGE, dest / "cib_sim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stdout}\n{proc.stderr}"
    return proc


def package_files(*patterns: str) -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for pattern in patterns
        for p in PACKAGE.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    }


def missing_build_requirements() -> list[str]:
    """pyproject's build-system requirements that this interpreter lacks (the dev extra has them)."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    missing = []
    for req in map(Requirement, requires):
        try:
            if version(req.name) not in req.specifier:
                missing.append(str(req))
        except PackageNotFoundError:
            missing.append(str(req))
    return missing


def test_wheel_installs_and_runs_from_a_fresh_environment(tmp_path):
    missing = missing_build_requirements()
    assert not missing, f"the wheel is built without isolation: install {missing} (pip install -e '.[dev]')"
    src = copy_sources(tmp_path / "src")
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", str(dist), str(src))
    (wheel,) = dist.glob("cib_sim-*.whl")

    # every module and every data file of the package is in the wheel
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = package_files("**/*.py", "data/**/*") - in_wheel
    assert not missing, f"not in the wheel: {sorted(missing)}"

    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    outer = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    (Path(purelib) / "_outer_site_packages.pth").write_text("\n".join(outer) + "\n")

    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # --ignore-installed: a cib_sim on the outer path (an editable install) is not this environment's
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", str(wheel),
        env=clean, cwd=tmp_path)

    expected = {
        "scenarios": sorted(p.stem for p in (PACKAGE / "data" / "scenarios").glob("*.yaml")),
        "observed": sorted(p.name for p in (PACKAGE / "data" / "scenarios" / "observed").glob("*.csv")),
    }
    assert expected["scenarios"] and expected["observed"]
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = run(python, "-c", CHECK, str(env_dir), json.dumps(expected), env=clean, cwd=work)
    assert "installed wheel ok" in proc.stdout, proc.stdout + proc.stderr

    # the console script is installed and runs on a shipped scenario
    script = env_dir / ("Scripts/cib-sim.exe" if os.name == "nt" else "bin/cib-sim")
    first = expected["scenarios"][0]
    shipped = run(python, "-c", f"from cib_sim.scenario import shipped_scenarios as s; print(s()[{first!r}])",
                  env=clean, cwd=work).stdout.strip()
    proc = run(script, "validate", shipped, env=clean, cwd=work)
    assert "valid scenario" in proc.stdout, proc.stdout

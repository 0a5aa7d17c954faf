"""A run from start to end, and when it cannot end well: the scenario reaches worker processes
unchanged; a run too big for memory or disk is refused before it starts; a full disk, Ctrl-C,
SIGTERM, a killed worker or a bug stop it with one line and the right exit status, and its
temporary folder is removed every time."""

from __future__ import annotations

import errno
import importlib
import os
import pickle
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from scenario_builders import make_scenario

from cib_sim import load_scenario, simulate
from cib_sim.analysis.fields import FieldPathError
from cib_sim.cli import main
from cib_sim.errors import InputError
from cib_sim.results import path_store
from cib_sim.results.path_store import DiskFullError
from cib_sim.run import BLOCK, resources
from cib_sim.scenario import ScenarioError

cli_main = importlib.import_module("cib_sim.cli.main")  # the module (cib_sim.cli.main is also the function)
ROOT = Path(__file__).resolve().parents[1]
WLZ = ROOT / "scenarios" / "west_london_zone.yaml"


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob("cib_sim_paths_*"))


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    """``$CIB_SIM_TMPDIR`` pointed at an empty folder of the test's."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("CIB_SIM_TMPDIR", str(folder))
    return folder


# --- the scenario in worker processes --------------------------------------------------------


def test_scenario_reaches_worker_processes_unchanged():
    """Values that a text round trip could bend (a third, 0.1 + 0.2, the largest amounts, a name
    with "; " and accents) give bit-identical paths in two processes and in one."""
    s = make_scenario(**{
        "name": "Fund; phase 2 – Zoë", "outcomes[0].price": 0.1 + 0.2, "partners[0].cost": 1 / 3,
        "partners[0].referrals": 40.0, "tranches[0].commitment": 1e13 - 1, "outcomes[0].fiscal_value": 5e-324,
        "uncertainty": {"enabled": True, "referral_sd": 0.3, "rho": 1 / 7},
    })
    assert pickle.loads(pickle.dumps(s)) == s
    n = 2 * BLOCK + 11
    one = simulate(s, n_paths=n, seed=4, chunk_size=BLOCK)
    two = simulate(s, n_paths=n, seed=4, chunk_size=BLOCK, workers=2)
    for k in one.path:
        assert np.array_equal(one.path[k], two.path[k], equal_nan=True), k
    assert two.scenario is s


@pytest.mark.parametrize("exc", [
    InputError([("n_paths", "a; b"), ("", "c")]),
    ScenarioError([("partners[0].name", "x; y")], source="f.yaml"),
    FieldPathError("outcomes.nope.price", "no field 'nope'", ["outcomes.job.price"]),
])
def test_bad_input_errors_travel_between_processes(exc):
    """A worker's error comes back pickled: it must arrive whole, its pairs intact."""
    again = pickle.loads(pickle.dumps(exc))
    assert type(again) is type(exc) and again.errors == exc.errors and str(again) == str(exc)


# --- too big for this machine ----------------------------------------------------------------


def test_a_run_too_big_for_the_disk_is_refused_at_once(tmpdir_env):
    s = load_scenario(WLZ)
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        simulate(s, n_paths=10**12)
    assert time.perf_counter() - start < 10
    (where, reason), = err.value.errors
    assert where == "n_paths" and str(tmpdir_env) in reason and "CIB_SIM_TMPDIR" in reason
    assert leftovers(tmpdir_env) == []


def test_a_run_too_big_for_memory_is_refused(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 50 * 2**20)
    s = load_scenario(WLZ)
    with pytest.raises(InputError, match=r"n_paths: 200,000 paths need about .* of memory .*path_store='disk'"):
        simulate(s, n_paths=200_000, path_store="memory")
    with pytest.raises(InputError, match=r"n_paths: 60,000 paths x 3 variants need about .* of memory"):
        from cib_sim.analysis import sweep

        sweep(s, {"price_multiplier": [0.9, 1.0, 1.1]}, n_paths=60_000)


def test_small_runs_are_not_measured(monkeypatch):
    monkeypatch.setattr(resources, "measure", lambda *a, **k: pytest.fail("measured a small run"))
    simulate(make_scenario(), n_paths=resources.CHECK_ABOVE)


# --- a full disk -----------------------------------------------------------------------------


class _FillingFile:
    """A file whose disk fills up after ``room`` bytes."""

    def __init__(self, f, room: list[int]):
        self._f, self._room = f, room

    def write(self, data) -> int:
        self._room[0] -= memoryview(data).nbytes
        if self._room[0] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.fixture
def disk_fills_up(monkeypatch):
    """Disk stores whose files stop taking data after 100 kB in all."""
    room = [100_000]
    real_open = open
    monkeypatch.setattr(path_store, "open", lambda *a, **k: _FillingFile(real_open(*a, **k), room), raising=False)


@pytest.mark.usefixtures("disk_fills_up")
def test_a_full_disk_stops_the_run_naming_the_folder_and_removes_it(tmpdir_env):
    with pytest.raises(DiskFullError) as err:
        simulate(load_scenario(WLZ), n_paths=3 * BLOCK, chunk_size=BLOCK, path_store="disk")
    assert str(tmpdir_env) in str(err.value) and "CIB_SIM_TMPDIR" in str(err.value)
    assert err.value.errno == errno.ENOSPC
    assert leftovers(tmpdir_env) == []


@pytest.mark.usefixtures("disk_fills_up")
def test_cli_full_disk_exits_1_with_one_line(tmpdir_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CIB_SIM_PATH_MEMORY_MB", "0")  # every run on disk
    rc = main(["run", str(WLZ), "--paths", str(3 * BLOCK), "--out", str(tmp_path / "x.csv"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "is full" in err and str(tmpdir_env) in err and "CIB_SIM_TMPDIR" in err
    assert leftovers(tmpdir_env) == []


# --- interrupted, killed, broken -------------------------------------------------------------


def _raiser(exc: BaseException):
    def fake(args, s):
        raise exc

    return fake


@pytest.mark.parametrize("exc, status, text", [
    (KeyboardInterrupt(), 130, "cib-sim: interrupted"),
    (BrokenProcessPool("A process in the process pool was terminated abruptly"), 1, "a worker process stopped unexpectedly"),
    (MemoryError(), 1, "out of memory"),
    (RuntimeError("boom"), 1, "internal fault (RuntimeError: boom); run again with --debug for the traceback"),
    (ValueError("operands could not be broadcast"), 1, "internal fault (ValueError"),
])
def test_cli_exit_status_and_one_line_for_each_kind_of_failure(exc, status, text, monkeypatch, capsys):
    monkeypatch.setattr(cli_main, "_simulate", _raiser(exc))
    assert main(["summary", str(WLZ), "--paths", "10"]) == status
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_debug_lets_the_traceback_through(monkeypatch):
    monkeypatch.setattr(cli_main, "_simulate", _raiser(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        main(["summary", str(WLZ), "--paths", "10", "--debug"])
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "summary", str(WLZ), "--paths", "10"])


def _die(payload):
    os._exit(9)  # a worker killed mid-chunk (by the OOM killer, say)


def test_cli_killed_worker_exits_1_with_one_line(monkeypatch, capsys):
    import cib_sim.run.simulation as simulation

    monkeypatch.setattr(simulation, "_run_chunk_payload", _die)  # forked workers see it too
    rc = main(["summary", str(WLZ), "--paths", str(6 * BLOCK), "--workers", "2", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1 and "a worker process stopped unexpectedly" in err and "Traceback" not in err


def _start(args: list[str], tmpdir: Path, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "CIB_SIM_TMPDIR": str(tmpdir), "CIB_SIM_PATH_MEMORY_MB": "0",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "cib_sim.cli", *args], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def _wait_for_store(proc: subprocess.Popen, tmpdir: Path) -> None:
    deadline = time.monotonic() + 60
    while not leftovers(tmpdir):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run made no temporary folder"
        time.sleep(0.05)


@pytest.mark.parametrize("sig, status, text, workers", [
    (signal.SIGTERM, 143, "cib-sim: terminated", "1"),
    (signal.SIGINT, 130, "cib-sim: interrupted", "2"),
])
def test_signal_stops_a_run_and_removes_its_temporary_folder(sig, status, text, workers, tmp_path):
    """A real process, per-path measures on disk: SIGTERM (to the process) or Ctrl-C (SIGINT to
    the whole process group, workers included) ends it with one line, and no folder is left."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc = _start(["run", str(WLZ), "--paths", "2000000", "--workers", workers, "--out", "x.csv", "--quiet"], tmpdir, tmp_path)
    try:
        _wait_for_store(proc, tmpdir)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == status, err
    assert err.strip() == text
    assert leftovers(tmpdir) == []


def test_too_many_paths_exit_2_at_once_from_the_console(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    start = time.monotonic()
    proc = _start(["run", str(WLZ), "--paths", "1000000000000", "--out", "x.csv"], tmpdir, tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and time.monotonic() - start < 30
    assert err.startswith("error: --paths: 1,000,000,000,000 paths need about") and "CIB_SIM_TMPDIR" in err
    assert str(tmpdir) in err and len(err.strip().splitlines()) == 1

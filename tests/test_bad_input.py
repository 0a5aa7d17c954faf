"""Bad input, through the command line and the API: refused with the field path or the flag
named, never a traceback, never a quiet wrong answer.

The CLI runs in-process (``main(argv)``); each case asserts exit status 2 and that stderr names the
field path or the flag (``partners[2].capacity``, ``--paths``), one ``error:`` line per problem.
The API cases assert the exception type and that its message names the argument. A few cases run
``python -m cib_sim.cli`` as a real process.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scenario_builders import make_scenario, scenario_dict

from cib_sim import load_scenario, simulate
from cib_sim.analysis import run, solve, stress, sweep, tornado
from cib_sim.analysis.fields import FieldPathError
from cib_sim.analysis.metrics import resolve_metrics
from cib_sim.analysis.shocks import MaturityDelay, PartnerExit, parse_shock
from cib_sim.analysis.solver import Target
from cib_sim.cli import main
from cib_sim.errors import InputError
from cib_sim.scenario import ScenarioError, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
WLZ = str(ROOT / "scenarios" / "west_london_zone.yaml")
OBSERVED = str(ROOT / "scenarios" / "observed" / "stress_slow_start_q8.csv")
SLOW = str(ROOT / "scenarios" / "stress_slow_start.yaml")


def cli(argv: list[str]) -> int:
    """``main(argv)``'s exit status, whether returned or raised by argparse."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code)


# --- scenario files --------------------------------------------------------------------------


def _yaml(**overrides) -> str:
    return yaml.safe_dump(scenario_dict(**overrides), sort_keys=False)


def _three_partners(**change) -> str:
    d = scenario_dict()
    d["partners"] = [dict(d["partners"][0], name=n) for n in ("A", "B", "C")]
    d["partners"][2].update(change)
    return yaml.safe_dump(d, sort_keys=False)


SCENARIO_FILES = {
    "negative capacity": (_three_partners(capacity=-5.0), "partners[2].capacity"),
    "zero capacity": (_three_partners(capacity=0.0), "partners[2].capacity"),
    "capacity past the limit on people": (_three_partners(capacity=1e12), "partners[2].capacity"),
    "referrals past the limit": (_yaml(**{"partners[0].referrals": 1e11}), "partners[0].referrals"),
    "negative price": (_yaml(**{"outcomes[0].price": -1.0}), "outcomes[0].price"),
    "price not a number": (_yaml(**{"outcomes[0].price": "lots"}), "outcomes[0].price"),
    "price true": (_yaml(**{"outcomes[0].price": True}), "outcomes[0].price"),
    "commitment nan": (_yaml().replace("commitment: 100000.0", "commitment: .nan"), "tranches[0].commitment"),
    "cost inf": (_yaml(**{"partners[0].cost": 500.0}).replace("cost: 500.0", "cost: .inf"), "partners[0].cost"),
    "baseline above 1": (_yaml(**{"outcomes[0].baseline_rate": 1.5}), "outcomes[0].baseline_rate"),
    "dropout of 1": (_yaml(**{"partners[0].dropout": 1.0}), "partners[0].dropout"),
    "misspelt field": (_yaml(**{"partners[0].capacitty": 5.0}), "partners[0].capacitty"),
    "missing outcome price": (yaml.safe_dump({**scenario_dict(), "outcomes": [{"name": "job", "baseline_rate": 0.2}]}), "outcomes[0].price"),
    "unknown period": (_yaml(horizon={"years": 5, "period": "fortnight"}), "horizon.period"),
    "effect on an unknown outcome": (_yaml(**{"partners[0].effect": {"jobb": {"mean": 0.1}}}), "partners[0].effect.jobb"),
    "share of an unknown outcome": (_yaml(commissioners=[{"name": "C", "shares": {"nope": 1.0}}]), "commissioners[0].shares"),
    "enrolment after the horizon": (_yaml(**{"partners[0].enrolment_end": 9.0}), "partners[0].enrolment_end"),
    "guarantee covering nothing known": (
        _yaml(tranches=[{"name": "S", "commitment": 1e5}, {"name": "G", "kind": "guarantee", "commitment": 1e4, "covers": "X"}]),
        "tranches[1].covers",
    ),
    "rho of 1": (_yaml(uncertainty={"enabled": True, "rho": 1.0}), "uncertainty.rho"),
    "duplicate key": (_yaml().replace("name: hand\n", "name: hand\nname: again\n", 1), "name"),
    "date that does not exist": (_yaml(horizon={"years": 5, "period": "year", "start": "2021-02-30"}), "horizon.start"),
}


@pytest.mark.parametrize("text, where", SCENARIO_FILES.values(), ids=SCENARIO_FILES.keys())
def test_cli_scenario_file_problem_names_the_field(text, where, tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(text, encoding="utf-8")
    assert cli(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert where in err and "Traceback" not in err
    assert all(line.startswith("error: ") for line in err.strip().splitlines())


def test_cli_a_name_containing_a_separator_stays_one_problem(tmp_path, capsys):
    """One bad field of a partner named with "; " and a newline is one error line, not three."""
    d = scenario_dict(**{"partners[0].name": "North; South\nEast", "partners[0].capacity": -1.0})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(d), encoding="utf-8")
    assert cli(["validate", str(tmp_path / "s.yaml")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "partners[0].capacity" in lines[0]


# --- flags and arguments ---------------------------------------------------------------------

CLI_CASES = {
    # command-line values
    "paths 0": (["summary", WLZ, "--paths", "0"], "--paths"),
    "paths negative": (["summary", WLZ, "--paths", "-5"], "--paths"),
    "paths not a number": (["summary", WLZ, "--paths", "lots"], "--paths"),
    "paths 2.5": (["stress", WLZ, "--paths", "2.5"], "--paths"),
    "paths past the disk": (["run", WLZ, "--paths", "1000000000000", "--out", "{tmp}/x.csv"], "--paths"),
    "paths past the disk for a sweep": (["sweep", WLZ, "--set", "price_multiplier=1,2", "--paths", "1000000000000"], "--paths"),
    "seed negative": (["summary", WLZ, "--seed", "-1"], "--seed"),
    "seed not a number": (["sweep", WLZ, "--set", "price_multiplier=1", "--seed", "x"], "--seed"),
    "workers 0": (["summary", WLZ, "--workers", "0"], "--workers"),
    "workers 2.5": (["stress", WLZ, "--workers", "2.5"], "--workers"),
    "unknown command": (["simulate", WLZ], "invalid choice"),
    "missing scenario file": (["summary", "{tmp}/nope.yaml", "--paths", "10"], "nope.yaml"),
    # output files
    "run out txt": (["run", WLZ, "--paths", "10", "--out", "{tmp}/x.txt"], "--out"),
    "run out docx": (["run", WLZ, "--paths", "10", "--out", "{tmp}/x.docx"], "--out"),
    "run out in a missing folder": (["run", WLZ, "--paths", "10", "--out", "{tmp}/no/x.csv"], "--out"),
    "run out onto a folder": (["run", WLZ, "--paths", "10", "--out", "{tmp}"], "--out"),
    "sweep out docx": (["sweep", WLZ, "--set", "price_multiplier=1", "--out", "{tmp}/x.docx"], "--out"),
    "stress out without extension": (["stress", WLZ, "--out", "{tmp}/table"], "--out"),
    "tornado out in a missing folder": (["tornado", WLZ, "--out", "{tmp}/no/t.csv"], "--out"),
    "solve out txt": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=0.05", "--out", "{tmp}/s.txt"], "--out"),
    # sweep values
    "set without values": (["sweep", WLZ, "--set", "price_multiplier="], "--set"),
    "set without a path": (["sweep", WLZ, "--set", "=1,2"], "--set"),
    "set without =": (["sweep", WLZ, "--set", "price_multiplier"], "--set"),
    "set with an empty value": (["sweep", WLZ, "--set", "price_multiplier=1,,2"], "--set"),
    "set with a trailing comma": (["sweep", WLZ, "--set", "price_multiplier=1,"], "--set"),
    "set range with a bad count": (["sweep", WLZ, "--set", "price_multiplier=1:2:x"], "--set"),
    "set range of no points": (["sweep", WLZ, "--set", "price_multiplier=1:2:0"], "--set"),
    "set range to infinity": (["sweep", WLZ, "--set", "price_multiplier=1:inf:3"], "--set"),
    "zip of different lengths": (["sweep", WLZ, "--zip", "--set", "price_multiplier=1,2", "--set", "effect_multiplier=1"], "--set"),
    "set an unknown path": (["sweep", WLZ, "--set", "outcomes.engagment.price=1"], "outcomes.engagment.price"),
    "set an effect above 1": (["sweep", WLZ, "--set", "partners.Mentoring.effect.engagement.mean=3"], "partners[1].effect.engagement.mean"),
    "set a price to nan": (["sweep", WLZ, "--set", "outcomes.engagement.price=nan"], "outcomes[1].price"),
    "set a price to inf": (["sweep", WLZ, "--set", "outcomes.engagement.price=inf"], "outcomes[1].price"),
    "set a capacity to text": (["sweep", WLZ, "--set", "delivery.capacity=many"], "delivery.capacity"),
    "set a price multiplier of nan": (["sweep", WLZ, "--set", "price_multiplier=nan"], "outcomes[0].price"),
    # shocks
    "shock exit of an unknown partner": (["stress", WLZ, "--shock", "exit:X@2"], "--shock 'exit:X@2'"),
    "shock exit after the end": (["stress", WLZ, "--shock", "exit:Mentoring@99"], "--shock 'exit:Mentoring@99'"),
    "shock withdrawal before the start": (["stress", WLZ, "--shock", "withdraw:Schools@-1"], "--shock 'withdraw:Schools@-1'"),
    "shock withdrawal of an unknown payer": (["stress", WLZ, "--shock", "withdraw:Nobody@1"], "--shock 'withdraw:Nobody@1'"),
    "shock combined with a bad part": (["stress", WLZ, "--shock", "delay:1+exit:X@1"], "--shock 'delay:1+exit:X@1'"),
    "shock misspelt": (["stress", WLZ, "--shock", "dealy:1"], "--shock 'dealy:1'"),
    "shock of nan": (["stress", WLZ, "--shock", "delay:nan"], "--shock 'delay:nan'"),
    "shock of inf": (["stress", WLZ, "--shock", "effects:inf"], "--shock 'effects:inf'"),
    "shock not a number": (["stress", WLZ, "--shock", "effects:abc"], "--shock 'effects:abc'"),
    "shock empty": (["stress", WLZ, "--shock", ""], "--shock ''"),
    "shock exit without a year": (["stress", WLZ, "--shock", "exit:Mentoring"], "--shock 'exit:Mentoring'"),
    "shock rho of 1.5": (["stress", WLZ, "--shock", "rho:1.5"], "uncertainty.rho"),
    "shock set of an unknown path": (["stress", WLZ, "--shock", "set:outcomes.nope.price=1"], "outcomes.nope.price"),
    "shock price cut of 150%": (["stress", WLZ, "--shock", "price_cut:1.5"], "--shock 'price_cut:1.5'"),
    # metrics
    "metric of an unknown tranche": (["stress", WLZ, "--metric", "tranche/x/prob_loss"], "--metric 'tranche/x/prob_loss'"),
    "metric without parts": (["stress", WLZ, "--metric", "bogus"], "--metric 'bogus'"),
    "metric of an unknown group": (["stress", WLZ, "--metric", "fund/0/x"], "--metric 'fund/0/x'"),
    "metric unknown": (["stress", WLZ, "--metric", "tranche/0/not_a_metric", "--paths", "10", "--shock", "delay:1"], "--metric"),
    "tornado of several metrics": (["tornado", WLZ, "--metric", "tranche/*/prob_loss"], "--metric"),
    # solver
    "target probability 2": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=2"], "--target"),
    "target probability nan": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=nan"], "--target"),
    "target probability negative": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=-0.1"], "--target"),
    "target of infinite spend": (["solve", WLZ, "--lever", "price_multiplier", "--target", "contract/outcome_payments_mean=inf"], "--target"),
    "target without =": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss"], "--target"),
    "target not a number": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=low"], "--target"),
    "target naming several metrics": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/*/prob_loss=0.05"], "--target"),
    "bounds reversed": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=0.05", "--bounds", "2", "1"], "--bounds"),
    "bounds nan": (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=0.05", "--bounds", "nan", "1"], "--bounds"),
    "bounds missing for a field lever": (["solve", WLZ, "--lever", "outcomes.engagement.price", "--target", "tranche/0/prob_loss=0.05"], "--bounds"),
    "lever of an unknown field": (["solve", WLZ, "--lever", "outcomes.nope.price", "--target", "tranche/0/prob_loss=0.05", "--bounds", "1", "2"], "outcomes.nope.price"),
    # nowcast
    "nowcast as-of 0": (["nowcast", SLOW, OBSERVED, "--as-of", "0"], "--as-of"),
    "nowcast as-of past the horizon": (["nowcast", SLOW, OBSERVED, "--as-of", "999"], "--as-of: 999 must be between"),
    "nowcast as-of before the data": (["nowcast", SLOW, OBSERVED, "--as-of", "3"], "--as-of: 3 reported periods"),
    "nowcast csv not csv": (["nowcast", SLOW, OBSERVED, "--csv", "{tmp}/w.xlsx"], "--csv"),
    "nowcast scenario out not yaml": (["nowcast", SLOW, OBSERVED, "--out-scenario", "{tmp}/p.json"], "--out-scenario"),
    "nowcast paths 0": (["nowcast", SLOW, OBSERVED, "--paths", "0"], "--paths"),
    "nowcast observed not text": (["nowcast", SLOW, "{tmp}/binary.csv"], "binary.csv: cannot read"),
    "nowcast observed a folder": (["nowcast", SLOW, "{tmp}"], "cannot read"),
    "nowcast seed negative": (["nowcast", SLOW, OBSERVED, "--seed", "-3"], "--seed"),
}


@pytest.mark.parametrize("argv, where", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_bad_input_exits_2_naming_the_flag_or_field(argv, where, tmp_path, capsys):
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00period")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] in ("sweep", "stress", "tornado", "solve") and "--paths" not in argv:
        argv += ["--paths", "10"]
    assert cli(argv) == 2
    err = capsys.readouterr().err
    assert where in err, err
    assert "Traceback" not in err


def test_cli_bad_environment_variable_is_bad_input(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CIB_SIM_PATH_MEMORY_MB", "lots")
    assert cli(["summary", WLZ, "--paths", "10"]) == 2
    assert "CIB_SIM_PATH_MEMORY_MB" in capsys.readouterr().err


def test_cli_excel_output_is_a_real_workbook(tmp_path, capsys):
    """``--out x.xlsx`` once wrote CSV text into the file; now it is an Excel workbook."""
    import pandas as pd

    out = tmp_path / "x.xlsx"
    assert cli(["sweep", WLZ, "--set", "price_multiplier=0.9,1.1", "--paths", "10", "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"PK"  # a zip container, as every .xlsx is
    back = pd.read_excel(out, engine="openpyxl")
    assert list(back["price_multiplier"]) == [0.9, 1.1]


def test_cli_solve_writes_its_result_in_the_kind_asked(tmp_path, capsys):
    out = tmp_path / "s.csv"
    argv = ["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=0.05", "--bounds", "0.2", "2",
            "--paths", "64", "--error", "none", "--out", str(out)]
    assert cli(argv) in (0, 1)
    assert out.read_text().splitlines()[0].startswith("status,lever,metric,target")


@pytest.mark.parametrize("argv, where", [
    (["summary", WLZ, "--paths", "0"], "--paths"),
    (["stress", WLZ, "--shock", "exit:Mentoring@99", "--paths", "10"], "--shock 'exit:Mentoring@99'"),
    (["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=2"], "--target"),
])
def test_console_bad_input_exits_2_without_a_traceback(argv, where):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "cib_sim.cli", *argv], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and where in proc.stderr and "Traceback" not in proc.stderr


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s():
    return make_scenario()


@pytest.fixture(scope="module")
def wlz():
    return load_scenario(WLZ)


API_CASES = {
    "n_paths 0": (lambda s: simulate(s, n_paths=0), InputError, "n_paths"),
    "n_paths 2.5": (lambda s: simulate(s, n_paths=2.5), InputError, "n_paths"),
    "n_paths True": (lambda s: simulate(s, n_paths=True), InputError, "n_paths"),
    "n_paths text": (lambda s: simulate(s, n_paths="10"), InputError, "n_paths"),
    "n_paths past the disk": (lambda s: simulate(s, n_paths=10**13), InputError, "n_paths"),
    "seed negative": (lambda s: simulate(s, n_paths=5, seed=-1), InputError, "seed"),
    "seed 1.5": (lambda s: simulate(s, n_paths=5, seed=1.5), InputError, "seed"),
    "workers 2.5": (lambda s: simulate(s, n_paths=5, workers=2.5), InputError, "workers"),
    "workers 0": (lambda s: simulate(s, n_paths=5, workers=0), InputError, "workers"),
    "workers True": (lambda s: simulate(s, n_paths=5, workers=True), InputError, "workers"),
    "mode bogus": (lambda s: simulate(s, n_paths=5, mode="bogus"), InputError, "mode"),
    "mode None": (lambda s: simulate(s, n_paths=5, mode=None), InputError, "mode"),
    "chunk_size 0": (lambda s: simulate(s, n_paths=5, chunk_size=0), InputError, "chunk_size"),
    "keep_paths negative": (lambda s: simulate(s, n_paths=5, keep_paths=-1), InputError, "keep_paths"),
    "keep_paths 2.5": (lambda s: simulate(s, n_paths=5, keep_paths=2.5), InputError, "keep_paths"),
    "path_store ram": (lambda s: simulate(s, n_paths=5, path_store="ram"), InputError, "path_store"),
    "progress text": (lambda s: simulate(s, n_paths=5, progress="yes"), InputError, "progress"),
    "scenario a dict": (lambda s: simulate(s.model_dump(), n_paths=5), TypeError, "scenario"),
    "run counts bogus": (lambda s: run(s, 5, counts="bogus"), InputError, "counts"),
    "run executor typo": (lambda s: run(s, 5, executor="thread"), InputError, "executor"),
    "run workers 0": (lambda s: run(s, 5, executor="processes", workers=0), InputError, "workers"),
    "run misspelt option": (lambda s: run(s, 5, chunksize=10), TypeError, "chunksize"),
    "sweep nothing": (lambda s: sweep(s, {}, n_paths=5), InputError, "values"),
    "sweep an empty list": (lambda s: sweep(s, {"price_multiplier": []}, n_paths=5), InputError, "price_multiplier"),
    "sweep mode diagonal": (lambda s: sweep(s, {"price_multiplier": [1]}, n_paths=5, mode="diagonal"), InputError, "mode"),
    "sweep unknown path": (lambda s: sweep(s, {"outcomes.jobb.price": [1]}, n_paths=5), FieldPathError, "outcomes.jobb.price"),
    "stress exit after the end": (lambda s: stress(s, ["exit:P@99"], n_paths=5), InputError, "shock 'P exits at year 99'"),
    "stress shock object after the end": (lambda s: stress(s, [PartnerExit("P", 7.0)], n_paths=5), InputError, "shock 'P exits at year 7'"),
    "stress unknown partner": (lambda s: stress(s, ["exit:Q@1"], n_paths=5), FieldPathError, "no partner named 'Q'"),
    "stress a number as shock": (lambda s: stress(s, [5], n_paths=5), InputError, "shock"),
    "stress repeated labels": (lambda s: stress(s, ["delay:1", "delay:1"], n_paths=5), InputError, "shocks"),
    "shock of nan": (lambda s: MaturityDelay(math.nan), InputError, "years must be a finite number"),
    "parse shock of inf": (lambda s: parse_shock("rho:inf"), InputError, "shock 'rho:inf'"),
    "tornado two metrics": (lambda s: tornado(s, ["tranche/0/prob_loss", "contract/outcome_payments_mean"], n_paths=5), InputError, "metric"),
    "metric of an unknown name": (lambda s: resolve_metrics(s, "tranche/nope/prob_loss"), InputError, "metric 'tranche/nope/prob_loss'"),
    "target probability 2": (lambda s: solve(s, "price_multiplier", ("tranche/0/prob_loss", 2.0), n_paths=5), InputError, "target"),
    "target nan": (lambda s: Target.parse("tranche/0/irr_p50=nan"), InputError, "target"),
    "bounds inf": (lambda s: solve(s, "price_multiplier", "tranche/0/prob_loss=0.1", bounds=(0, math.inf), n_paths=5), InputError, "bounds"),
    "solve scan 1": (lambda s: solve(s, "price_multiplier", "tranche/0/prob_loss=0.1", scan=1, n_paths=5), InputError, "scan"),
    "solve error method": (lambda s: solve(s, "price_multiplier", "tranche/0/prob_loss=0.1", error="jackknife", n_paths=5), InputError, "error"),
    "parse a bad scenario": (lambda s: parse_scenario({**s.model_dump(), "horizon": {"years": -1}}), ScenarioError, "horizon.years"),
    "load a missing file": (lambda s: load_scenario("no/such/scenario.yaml"), ScenarioError, "no/such/scenario.yaml"),
}


@pytest.mark.parametrize("call, exc_type, where", API_CASES.values(), ids=API_CASES.keys())
def test_api_bad_input_raises_naming_the_argument(call, exc_type, where, s):
    with pytest.raises(exc_type) as err:
        call(s)
    assert where in str(err.value)
    if isinstance(err.value, InputError):  # structured: every problem a (where, reason) pair
        assert all(isinstance(w, str) and isinstance(r, str) and r for w, r in err.value.errors)


def test_api_errors_are_value_errors_as_before(s):
    """Bad input stays a ValueError (callers catching that keep working); a path error stays a KeyError."""
    with pytest.raises(ValueError):
        simulate(s, n_paths=0)
    with pytest.raises(KeyError):
        sweep(s, {"nope": [1]}, n_paths=5)

"""``cib-sim sweep | stress | tornado | solve`` (cib_sim.cli.analysis), run in-process."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import pytest

from cib_sim.cli.analysis import add_commands, main, parse_set

ROOT = Path(__file__).resolve().parents[1]
WLZ = str(ROOT / "scenarios" / "west_london_zone.yaml")


def test_add_commands_plugs_into_any_parser():
    parser = argparse.ArgumentParser(prog="cib-sim")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run")  # the host CLI's own commands stay
    add_commands(sub)
    args = parser.parse_args(["stress", WLZ, "--shock", "delay:1", "--paths", "10", "--dask", "tcp://h:8786"])
    assert args.func is args.handler and args.shocks == ["delay:1"] and args.dask == "tcp://h:8786"
    assert parser.parse_args(["sweep", WLZ, "--set", "price_multiplier=1"]).zip is False
    assert parser.parse_args(["stress", WLZ, "--dask"]).dask == "local"
    assert parser.parse_args(["stress", WLZ, "--paths", "100_000"]).paths == 100_000


def test_parse_set():
    assert parse_set("outcomes.engagement.price=1500,1700") == ("outcomes.engagement.price", [1500, 1700])
    assert parse_set("price_multiplier=0.5:1.5:3") == ("price_multiplier", [0.5, 1.0, 1.5])
    assert parse_set("tranches.Senior social lender.commitment=8e5") == ("tranches.Senior social lender.commitment", [8e5])
    with pytest.raises(ValueError, match="PATH="):
        parse_set("price_multiplier")


def test_stress_command_prints_and_writes_the_table(tmp_path, capsys):
    out = tmp_path / "stress.csv"
    rc = main(["stress", WLZ, "--shock", "delay:1", "--shock", "exit:Mentoring@2+effects:0.8", "--paths", "300", "--seed", "2", "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "maturity delayed 1 year" in text and "Mentoring exits at year 2 + effects x0.8" in text
    assert "prob_loss[Senior social lender]" in text
    df = pd.read_csv(out, index_col="shock")
    assert list(df.index) == ["base", "maturity delayed 1 year", "Mentoring exits at year 2 + effects x0.8"]


def test_sweep_command_grid_and_parquet(tmp_path, capsys):
    out = tmp_path / "sweep.parquet"
    rc = main([
        "sweep", WLZ, "--set", "outcomes.engagement.price=1500,1900", "--set", "uncertainty.rho=0.2:0.6:2",
        "--metric", "tranche/0/prob_loss", "--metric", "contract/outcome_payments_mean", "--paths", "200", "--out", str(out),
    ])
    assert rc == 0
    df = pd.read_parquet(out)
    assert len(df) == 4 and list(df.columns) == [
        "point", "outcomes.engagement.price", "uncertainty.rho", "prob_loss[Senior social lender]", "outcome_payments_mean",
    ]
    assert "outcome_payments_mean" in capsys.readouterr().out


def test_tornado_and_solve_commands(tmp_path, capsys):
    assert main(["tornado", WLZ, "--metric", "tranche/2/prob_loss", "--paths", "128"]) == 0
    text = capsys.readouterr().out
    assert "metric: prob_loss[Foundation first loss]" in text and "referrals" in text
    out = tmp_path / "solve.json"
    rc = main(["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=0.05", "--bounds", "0.2", "2",
               "--paths", "512", "--out", str(out)])
    assert rc == 0 and "price_multiplier = " in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["status"] == "solved" and 0.2 < saved["value"] < 2
    rc = main(["solve", WLZ, "--lever", "price_multiplier", "--target", "tranche/0/prob_loss=0.05", "--bounds", "1.3", "1.5",
               "--paths", "256", "--error", "none"])
    assert rc == 1 and "no solution" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", WLZ, "--set", "outcomes.engagment.price=1"], "did you mean outcomes.engagement.price"),
        (["sweep", WLZ, "--set", "partners.Mentoring.effect.engagement.mean=3"], "partners[1].effect.engagement.mean: must be <= 1"),
        (["stress", WLZ, "--shock", "exit:Mentorin@2"], "did you mean Mentoring"),
        (["stress", WLZ, "--shock", "dealy:1"], "did you mean delay"),
        (["stress", "no/such/file.yaml"], "no such file"),
        (["solve", WLZ, "--lever", "outcomes.engagement.price", "--target", "tranche/0/prob_loss=0.05"], "bounds"),
    ],
)
def test_bad_input_exits_2_with_the_reason(argv, message, capsys):
    assert main([*argv, "--paths", "10"]) == 2
    assert message in capsys.readouterr().err


def test_the_cib_sim_cli_carries_the_analysis_commands(capsys):
    from cib_sim.cli import main as cib_sim_main

    assert cib_sim_main(["stress", WLZ, "--shock", "rho:0.9", "--paths", "50", "--metric", "contract/outcome_payments_mean"]) == 0
    assert "correlation rho=0.9" in capsys.readouterr().out


def test_workers_without_dask_use_local_processes(capsys):
    argv = ["sweep", WLZ, "--set", "price_multiplier=0.9,1.1", "--metric", "tranche/0/prob_loss", "--paths", "100"]
    assert main(argv) == 0
    serial = capsys.readouterr().out
    assert main([*argv, "--workers", "2"]) == 0
    assert capsys.readouterr().out == serial

"""A simulated "true" world, for tests, examples and the notebook: one path drawn from a scenario,
with what it would report period by period."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cib_sim.engine import run_paths
from cib_sim.engine.sample import Draws, sample_block
from cib_sim.learning.posterior import LatentSpace
from cib_sim.run.plan import root_sequence
from cib_sim.scenario import Scenario


@dataclass
class World:
    """One path of a scenario played out in full: the truth that observations are taken from.

    flows: ``run_paths`` flows of the one path; draws: its :class:`Draws` (effect (1, P, O),
    half_maturity (1, P), exits, withdrawals).
    """

    scenario: Scenario
    flows: dict[str, np.ndarray]
    draws: Draws

    @property
    def effect(self) -> np.ndarray:
        """(P, O) the world's true effects."""
        return self.draws.effect[0]

    @property
    def half_maturity(self) -> np.ndarray:
        """(P,) the world's true half-maturities, years."""
        return self.draws.half_maturity[0]

    @property
    def total_paid(self) -> float:
        """Outcome payments over the whole contract, all commissioners."""
        return float(self.flows["commissioner_paid"][0].sum())

    def observed(self, as_of: int, payments: bool = True, dropouts: bool = True) -> pd.DataFrame:
        """What the world has reported by the end of period ``as_of - 1`` (observed format)."""
        from cib_sim.learning.observed import observed_frame

        return observed_frame(
            self.scenario, self.flows, as_of, exit_period=self.draws.exit_period[0],
            withdraw_period=self.draws.withdraw_period[0], payments=payments, dropouts=dropouts,
        )


def simulate_world(
    s: Scenario, seed: Any = 0, effect: np.ndarray | float | None = None, effect_scale: float | None = None,
    half_maturity: np.ndarray | float | None = None, mode: str = "approx",
) -> World:
    """Draw one world from the scenario (inputs from its prior, or fixed): ``effect`` (P, O) or
    a number for every partner and outcome; ``effect_scale`` multiplies the scenario's mean
    effects; ``half_maturity`` (P,) or a number, years. Counts are drawn as in the engine."""
    draws = sample_block(s, root_sequence(seed), 1, exact=(mode == "exact"))
    if effect_scale is not None:
        mean = LatentSpace.of(s).prior_means()[0] if s.uncertainty.enabled else draws.effect[0]
        draws.effect = (np.asarray(mean) * effect_scale)[None].copy()
    if effect is not None:
        draws.effect = np.broadcast_to(np.asarray(effect, dtype=float), draws.effect.shape[1:])[None].copy()
    if half_maturity is not None:
        draws.half_maturity = np.broadcast_to(np.asarray(half_maturity, dtype=float), draws.half_maturity.shape[1:])[None].copy()
    flows = run_paths(s, draws, mode)  # type: ignore[arg-type]
    return World(s, flows, draws)

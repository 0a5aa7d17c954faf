"""Inputs at the edge of what is valid give a right answer or a clear refusal, never a quiet
wrong one: huge referral volumes counted exactly, shocks that would change nothing, run options
of the wrong type, output files of an unknown kind."""

from __future__ import annotations

import numpy as np
from scenario_builders import make_scenario

from cib_sim import simulate
from cib_sim.engine.sample import MAX_REFERRALS_PER_PERIOD, sample_block
from cib_sim.scenario import MAX_PEOPLE


def test_exact_counts_fill_every_place_at_the_largest_referral_volumes():
    """Referrals at the limit with a wide referral multiplier: some paths expect over 3e10
    referrals a year, where scipy's Poisson inverse CDF gives NaN; exact counting then stopped
    delivery on those paths (no enrolment) while approximate counts filled every place."""
    s = make_scenario(**{
        "partners[0].referrals": MAX_PEOPLE, "partners[0].capacity": 3782.0, "tranches[0].commitment": 1e10,
        "uncertainty": {"enabled": True, "referral_sd": 3.0},
    })
    draws = sample_block(s, np.random.SeedSequence(1), 512)
    assert (draws.referral_multiplier * MAX_PEOPLE).max() == MAX_REFERRALS_PER_PERIOD  # the cap binds here
    exact = simulate(s, n_paths=512, seed=1, mode="exact").path["enrolled"]
    approx = simulate(s, n_paths=512, seed=1, mode="approx").path["enrolled"]
    assert np.isfinite(exact).all()
    np.testing.assert_array_equal(exact, approx)  # capacity binds: both enrol 3,782 a year


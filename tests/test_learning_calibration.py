"""Calibration: over many worlds drawn from the scenario, the nowcast's intervals cover the truth
at their nominal rate, and so do the posterior's intervals for the effects.

Each world is one path of the scenario (its effects, maturity, exits and noise drawn from the
scenario's own distributions); its first k periods are fed as observations; the nowcast's 50% and
90% central intervals for total outcome payments over the contract, and the posterior's 90%
interval for each effect, either contain the world's truth or not. For calibrated updates the
shares that do are 0.5 and 0.9, up to binomial noise (sd 0.05 and 0.03 for 100 worlds).

The default run checks 40 worlds of the small scenario (a few seconds); ``-m slow`` runs 200
worlds at several report dates of both scenarios (a few minutes) and prints the figures with
``-s``.
"""

from __future__ import annotations

import numpy as np
import pytest
from learning_worlds import slow_scenario, small_scenario

from cib_sim import learning as L
from cib_sim.learning.observed import read_observed


def coverage(s, n_worlds: int, ks: tuple[int, ...], n_paths: int = 600, n_draws: int = 2000, tag: int = 5) -> dict[int, dict[str, float]]:
    """Share of worlds whose truth lies in the nowcast's 50% / 90% payment intervals and in the
    posterior's 90% effect intervals, per report date k; and the mean PIT (rank of the truth in
    the nowcast's paths; 0.5 when unbiased)."""
    hits: dict[int, dict[str, list[float]]] = {k: {"pay50": [], "pay90": [], "eff90": [], "pit": []} for k in ks}
    for i in range(n_worlds):
        w = L.simulate_world(s, np.random.SeedSequence([tag, i]))
        for k in ks:
            obs = read_observed(w.observed(k), s)
            post = L.fit(s, obs, n_draws=n_draws, seed=np.random.SeedSequence([tag, i, k, 1]))
            r = L.nowcast(s, obs, n_paths=n_paths, seed=i, posterior=post)
            x = r.path["commissioner_paid"].sum(axis=1)
            q05, q25, q75, q95 = np.quantile(x, [0.05, 0.25, 0.75, 0.95])
            h = hits[k]
            h["pay90"].append(q05 <= w.total_paid <= q95)
            h["pay50"].append(q25 <= w.total_paid <= q75)
            h["pit"].append((np.mean(x < w.total_paid) + np.mean(x <= w.total_paid)) / 2)
            t = post.table()
            for (p, o), (_, row) in zip(post.space.cells, t.iterrows()):
                h["eff90"].append(row.posterior_q05 <= w.effect[p, o] <= row.posterior_q95)
    return {k: {name: float(np.mean(v)) for name, v in h.items()} for k, h in hits.items()}


def report(label: str, cov: dict[int, dict[str, float]], n: int) -> None:
    for k, c in cov.items():
        print(f"\n{label}, {n} worlds, data to period {k - 1}: payments 50% interval covers {c['pay50']:.3f}, "
              f"90% covers {c['pay90']:.3f}; effects 90% covers {c['eff90']:.3f}; mean PIT {c['pit']:.3f}")


def test_nowcast_intervals_cover_the_truth_at_their_nominal_rate():
    cov = coverage(small_scenario(), n_worlds=40, ks=(8,))[8]
    report("small", {8: cov}, 40)
    # 40 worlds: the 90% share has sd 0.047, the 50% share 0.079; bounds are about 3 sd.
    assert 0.76 <= cov["pay90"] <= 1.0
    assert 0.26 <= cov["pay50"] <= 0.74
    assert 0.80 <= cov["eff90"] <= 0.98
    assert 0.35 <= cov["pit"] <= 0.65


@pytest.mark.slow
@pytest.mark.parametrize("name, ks", [("small", (4, 8, 12)), ("slow", (8, 16))])
def test_nowcast_calibration_over_200_worlds(name, ks):
    s = small_scenario() if name == "small" else slow_scenario()
    cov = coverage(s, n_worlds=200, ks=ks, n_paths=800, n_draws=3000)
    report(name, cov, 200)
    for k, c in cov.items():
        # 200 worlds: sd 0.021 (90%) and 0.035 (50%); bounds about 3 sd.
        assert 0.83 <= c["pay90"] <= 0.97, (k, c)
        assert 0.39 <= c["pay50"] <= 0.61, (k, c)
        assert 0.85 <= c["eff90"] <= 0.95, (k, c)
        assert 0.44 <= c["pit"] <= 0.56, (k, c)

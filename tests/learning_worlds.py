"""Scenarios shared by the learning tests (``test_learning*.py``): a support module, no tests here.

- :func:`small_scenario`: two partners, two outcomes, quarterly over five years, with partner
  exits and a payer that may withdraw: the calibration scenario (fast: about 0.15 s a world).
- :func:`slow_scenario`: a partnership whose results come slowly (half-maturity two years,
  uncertain by 0.75 years), enough participants (about 3,500) for the data to pin the effects
  down once the partners have matured; a junior tranche that loses money in about 40% of paths.
- :func:`one_effect_scenario`: one partner, one outcome, full effect at once, no dropout: a
  single uncertain number, so the posterior can be checked against quadrature.
"""

from __future__ import annotations

from typing import Any

from cib_sim.scenario import Scenario, parse_scenario


def _partner(name: str, referrals: float, capacity: float, cost: float, effects: dict[str, tuple[float, float]],
             half: float, steepness: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name, "referrals": referrals, "capacity": capacity, "service_length": 1.0, "cost": cost,
        "effect": {o: {"mean": m, "sd": sd} for o, (m, sd) in effects.items()},
        "maturity": {"half_maturity": half, "steepness": steepness}, **extra,
    }


def small_scenario(**uncertainty: Any) -> Scenario:
    return parse_scenario({
        "name": "small",
        "horizon": {"years": 5, "period": "quarter", "start": "2024-01-01"},
        "outcomes": [
            {"name": "engaged", "baseline_rate": 0.3, "lag": 0.5, "price": 1000},
            {"name": "attainment", "baseline_rate": 0.2, "lag": 1.0, "price": 2000},
        ],
        "partners": [
            _partner("A", 120, 60, 1500, {"engaged": (0.15, 0.08), "attainment": (0.1, 0.06)}, 1.0, 0.4,
                     enrolment_end=3.0, dropout=0.1, exit_hazard=0.05),
            _partner("B", 80, 40, 1200, {"engaged": (0.1, 0.06), "attainment": (0.12, 0.07)}, 1.5, 0.5,
                     enrolment_end=3.0, dropout=0.15, exit_hazard=0.1),
        ],
        "commissioners": [
            {"name": "Council", "shares": {"engaged": 0.6, "attainment": 0.6}, "payment_lag": 0.25,
             "withdrawal_hazard": 0.03, "total_cap": 400_000},
            {"name": "Fund", "shares": {"engaged": 0.4, "attainment": 0.4}, "payment_lag": 0.25},
        ],
        "tranches": [
            {"name": "S", "kind": "senior", "commitment": 500_000, "coupon": 0.05},
            {"name": "J", "kind": "subordinated", "commitment": 200_000},
        ],
        "uncertainty": {"enabled": True, "rho": 0.3, "maturity_delay_sd": 0.5, "referral_sd": 0.2, **uncertainty},
    })


def slow_scenario() -> Scenario:
    return parse_scenario({
        "name": "slow partnership",
        "horizon": {"years": 6.5, "period": "quarter", "start": "2024-01-01"},
        "outcomes": [
            {"name": "engaged", "baseline_rate": 0.3, "lag": 0.5, "price": 1700},
            {"name": "attainment", "baseline_rate": 0.2, "lag": 1.0, "price": 2900},
        ],
        "partners": [
            _partner("A", 800, 400, 1500, {"engaged": (0.15, 0.06), "attainment": (0.12, 0.05)}, 2.0, 0.5,
                     enrolment_end=4.5, dropout=0.1),
            _partner("B", 600, 300, 1200, {"engaged": (0.12, 0.06), "attainment": (0.1, 0.05)}, 2.0, 0.5,
                     enrolment_end=4.5, dropout=0.1),
        ],
        "commissioners": [{"name": "C", "shares": {"engaged": 1, "attainment": 1}, "payment_lag": 0.25}],
        "tranches": [
            {"name": "Senior", "kind": "senior", "commitment": 3_800_000, "coupon": 0.04},
            {"name": "Junior", "kind": "subordinated", "commitment": 1_000_000},
        ],
        "uncertainty": {"enabled": True, "rho": 0.3, "maturity_delay_sd": 0.75, "referral_sd": 0.1},
    })


def one_effect_scenario(mean: float = 0.1, sd: float = 0.08) -> Scenario:
    return parse_scenario({
        "name": "one effect",
        "horizon": {"years": 3, "period": "quarter"},
        "outcomes": [{"name": "job", "baseline_rate": 0.25, "lag": 0.5, "price": 1000}],
        "partners": [{
            "name": "P", "referrals": 200, "capacity": 100, "service_length": 0.5, "cost": 500,
            "effect": {"job": {"mean": mean, "sd": sd}}, "maturity": {"kind": "immediate"},
        }],
        "commissioners": [{"name": "C", "shares": {"job": 1.0}}],
        "tranches": [{"name": "S", "kind": "senior", "commitment": 1_000_000}],
        "uncertainty": {"enabled": True, "rho": 0.0},
    })

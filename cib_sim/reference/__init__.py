"""The reference model: a participant-level simpy simulation that plugs into the engine's
payments and waterfall, to cross-check the fast engine's aggregate counts."""

from cib_sim.reference.des import (
    DesOptions,
    cross_check,
    journeys,
    paired_check,
    simulate_des,
)

__all__ = ["DesOptions", "cross_check", "journeys", "paired_check", "simulate_des"]

"""The engine: a contract run on a set of paths, random draws first, then pure arithmetic.

The stages, one module each, in pipeline order:

- :mod:`~cib_sim.engine.sample`: everything random for a block of paths (:class:`Draws`);
- :mod:`~cib_sim.engine.delivery`: referrals, enrolments, dropouts, exits, outcomes achieved;
- :mod:`~cib_sim.engine.payments`: the rate card and each commissioner's ledger (caps, lags);
- :mod:`~cib_sim.engine.waterfall`: capital calls, distributions by seniority, guarantees;
- :mod:`~cib_sim.engine.flows`: the registry of money flows the loop records;
- :mod:`~cib_sim.engine.loop`: the period loop that ties the stages together;
- :mod:`~cib_sim.engine.reduce`: a chunk's flows folded into per-path measures as it runs;
- :mod:`~cib_sim.engine.metrics`: IRR, multiples and losses on arrays.
"""

from cib_sim.engine.loop import CountMode, run_chunk, run_paths
from cib_sim.engine.sample import Draws, sample, sample_block

__all__ = ["CountMode", "Draws", "run_chunk", "run_paths", "sample", "sample_block"]

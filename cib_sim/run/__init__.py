"""Running the engine: the run planner (blocks, chunks, seeds), executors and ``simulate``."""

from cib_sim.run.plan import BLOCK, DEFAULT_CHUNK, RunPlan, block_seeds, root_sequence
from cib_sim.run.simulation import simulate

__all__ = ["BLOCK", "DEFAULT_CHUNK", "RunPlan", "block_seeds", "root_sequence", "simulate"]

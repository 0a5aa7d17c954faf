"""Results of a run: per-path measures (in memory or on disk), period means and kept paths."""

from cib_sim.results.results import Results

__all__ = ["Results"]

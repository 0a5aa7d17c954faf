"""The ``cib-sim`` command line: one module per group of commands."""

from cib_sim.cli.main import main

__all__ = ["main"]

"""Reports of a run for people who read them outside Python: the Excel workbook.

Used by the app (its workbook download) and the CLI (``cib-sim run --out results.xlsx``); a
sibling of ``charts`` in the layers, so both can use it.
"""

from cib_sim.report.workbook import build_workbook, cashflow_table

__all__ = ["build_workbook", "cashflow_table"]

"""``notebooks/bond_life.ipynb`` runs from top to bottom (few paths and draws, a report every
fourth quarter), so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "bond_life.ipynb"


def test_bond_life_notebook_runs(monkeypatch):
    # The kernel inherits this process's environment.
    monkeypatch.setenv("CIB_SIM_NB_PATHS", "300")
    monkeypatch.setenv("CIB_SIM_NB_DRAWS", "1000")
    monkeypatch.setenv("CIB_SIM_NB_STEP", "4")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells for out in cell.get("outputs", [])
    )
    assert "true outcome payments over the contract" in text
    assert "effective sample size" in text
    assert "final nowcast median" in text
    charts = sum(
        any(k.startswith("application/vnd.vegalite") for k in out.get("data", {})) or "vegaEmbed" in str(out.get("data", {}).get("text/html", ""))
        for cell in nb.cells for out in cell.get("outputs", [])
    )
    assert charts == 3

"""``notebooks/calibration.ipynb`` runs from top to bottom (few paths; the cross-validation is
read from the shipped ``reference_class.json``), so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "calibration.ipynb"


def test_calibration_notebook_runs(monkeypatch):
    monkeypatch.setenv("CIB_SIM_NB_PATHS", "200")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells for out in cell.get("outputs", [])
    )
    assert "28 projects with an actual payment series" in text
    assert "coverage 50%" in text and "CRPS skill vs baseline" in text
    assert "WLZ paid 93.2% of its maximum by month 53" in text

"""The notebooks run from top to bottom (with few paths), so they cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: int) -> nbformat.NotebookNode:
    # The kernel inherits this process's environment: few paths, outputs in a temporary folder.
    monkeypatch.setenv("CIB_SIM_NB_PATHS", str(paths))
    monkeypatch.setenv("CIB_SIM_NB_OUT", str(tmp_path))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
    return nb


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.extend(str(v) for k, v in out.get("data", {}).items() if k == "text/plain")
    return "\n".join(parts)


def charts_in(nb: nbformat.NotebookNode) -> int:
    """Altair charts rendered (as a Vega-Lite mimebundle or as HTML that embeds one)."""
    n = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            n += any(k.startswith("application/vnd.vegalite") for k in data) or "vegaEmbed" in str(data.get("text/html", ""))
    return n


def test_analyst_tour_runs_and_saves(tmp_path, monkeypatch):
    nb = execute("01_analyst_tour.ipynb", tmp_path, monkeypatch, paths=400)
    out = text_of(nb)
    assert "identical to the single-process run: True" in out
    assert "rejected: partners[1].effect.engagement.mean" in out
    saved = {p.name for p in tmp_path.iterdir()}
    assert {"west_london_zone.yaml", "west_london_zone_paths.parquet", "west_london_zone_summary.csv", "west_london_zone_waterfall.html"} <= saved
    assert charts_in(nb) >= 4


def test_funder_stress_test_runs(tmp_path, monkeypatch):
    nb = execute("02_funder_stress_test.ipynb", tmp_path, monkeypatch, paths=400)
    out = text_of(nb)
    for expected in ("maturity delayed 1 year", "late and weak", "price_multiplier = ", "no_solution", "no solution: irr_p50[Foundation first loss]"):
        assert expected in out, expected
    assert charts_in(nb) == 2  # the stress chart and the tornado


def test_notebooks_are_stored_without_outputs():
    for name in ("01_analyst_tour.ipynb", "02_funder_stress_test.ipynb"):
        path = NOTEBOOKS / name
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), path.name

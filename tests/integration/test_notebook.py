"""``notebooks/error_analysis.ipynb``: stored without outputs, and runs top to bottom."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from digitseg.eval import evaluate
from digitseg.utils.compose import REPO_ROOT, compose_eval
from tests.helpers.config import requires_mnist

NOTEBOOK = REPO_ROOT / "notebooks" / "error_analysis.ipynb"


def test_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "DIGITSEG_CHECKPOINT" in code[0].source  # the parameters come first


def test_notebook_runs_on_a_tiny_model(tiny_model, tmp_path: Path, monkeypatch):
    requires_mnist()
    report = tmp_path / "report"
    overrides = [f"checkpoint={tiny_model}", "count=4", "extras.print_config=false"]
    evaluate(compose_eval(overrides, output_dir=report))
    for name, value in {
        "DIGITSEG_REPORT": str(report),  # made with tiny_model, which the notebook reads
        "DIGITSEG_PRESET": "numbers",
        "DIGITSEG_INDEX": "3",
        "OMP_NUM_THREADS": "1",  # the kernel's torch: tiny nets, shared cores
    }.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on failure
    printed = "".join(
        output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )
    assert f"report {report}" in printed
    assert "numbers/test/3" in printed
    pictures = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(pictures) >= 6

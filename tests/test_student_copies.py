"""Student copies: solution cells gone, outputs cleared, the rest unchanged, and each runs top to bottom.

Running a copy costs about as much as its notebook minus the solution cells (the expensive
exercise runs), so this file takes a few minutes: ``-m "not slow"`` skips the runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from warmup_lib import series
from warmup_lib.exercises.checking import HEADLINES

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = [lesson.notebook for lesson in series.lessons()]


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("students")
    subprocess.run([sys.executable, str(ROOT / "tools" / "student_copies.py"), str(out)], check=True, capture_output=True)
    return out


def test_a_copy_for_every_notebook(copies):
    assert sorted(p.stem for p in copies.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_only_solution_cells_removed_and_outputs_cleared(copies, name):
    original = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    copy = nbformat.read(copies / f"{name}.ipynb", as_version=4)
    kept = [cell for cell in original.cells if "solution" not in _tags(cell)]
    assert [(c.cell_type, c.source, _tags(c)) for c in copy.cells] == [(c.cell_type, c.source, _tags(c)) for c in kept]
    for cell in copy.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert not any("solution" in _tags(c) for c in copy.cells)
    assert copy.metadata.get("kernelspec") == original.metadata.get("kernelspec")


def test_refuses_to_overwrite_the_notebooks():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "student_copies.py"), str(ROOT / "notebooks")], capture_output=True, text=True
    )
    assert result.returncode != 0 and "must not be the notebooks' own folder" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_copy_runs_top_to_bottom_with_unfilled_stubs(copies, name):
    from nbclient import NotebookClient

    path = copies / f"{name}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    # One fresh kernel per notebook, started in notebooks/ as a learner's would be.
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}},
        store_widget_state=False,
    ).execute()
    for cell in notebook.cells:
        if "exercise" in _tags(cell):
            text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert text.startswith(HEADLINES["unfilled"]), f"{name}: a starter cell printed {text!r}"

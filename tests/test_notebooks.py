"""Notebook hygiene: stored executed and clean, the series template, solutions nobody depends on.

nbval (run by pytest over notebooks/) executes every notebook; these tests check what a learner
sees in the stored file and what the template promises.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_NAMES = [
    "00_start_here",
    "01_warmup_intuition",
    "02_lr_curves",
    "03_loss_comparison",
    "04_metric_interpretation",
    "05_imbalanced_fraud",
]
LESSONS = NOTEBOOK_NAMES[1:]
PRESENT = [name for name in NOTEBOOK_NAMES if (ROOT / "notebooks" / f"{name}.ipynb").exists()]


def load(name: str) -> dict:
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def markdown(nb: dict) -> str:
    return "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.mark.parametrize("name", PRESENT)
def test_stored_executed_top_to_bottom_without_errors_or_widget_state(name):
    nb = load(name)
    counts = [c.get("execution_count") for c in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"{name}: re-run with tools/execute_notebooks.py"
    for cell in code_cells(nb):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{name}: a stored error output"
            assert output.get("name") != "stderr" or "Traceback" not in "".join(output.get("text", ""))
    assert "widgets" not in nb.get("metadata", {}), f"{name}: widget state stored"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", PRESENT)
def test_imports_only_the_installed_package(name):
    for cell in code_cells(load(name)):
        text = source(cell)
        assert "sys.path" not in text, f"{name}: no sys.path edits; import the installed warmup_lib"


@pytest.mark.parametrize("name", [n for n in LESSONS if n in PRESENT])
def test_lesson_template(name):
    nb = load(name)
    text = markdown(nb)
    assert re.match(r"# \d\d — ", source(nb["cells"][0])), f"{name}: first cell is '# NN — Title'"
    for heading in ("## Learning objectives", "## Exercises", "## Check your understanding", "## Summary", "## References"):
        assert heading in text, f"{name}: missing '{heading}'"
    assert "Prerequisites" in text
    assert text.count("<details>") >= 3, f"{name}: quiz answers belong in <details> blocks"
    assert re.search(r"arXiv[: ]\s*\d{4}\.\d{4,5}", text), f"{name}: references need arXiv ids"
    solutions = [c for c in nb["cells"] if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions, f"{name}: exercises need solution cells tagged 'solution'"
    for index, cell in enumerate(nb["cells"]):
        if "solution" in cell.get("metadata", {}).get("tags", []):
            previous = source(nb["cells"][index - 1])
            assert nb["cells"][index - 1]["cell_type"] == "markdown" and "Exercise" in previous, (
                f"{name}: a solution cell must come right after its exercise statement"
            )
    asserts = [c for c in code_cells(nb) if re.search(r"^\s*assert .+, ", source(c), flags=re.M)]
    assert asserts, f"{name}: claimed effects need self-check cells (assert <effect>, '<message>')"


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    stored, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (stored if isinstance(node.ctx, ast.Store) else loaded).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef):
            stored.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            stored |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return stored, loaded


def _parse(text: str) -> ast.AST:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


@pytest.mark.parametrize("name", [n for n in LESSONS if n in PRESENT])
def test_no_cell_depends_on_a_solution_cell(name):
    nb = load(name)
    defined_by_solutions: set[str] = set()
    defined_elsewhere: set[str] = set()
    for cell in code_cells(nb):
        stored, loaded = _names(_parse(source(cell)))
        if "solution" in cell.get("metadata", {}).get("tags", []):
            defined_by_solutions |= stored - defined_elsewhere
            continue
        leaked = (loaded & defined_by_solutions) - stored
        assert not leaked, f"{name}: a later cell uses {sorted(leaked)} defined only in a solution cell"
        defined_elsewhere |= stored

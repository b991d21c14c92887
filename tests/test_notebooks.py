"""Notebook hygiene: stored executed and clean, the series template, exercises and their checks.

nbval (run by pytest over notebooks/) executes every notebook; these tests check what a learner
sees in the stored file and what the template promises.

The exercise convention (docs/instructor.md, "For notebook authors"): a markdown cell with
``### Exercise K``, then a starter cell tagged ``exercise`` (stubs ``...  # your code here`` and
``ex["NN.K"].check(...)``), then a solution cell tagged ``solution`` whose code is exactly
``ex["NN.K"].solution_text`` and runs the same check. No later cell uses a name defined only in a
starter or solution cell, and a solution uses no name defined only in a starter. Cells that only
check (asserts, prints) are tagged ``self-check``; the first code cell is the install cell.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from warmup_lib import series
from warmup_lib.exercises import ex
from warmup_lib.exercises.checking import HEADLINES

ROOT = Path(__file__).resolve().parent.parent
# The series' own list (warmup_lib/series.csv) names the notebooks, in order.
NOTEBOOK_NAMES = [lesson.notebook for lesson in series.lessons()]
LESSONS = NOTEBOOK_NAMES[1:]
PRESENT = [name for name in NOTEBOOK_NAMES if (ROOT / "notebooks" / f"{name}.ipynb").exists()]
CHECK_CALL = re.compile(r'\bex\["([0-9A-Z][0-9]\.\d+)"\]\.check\(')


def load(name: str) -> dict:
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def markdown(nb: dict) -> str:
    return "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def printed(cell: dict) -> str:
    return "".join(
        "".join(o.get("text", "")) if o["output_type"] == "stream" else "".join(o.get("data", {}).get("text/plain", ""))
        for o in cell.get("outputs", [])
    )


def test_the_series_list_names_exactly_the_notebooks_on_disk():
    on_disk = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert on_disk == NOTEBOOK_NAMES, "add a row to warmup_lib/series.csv for every notebook (and only those)"


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
    solutions = [c for c in nb["cells"] if "solution" in tags(c)]
    assert solutions, f"{name}: exercises need solution cells tagged 'solution'"
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


@pytest.mark.parametrize("name", PRESENT)
def test_no_cell_depends_on_a_starter_or_solution_cell(name):
    nb = load(name)
    defined_by_starters: set[str] = set()
    defined_by_solutions: set[str] = set()
    defined_elsewhere: set[str] = set()
    for cell in code_cells(nb):
        stored, loaded = _names(_parse(source(cell)))
        if "exercise" in tags(cell):
            defined_by_starters |= stored - defined_elsewhere
            continue
        if "solution" in tags(cell):
            leaked = (loaded & (defined_by_starters - defined_by_solutions)) - stored
            assert not leaked, f"{name}: a solution uses {sorted(leaked)} defined only in a starter cell"
            defined_by_solutions |= stored - defined_elsewhere
            continue
        leaked = (loaded & (defined_by_solutions | defined_by_starters)) - stored
        assert not leaked, f"{name}: a later cell uses {sorted(leaked)} defined only in a starter or solution cell"
        defined_elsewhere |= stored


def _exercise_id(cell: dict) -> str | None:
    found = set(CHECK_CALL.findall(source(cell)))
    assert len(found) <= 1, f"one exercise per cell, found {sorted(found)}"
    return found.pop() if found else None


@pytest.mark.parametrize("name", PRESENT)
def test_exercises_follow_statement_starter_solution(name):
    cells = load(name)["cells"]
    key = name[:2]
    used = []
    for index, cell in enumerate(cells):
        if "exercise" not in tags(cell):
            continue
        statement, solution = cells[index - 1], cells[index + 1] if index + 1 < len(cells) else {}
        heading = re.findall(r"### Exercise (\d+)", source(statement))
        assert statement["cell_type"] == "markdown" and heading, (
            f"{name}: a starter cell must come right after its '### Exercise K' statement"
        )
        exercise_id = _exercise_id(cell)
        assert exercise_id == f"{key}.{heading[-1]}", (
            f"{name}: Exercise {heading[-1]}'s starter must call ex[\"{key}.{heading[-1]}\"].check(...), found {exercise_id}"
        )
        text = source(cell)
        assert re.search(r"=\s*\.\.\.", text) and "# your code here" in text, (
            f"{name} {exercise_id}: a starter holds stubs like `answer = ...  # your code here`"
        )
        assert "solution" in tags(solution), f"{name} {exercise_id}: the solution cell (tag 'solution') follows the starter"
        assert _exercise_id(solution) == exercise_id, f"{name} {exercise_id}: the solution runs the same check"
        assert source(solution).strip() == ex[exercise_id].solution_text.strip(), (
            f"{name} {exercise_id}: the solution cell must be exactly ex[\"{exercise_id}\"].solution_text "
            f"(warmup_lib/exercises/nb{key.lower()}.py), which .solution() prints"
        )
        assert printed(cell).startswith(HEADLINES["unfilled"]), f"{name} {exercise_id}: stored starter output"
        assert HEADLINES["correct"] in printed(solution), (
            f"{name} {exercise_id}: the stored solution output must say the check passed; got {printed(solution)!r}"
        )
        used.append(exercise_id)
    for index, cell in enumerate(cells):
        if "solution" in tags(cell):
            assert "exercise" in tags(cells[index - 1]), f"{name}: every solution cell follows its starter cell"
        if cell["cell_type"] == "markdown" and re.search(r"^### Exercise \d+", source(cell), flags=re.M):
            nxt = cells[index + 1] if index + 1 < len(cells) else {}
            assert "exercise" in tags(nxt), f"{name}: '{source(cell).splitlines()[0]}' needs a starter cell after it"
    registered = [item.id for item in ex.for_notebook(key)]
    assert sorted(used) == sorted(set(used)), f"{name}: an exercise appears twice"
    assert sorted(used) == sorted(registered), (
        f"{name}: exercises in the notebook {sorted(used)} and registered in "
        f"warmup_lib/exercises/nb{key.lower()}.py {sorted(registered)} must be the same"
    )


def test_every_registered_exercise_belongs_to_a_notebook():
    keys = {name[:2] for name in PRESENT}
    orphans = sorted(item.id for item in ex.values() if item.notebook not in keys)
    assert not orphans, f"registered exercises without a notebook: {orphans}"


def _only_checks(tree: ast.AST) -> bool:
    def checking(statement: ast.stmt) -> bool:
        if isinstance(statement, ast.Assert):
            return True
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            return getattr(statement.value.func, "id", "") == "print"
        if isinstance(statement, ast.For | ast.If):
            return all(checking(s) for s in statement.body + statement.orelse)
        return False

    body = tree.body
    return bool(body) and all(checking(s) for s in body) and any(isinstance(n, ast.Assert) for n in ast.walk(tree))


@pytest.mark.parametrize("name", PRESENT)
def test_self_check_cells_are_tagged(name):
    for index, cell in enumerate(code_cells(load(name))):
        tree = _parse(source(cell))
        if "self-check" in tags(cell):
            assert any(isinstance(n, ast.Assert) for n in ast.walk(tree)), (
                f"{name}: code cell {index} is tagged self-check but asserts nothing"
            )
        elif "solution" not in tags(cell):
            assert not _only_checks(tree), (
                f"{name}: code cell {index} only checks (asserts, prints): tag it 'self-check' so the site hides its code"
            )
